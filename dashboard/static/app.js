// app.js: the sintgate operator dashboard (plain ES module, no build step).
//
// Every call goes to this gateway's own /v1 API with the operator API key in
// the Authorization header (or the bearer.<key> WebSocket subprotocol). The
// key lives in sessionStorage only. Untrusted strings are rendered with
// textContent, never innerHTML.

import { AuthedEventStream } from "./sse.js";
import { RateCounter, drawChart, SERIES } from "./chart.js";
import { verifyProof } from "./verify.js";

const KEY = "sint.apiKey";
const $ = (id) => document.getElementById(id);

// h builds a DOM element: h("div", {class: "x", onclick: f}, "text", child…).
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "style") el.style.cssText = v; // CSSOM: allowed by the CSP, unlike a style attribute
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const short = (s, n = 10) => (s && s.length > n + 2 ? s.slice(0, n) + "…" : s || "");
const fmtTime = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "–");
const fmtDate = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z") : "–");

function toast(msg, cls = "") {
  const d = h("div", { class: cls }, msg);
  $("toast").append(d);
  setTimeout(() => d.remove(), 3500);
}

// ---------------------------------------------------------------- API ---

const app = {
  key: sessionStorage.getItem(KEY) || "",
  stream: null,
  risk: null,
  approvals: new Map(), // approvalId → record (pending)
  resolved: [],
  feed: [], // newest first
  rates: new RateCounter(60),
  estop: null,
  timers: [],
  ledgerPage: { after: 0, next: null, prevStack: [] },
  seenRequests: new Set(), // requestIds already in the feed
  streamSeen: new Set(), // "<event>:<approvalId>" received over the stream (tests read it)
  missing: new Set(), // endpoints that answered 404 (issue 11 not yet deployed)
};

class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || "HTTP " + status);
    this.status = status; this.code = e.code || ""; this.body = body;
  }
}

async function api(method, path, body) {
  const opt = { method, headers: { Authorization: "Bearer " + app.key }, cache: "no-store" };
  if (body !== undefined) {
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body);
  }
  const res = await fetch(path, opt);
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (res.status === 401 && path !== "/v1/estop") { signOut("the API key was refused"); }
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

// optional calls an endpoint that may not exist yet (404 → null).
async function optional(path) {
  try {
    const v = await api("GET", path);
    app.missing.delete(path);
    return v;
  } catch (e) {
    if (e.status === 404 || e.status === 405 || e.status === 501) { app.missing.add(path); return null; }
    throw e;
  }
}

// ------------------------------------------------------------- dialog ---

// ask opens the modal; resolves with the reason text (or "" when no reason
// field) on OK, null on cancel. onOK may throw to keep the dialog open.
function ask({ title, body, reason = true, reasonRequired = false, okText = "OK", danger = false, onOK }) {
  return new Promise((resolve) => {
    const dlg = $("dlg");
    $("dlg-title").textContent = title;
    $("dlg-body").replaceChildren(body || "");
    $("dlg-reason-label").hidden = !reason;
    $("dlg-reason").value = "";
    $("dlg-reason").required = reasonRequired;
    $("dlg-error").textContent = "";
    $("dlg-ok").textContent = okText;
    $("dlg-ok").className = danger ? "deny" : "";
    const done = async (ev) => {
      const v = ev.submitter ? ev.submitter.value : "cancel";
      if (v !== "ok") { cleanup(); dlg.close(); resolve(null); return; }
      ev.preventDefault();
      const r = $("dlg-reason").value.trim();
      if (reasonRequired && !r) { $("dlg-error").textContent = "a reason is required"; return; }
      try {
        if (onOK) await onOK(r);
        cleanup(); dlg.close(); resolve(r);
      } catch (e) {
        $("dlg-error").textContent = errText(e);
      }
    };
    const cleanup = () => $("dlg-form").removeEventListener("submit", done);
    $("dlg-form").addEventListener("submit", done);
    dlg.showModal();
  });
}

function errText(e) {
  if (e instanceof APIError) {
    let t = (e.code ? e.code + ": " : "") + e.message;
    const srcs = e.body && e.body.error && e.body.error.sources;
    if (srcs && srcs.length) t += " — blocking: " + srcs.join(", ");
    return t;
  }
  return String(e && e.message || e);
}

// ------------------------------------------------------------ sign-in ---

async function signIn(key) {
  app.key = key;
  try {
    await api("GET", "/v1/estop");
  } catch (e) {
    app.key = "";
    throw e;
  }
  sessionStorage.setItem(KEY, key);
  start();
}

function signOut(why) {
  sessionStorage.removeItem(KEY);
  app.key = "";
  if (app.stream) app.stream.stop();
  if (app.risk) app.risk.close();
  app.timers.forEach(clearInterval);
  app.timers = [];
  showSignIn(why);
}

function showSignIn(why) {
  document.querySelectorAll(".view").forEach((v) => (v.hidden = true));
  $("signin").hidden = false;
  $("signout").hidden = true;
  $("signin-error").textContent = why || "";
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const k = $("apikey").value.trim();
  $("apikey").value = "";
  try { await signIn(k); } catch (e) { $("signin-error").textContent = "sign-in failed: " + errText(e); }
});
$("signout").addEventListener("click", () => signOut(""));

// ------------------------------------------------------------- router ---

const views = ["approvals", "live", "agents", "tokens", "ledger", "stats"];
const loaders = {};

function route() {
  if (!app.key) return showSignIn("");
  const name = views.includes(location.hash.slice(1)) ? location.hash.slice(1) : "approvals";
  $("signin").hidden = true;
  for (const v of views) $("view-" + v).hidden = v !== name;
  document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.view === name));
  if (loaders[name]) loaders[name]().catch((e) => toast(name + ": " + errText(e), "bad"));
}
window.addEventListener("hashchange", route);

// -------------------------------------------------------------- start ---

function start() {
  $("signout").hidden = false;
  route();
  refreshEstop();
  loadApprovals().catch((e) => toast("approvals: " + errText(e), "bad"));
  app.stream = new AuthedEventStream("/v1/approvals/stream", app.key, {
    onEvent: onStreamEvent,
    onState: (s, d) => { const el = $("stream-state"); el.className = "dot " + s; el.title = "approval stream: " + s + (d ? " (" + d + ")" : ""); el.dataset.state = s; },
  }).start();
  window.__sint = app; // for the browser tests (drop the stream, read state)
  startDecisionFeed();
  app.timers.push(setInterval(refreshEstop, 2000));
  app.timers.push(setInterval(tickCountdowns, 250));
  app.timers.push(setInterval(() => loadApprovals().catch(() => {}), 5000));
  app.timers.push(setInterval(renderChart, 1000));
  // Views with server-side aggregates refresh while shown.
  app.timers.push(setInterval(() => {
    if (!$("view-stats").hidden) loaders.stats().catch(() => {});
    if (!$("view-live").hidden) optional("/v1/risk/snapshot").then(renderRisk).catch(() => {});
  }, 3000));
}

// ------------------------------------------------------------- e-stop ---

async function refreshEstop() {
  if (!app.key) return;
  try { renderEstop(await api("GET", "/v1/estop")); } catch { /* shown as stale */ }
}

function renderEstop(st) {
  app.estop = st;
  const tripped = st.state === "tripped";
  $("estop").className = "estop " + (tripped ? "tripped" : "armed");
  $("estop-state").textContent = tripped ? "TRIPPED" : "ARMED";
  $("estop-epoch").textContent = st.epoch;
  $("estop-reset").hidden = !tripped;
  const srcs = (st.sources || []).map((s) =>
    h("div", { class: s.state === "tripped" ? "bad" : "muted", "data-testid": "estop-source" },
      `${s.kind}:${s.id} ${s.state}${s.state === "tripped" ? " (blocks reset)" : ""} since ${fmtTime(s.since)}`));
  const reason = tripped && st.reason ? h("div", { class: "muted" }, "reason: " + st.reason) : null;
  $("estop-sources").replaceChildren(...srcs, reason || "");
}

$("estop-trip").addEventListener("click", async () => {
  try {
    renderEstop(await api("POST", "/v1/estop/trip", { reason: "dashboard: e-stop button" }));
    toast("E-STOP TRIPPED", "bad");
  } catch (e) {
    toast("E-STOP FAILED: " + errText(e), "bad");
  }
});

$("estop-reset").addEventListener("click", async () => {
  const st = app.estop || { sources: [] };
  const blockers = (st.sources || []).filter((s) => s.state === "tripped");
  const body = h("div", {},
    h("p", {}, "Re-arm the breaker? Agents will be able to act again."),
    blockers.length ? h("p", { class: "bad" }, "Sources still holding it tripped (reset will be refused): " + blockers.map((s) => s.kind + ":" + s.id).join(", ")) : h("p", { class: "muted" }, "No latched source blocks the reset."));
  await ask({ title: "Reset the e-stop", body, reasonRequired: true, okText: "Reset", danger: true,
    onOK: async (reason) => renderEstop(await api("POST", "/v1/estop/reset", { reason })) });
});

// ---------------------------------------------------------- approvals ---

async function loadApprovals() {
  const r = await api("GET", "/v1/approvals?state=pending&limit=1000");
  const seen = new Set();
  for (const a of r.approvals || []) { seen.add(a.approvalId); app.approvals.set(a.approvalId, a); }
  for (const id of [...app.approvals.keys()]) if (!seen.has(id)) app.approvals.delete(id);
  renderApprovals();
  const s = await api("GET", "/v1/standing-approvals").catch(() => ({ standing: [] }));
  renderStanding(s.standing || []);
}

async function onStreamEvent(ev) {
  let d = {};
  try { d = JSON.parse(ev.data); } catch { return; }
  app.streamSeen.add(ev.event + ":" + (d.approvalId || ev.id));
  if (ev.event === "approval.requested") {
    try {
      const a = await api("GET", "/v1/approvals/" + encodeURIComponent(d.approvalId));
      if (a.state === "pending") app.approvals.set(a.approvalId, a);
    } catch { /* resolved meanwhile */ }
    renderApprovals();
  } else if (ev.event === "approval.resolved") {
    app.approvals.delete(d.approvalId);
    noteResolved({ id: d.approvalId, state: d.state, code: d.code, reason: d.reason });
    renderApprovals();
  } else if (ev.event === "estop.tripped" || ev.event === "estop.reset") {
    refreshEstop();
    if (ev.event === "estop.tripped") { for (const id of app.approvals.keys()) app.approvals.delete(id); renderApprovals(); }
  }
}

function renderApprovals() {
  const list = [...app.approvals.values()].sort((a, b) => a.expiresAt - b.expiresAt);
  $("pending-count").textContent = list.length;
  $("approval-empty").hidden = list.length > 0;
  const existing = new Map([...$("approval-list").children].map((el) => [el.dataset.id, el]));
  const nodes = list.map((a) => {
    const old = existing.get(a.approvalId);
    if (old && old.dataset.votes === String(a.votes.length)) return old; // keep typed reasons
    return approvalCard(a);
  });
  $("approval-list").replaceChildren(...nodes);
  $("resolved-list").replaceChildren(...app.resolved.map((r) =>
    h("li", {}, h("span", { class: r.state === "approved" ? "ok" : "bad" }, r.state), " ", h("span", { class: "mono" }, r.id), r.code ? " " + r.code : "", r.reason ? " — " + r.reason : "")));
}

// noteResolved records a resolution once per approval (the vote's answer
// and the stream's approval.resolved both report it; the stream's wins).
function noteResolved(r) {
  const i = app.resolved.findIndex((x) => x.id === r.id);
  if (i >= 0) { if (r.code) app.resolved[i] = r; return; }
  app.resolved.unshift(r);
  app.resolved.length = Math.min(app.resolved.length, 20);
}

function approvalCard(a) {
  const approves = a.votes.filter((v) => v.vote === "approve").length;
  const pct = Math.min(100, (100 * approves) / Math.max(1, a.requiredApprovals));
  const reason = h("textarea", { rows: 2, placeholder: a.tier >= 4 ? "reason (required at tier ≥ 4)" : "reason", "data-testid": "vote-reason" });
  const standing = h("input", { type: "number", min: 0, max: 60, value: 0, title: "standing approval window in minutes (≤ 60)", "data-testid": "standing-minutes" });
  const err = h("div", { class: "error small" });
  const vote = async (kind) => {
    const body = { reason: reason.value.trim() };
    const mins = Number(standing.value || 0);
    if (kind === "approve" && mins > 0) body.standingForMs = Math.round(mins * 60000);
    try {
      const r = await api("POST", `/v1/approvals/${encodeURIComponent(a.approvalId)}/${kind}`, body);
      if (r.state === "pending") app.approvals.set(r.approvalId, r); else app.approvals.delete(r.approvalId);
      if (r.state !== "pending") noteResolved({ id: r.approvalId, state: r.state, reason: body.reason });
      toast(`${kind}: ${r.state}`, r.state === "approved" ? "ok" : "");
      renderApprovals();
      if (body.standingForMs) loadApprovals().catch(() => {});
    } catch (e) { err.textContent = errText(e); }
  };
  return h("div", { class: "card approval t" + a.tier, "data-id": a.approvalId, "data-votes": String(a.votes.length), "data-testid": "approval" },
    h("div", { class: "meta" },
      h("span", { class: "muted" }, "tier"), h("b", { "data-testid": "approval-tier" }, `${a.tier} (${["", "observe", "prepare", "act", "commit", "critical"][a.tier] || "?"})`),
      h("span", { class: "muted" }, "agent"), h("span", { class: "mono", title: a.agentId }, short(a.agentId, 16)),
      h("span", { class: "muted" }, "resource"), h("span", { class: "mono", "data-testid": "approval-resource" }, a.resource),
      h("span", { class: "muted" }, "action"), h("span", { class: "mono" }, a.action),
      h("span", { class: "muted" }, "token"), h("span", { class: "mono" }, a.tokenId),
      h("span", { class: "muted" }, "params"), h("pre", { class: "mono" }, JSON.stringify(a.params, null, 2)),
      h("span", { class: "muted" }, "votes"), h("div", {}, a.votes.length ? a.votes.map((v) => h("div", { class: "small" }, `${v.operatorId}: ${v.vote}${v.reason ? " — " + v.reason : ""}`)) : h("span", { class: "muted small" }, "none yet"))),
    h("div", { class: "actions" },
      h("div", { class: "countdown", "data-expires": a.expiresAt, "data-testid": "countdown" }, countdownText(a.expiresAt, Date.now())),
      h("div", { class: "small" }, h("span", { "data-testid": "quorum" }, `${approves} / ${a.requiredApprovals} approvals`)),
      h("div", { class: "progress" }, h("i", { style: `width:${pct}%` })),
      reason,
      h("label", { class: "small muted" }, "standing for (min) ", standing),
      h("button", { onclick: () => vote("approve"), "data-testid": "approve" }, "Approve"),
      h("button", { class: "deny", onclick: () => vote("deny"), "data-testid": "deny" }, "Deny"),
      err));
}

function countdownText(expiresAt, now) {
  const left = Math.max(0, Number(expiresAt) - now);
  const s = Math.ceil(left / 1000);
  return left === 0 ? "expired" : `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function tickCountdowns() {
  const now = Date.now();
  document.querySelectorAll(".countdown[data-expires]").forEach((el) => {
    el.textContent = countdownText(el.dataset.expires, now);
    el.classList.toggle("bad", Number(el.dataset.expires) - now < 15000);
  });
}

function renderStanding(list) {
  const now = Date.now();
  const rows = list.filter((s) => !s.revokedAt && s.until > now).map((s) =>
    h("tr", {},
      h("td", { class: "mono", title: s.agentId }, short(s.agentId)), h("td", { class: "mono" }, s.resource), h("td", {}, s.action),
      h("td", {}, fmtTime(s.until)), h("td", {}, (s.operators || []).join(", ")),
      h("td", {}, h("button", { class: "small-btn", onclick: async () => {
        try { await api("DELETE", "/v1/standing-approvals/" + encodeURIComponent(s.approvalId)); toast("standing approval revoked"); loadApprovals(); } catch (e) { toast(errText(e), "bad"); }
      } }, "Revoke"))));
  $("standing-body").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, "none"))]));
}

loaders.approvals = loadApprovals;

// ------------------------------------------------------ decision feed ---

// normalizeDecision accepts a risk-stream message or a policy.evaluated
// ledger entry and returns {ts, decision, tier, code, agentId, resource, action, risk}.
function normalizeDecision(m) {
  const d = m.type === "decision" && m.event ? m.event : m.payload && typeof m.payload === "object" ? m.payload : m;
  const tsRaw = d.at ?? d.timestamp ?? m.timestamp;
  const ts = typeof tsRaw === "number" ? tsRaw : tsRaw ? Date.parse(tsRaw) : Date.now();
  const risk = d.risk ?? d.riskScore ?? d.score ?? m.risk ?? m.riskScore ?? null;
  return {
    ts, requestId: d.requestId || "", decision: d.decision, tier: d.tier, code: d.code || "", agentId: d.agentId || m.agentId || "",
    resource: d.resource || "", action: d.action || "", risk: typeof risk === "object" && risk ? risk.score ?? null : risk,
  };
}

function pushDecision(x) {
  if (!x.decision) return;
  if (x.requestId) {
    if (app.seenRequests.has(x.requestId)) return; // backfill and stream may overlap
    app.seenRequests.add(x.requestId);
    if (app.seenRequests.size > 5000) app.seenRequests = new Set([...app.seenRequests].slice(-2500));
  }
  app.rates.add(x.decision, x.ts);
  app.feed.unshift(x);
  if (app.feed.length > 500) app.feed.length = 500;
  if (!$("view-live").hidden) renderFeedSoon();
}

let feedQueued = false;
function renderFeedSoon() {
  if (feedQueued) return;
  feedQueued = true;
  requestAnimationFrame(() => { feedQueued = false; renderFeed(); });
}

function renderFeed() {
  const fd = $("f-decision").value, fa = $("f-agent").value.trim(), fr = $("f-resource").value.trim(), fk = Number($("f-risk").value || 0);
  const rows = app.feed.filter((x) => (!fd || x.decision === fd) && (!fa || x.agentId.startsWith(fa)) && (!fr || x.resource.includes(fr)) && (!fk || (x.risk ?? 0) >= fk))
    .slice(0, 200).map((x) => h("tr", { "data-testid": "feed-row" },
      h("td", {}, fmtTime(x.ts)), h("td", { class: "d-" + x.decision }, x.decision), h("td", {}, x.tier ?? ""), h("td", {}, x.code),
      h("td", { class: "mono", title: x.agentId }, short(x.agentId)), h("td", { class: "mono" }, x.resource), h("td", {}, x.action),
      h("td", {}, x.risk === null || x.risk === undefined ? "–" : Number(x.risk).toFixed(2))));
  $("feed-body").replaceChildren(...rows);
}
["f-decision", "f-agent", "f-resource", "f-risk"].forEach((id) => $(id).addEventListener("input", renderFeed));

function renderChart() {
  if ($("view-live").hidden) return;
  drawChart($("rate-chart"), app.rates.series(Date.now()));
}
$("chart-legend").replaceChildren(...SERIES.map((s) => h("span", {}, h("i", { style: "background:" + s.color }), s.key)));

// startDecisionFeed prefers the risk WebSocket (PROTOCOL.md §10); while it
// is not available (404 before issue 11 lands, or refused) it tails the
// ledger's policy.evaluated entries instead.
function startDecisionFeed() {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  let opened = false;
  let ws;
  try {
    ws = new WebSocket(`${proto}//${location.host}/v1/risk/stream`, ["sint.v1", "bearer." + app.key]);
  } catch { return tailLedger(); }
  app.risk = ws;
  ws.onopen = () => {
    opened = true;
    $("live-source").textContent = "source: risk WebSocket /v1/risk/stream (earlier decisions from the ledger, without risk)";
    backfill().catch(() => {});
  };
  ws.onmessage = (ev) => {
    let m;
    try { m = JSON.parse(ev.data); } catch { return; }
    // {"type":"decision","event":{seq, at, agentId, resource, action, decision, tier, code, risk, …}};
    // {"type":"filter",…} acknowledges a server-side filter (not used: the
    // feed filters locally so that the chart keeps every decision).
    if (m.type === "decision") pushDecision(normalizeDecision(m));
  };
  ws.onclose = () => {
    if (!app.key) return;
    if (!opened) { tailLedger(); return; }
    $("live-source").textContent = "risk WebSocket closed: reconnecting";
    setTimeout(() => app.key && startDecisionFeed(), 2000);
  };
}

// backfill puts the ledger's most recent decisions (up to 1000 entries
// back) into the feed, oldest first, so that a fresh page is not empty.
let backfilled = false;
async function backfill() {
  if (backfilled) return;
  backfilled = true;
  const st = await optional("/v1/dashboard/stats");
  const size = st && st.ledger ? st.ledger.size : 0;
  const r = await api("GET", `/v1/ledger?after=${Math.max(0, size - 1000)}&limit=1000&eventType=policy.evaluated`);
  const old = r.events.map(normalizeDecision).filter((x) => !app.seenRequests.has(x.requestId));
  const live = app.feed;
  app.feed = [];
  for (const x of old) pushDecision(x);
  app.feed = [...live, ...app.feed].sort((a, b) => b.ts - a.ts).slice(0, 500);
  if (!$("view-live").hidden) renderFeedSoon();
}

let tailing = false;
async function tailLedger() {
  if (tailing) return;
  tailing = true;
  $("live-source").textContent = "source: ledger policy.evaluated (risk stream unavailable)";
  let after = 0;
  try {
    const cp = await api("GET", "/v1/ledger/checkpoint");
    after = Math.max(0, cp.treeSize - 200);
  } catch { /* start at 0 */ }
  const poll = async () => {
    if (!app.key) { tailing = false; return; }
    try {
      for (;;) {
        const r = await api("GET", `/v1/ledger?after=${after}&limit=1000&eventType=policy.evaluated`);
        for (const e of r.events) { after = e.sequenceNumber; pushDecision(normalizeDecision(e)); }
        if (r.next === null || r.next === undefined || r.events.length === 0) break;
        after = r.next > after ? r.next : after;
      }
    } catch { /* retry */ }
    setTimeout(poll, 1000);
  };
  poll();
}

function renderRisk(snap) {
  const el = $("risk-view");
  if (!snap) {
    el.replaceChildren(h("span", { class: "muted" }, "GET /v1/risk/snapshot is not available on this gateway (404); deny rates below are computed from the feed."), riskFromFeed());
    return;
  }
  // GET /v1/risk/snapshot: {at, agents:[{agentId, risk, peak, lastAt, decisions, denies}], alerts:[{kind, event}], alertThreshold}
  const agents = Array.isArray(snap.agents) ? snap.agents : [];
  const thr = snap.alertThreshold ?? 1;
  const bar = (v) => h("span", { class: "riskbar" }, h("i", { style: `width:${Math.round(100 * Math.min(1, v || 0))}%`, class: (v || 0) >= thr ? "hot" : "" }));
  el.replaceChildren(
    h("div", { class: "small muted" }, `${agents.length} agents tracked; alert threshold ${thr}; ${(snap.alerts || []).length} recent alerts; snapshot at ${fmtTime(snap.at)}`),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, ["agent", "risk", "", "peak", "decisions", "denies", "last"].map((x) => h("th", {}, x)))),
      h("tbody", {}, agents.map((a) => h("tr", { "data-testid": "risk-row" }, h("td", { class: "mono", title: a.agentId }, short(a.agentId, 16)),
        h("td", {}, fmtRisk(a.risk)), h("td", {}, bar(a.risk)), h("td", {}, fmtRisk(a.peak)), h("td", {}, a.decisions ?? ""), h("td", {}, a.denies ?? ""),
        h("td", {}, fmtTime(a.lastAt)))))),
    (snap.alerts || []).length ? h("ul", { class: "plain small" }, snap.alerts.slice(0, 10).map((al) =>
      h("li", {}, h("b", { class: "bad" }, al.kind), " ", fmtTime(al.event && al.event.at), " ", short(al.event && al.event.agentId, 12), " ",
        al.event ? `${al.event.resource || ""} ${al.event.action || ""} ${al.event.code || ""} risk ${fmtRisk(al.event.risk)}` : ""))) : "");
}

function fmtRisk(r) { const v = typeof r === "object" && r ? r.score : r; return v === undefined || v === null ? "–" : Number(v).toFixed(2); }

function riskFromFeed() {
  const by = new Map();
  for (const x of app.feed) {
    const b = by.get(x.agentId) || { n: 0, deny: 0 };
    b.n++; if (x.decision === "deny") b.deny++;
    by.set(x.agentId, b);
  }
  return h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "agent"), h("th", {}, "decisions"), h("th", {}, "deny rate"))),
    h("tbody", {}, [...by].map(([id, b]) => h("tr", {}, h("td", { class: "mono", title: id }, short(id)), h("td", {}, b.n), h("td", {}, (b.deny / b.n).toFixed(2))))));
}

loaders.live = async () => {
  renderFeed();
  renderChart();
  renderRisk(await optional("/v1/risk/snapshot"));
};

// ------------------------------------------------------------- agents ---

loaders.agents = async () => {
  let list = null, src = "";
  const dash = await optional("/v1/dashboard/agents");
  if (dash) { list = dash.agents || dash; src = "/v1/dashboard/agents"; }
  if (!list) {
    const disc = await optional("/v1/discovery/agents");
    if (disc) { list = disc.agents || disc; src = "/v1/discovery/agents"; }
  }
  if (!list) {
    const t = await api("GET", "/v1/tokens?limit=1000");
    const ids = [...new Set((t.tokens || []).map((x) => x.subject))];
    list = ids.map((id) => ({ agentId: id }));
    src = "token subjects (the agent endpoints of /v1/dashboard and /v1/discovery answered 404)";
  }
  $("agents-source").textContent = "source: " + src;
  const rows = await Promise.all((Array.isArray(list) ? list : []).map(async (a) => {
    const id = a.agentId || a.publicKey || a.id;
    let circ = a.circuit && typeof a.circuit === "object" ? a.circuit : null;
    if (!circ) { try { circ = await api("GET", `/v1/discovery/agents/${id}/circuit`); } catch { circ = null; } }
    const open = circ && (circ.open ?? circ.state === "open");
    return h("tr", { "data-testid": "agent-row" },
      h("td", { class: "mono", title: id }, short(id, 16)), h("td", {}, a.name || ""),
      h("td", {}, fmtRisk(a.risk ?? a.riskScore ?? a.score)),
      h("td", { class: open ? "bad" : "ok" }, circ ? (open ? `open since ${fmtTime(circ.since)}${circ.cause ? " — " + circ.cause : ""}` : "closed") : "?"),
      h("td", {}, open ? h("button", { class: "small-btn", "data-testid": "close-circuit", onclick: () => ask({
        title: "Close the circuit of " + short(id, 16), body: h("p", {}, "The agent will be able to send requests again."), reasonRequired: true, okText: "Close circuit",
        onOK: async (reason) => { await api("POST", `/v1/discovery/agents/${id}/circuit/close`, { reason }); loaders.agents(); },
      }) }, "Close circuit") : ""));
  }));
  $("agents-body").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 5, class: "muted" }, "no agents"))]));
};

// ------------------------------------------------------------- tokens ---

loaders.tokens = async () => {
  const r = await api("GET", "/v1/tokens?limit=1000");
  const toks = r.tokens || [];
  const byId = new Map(toks.map((t) => [t.tokenId, t]));
  const kids = new Map();
  for (const t of toks) {
    const p = t.parentTokenId || "";
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(t);
  }
  const descendants = (id) => {
    const out = [];
    const walk = (x) => (kids.get(x) || []).forEach((c) => { out.push(c); walk(c.tokenId); });
    walk(id);
    return out;
  };
  const node = (t) => {
    const c = t.claims || {};
    const revoke = () => {
      const ds = [t, ...descendants(t.tokenId)].filter((x) => !x.revoked);
      return ask({
        title: "Revoke token " + short(t.tokenId, 13), reason: false, danger: true, okText: `Revoke ${ds.length} token${ds.length === 1 ? "" : "s"}`,
        body: h("div", {}, h("p", {}, "Revocation cascades. These tokens will be revoked:"),
          h("ul", { "data-testid": "cascade-preview" }, ds.map((x) => h("li", { class: "mono" }, `${x.tokenId} → ${short(x.subject)} ${x.claims ? x.claims.resource : ""}`)))),
        onOK: async () => { const res = await api("DELETE", "/v1/tokens/" + encodeURIComponent(t.tokenId)); toast(`revoked ${res.revoked.length}`); loaders.tokens(); },
      });
    };
    return h("li", { class: "node" },
      h("div", { class: t.revoked ? "revoked" : "", "data-testid": "token-node" },
        h("span", { class: "mono", title: t.tokenId }, short(t.tokenId, 13)), " → ",
        h("span", { class: "mono", title: t.subject }, short(t.subject)), " ",
        h("code", {}, c.resource || ""), " [", (c.actions || []).join(","), "] tier ≤ ", c.tier ?? "?",
        h("span", { class: "muted small" }, " expires " + fmtDate(c.expiresAt)), " ",
        t.revoked ? h("span", { class: "bad small" }, "revoked") : h("button", { class: "small-btn", onclick: revoke, "data-testid": "revoke" }, "Revoke…")),
      (kids.get(t.tokenId) || []).length ? h("ul", {}, kids.get(t.tokenId).map(node)) : "");
  };
  // Roots: no parent, or a parent this listing does not hold.
  const roots = toks.filter((t) => !t.parentTokenId || !byId.has(t.parentTokenId));
  $("token-tree").replaceChildren(roots.length ? h("ul", { class: "tree" }, roots.map(node)) : h("p", { class: "muted" }, "no tokens"));
};

// ------------------------------------------------------------- ledger ---

let ledgerSearchSeq = 0;
async function searchLedger(after) {
  const mine = ++ledgerSearchSeq; // only the latest search renders
  const id = $("l-id").value.trim();
  if (id) { await showEntry(id); return; }
  const q = new URLSearchParams({ limit: "50", after: String(after) });
  if ($("l-type").value.trim()) q.set("eventType", $("l-type").value.trim());
  if ($("l-agent").value.trim()) q.set("agentId", $("l-agent").value.trim());
  const r = await api("GET", "/v1/ledger?" + q);
  if (mine !== ledgerSearchSeq) return;
  app.ledgerPage.after = after;
  app.ledgerPage.next = r.next;
  $("ledger-info").textContent = `${r.events.length} entries after #${after}` + (r.next ? `; more after #${r.next}` : "");
  $("ledger-body").replaceChildren(...r.events.map((e) => h("tr", { "data-testid": "ledger-row", "data-event": e.eventId, onclick: () => showEntry(e.eventId) },
    h("td", {}, e.sequenceNumber), h("td", {}, e.timestamp.replace("T", " ").slice(0, 23)), h("td", { class: "mono" }, e.eventType),
    h("td", { class: "mono", title: e.agentId }, short(e.agentId, 16)))));
}

async function showEntry(eventId) {
  const box = $("ledger-detail");
  box.replaceChildren(h("p", { class: "muted" }, "loading…"));
  const p = await api("GET", "/v1/ledger/proof/" + encodeURIComponent(eventId));
  const result = h("div", { "data-testid": "proof-result" }, h("p", { class: "muted" }, "verifying in the browser…"));
  box.replaceChildren(
    h("h3", {}, `#${p.entry.sequenceNumber} ${p.entry.eventType}`),
    result,
    h("pre", { class: "mono", "data-testid": "entry-json" }, JSON.stringify(p.entry, null, 2)),
    h("h3", {}, "Inclusion proof"),
    h("div", { class: "small muted" }, `leaf ${p.leafIndex} of ${p.treeSize}; ${p.inclusionProof.length} hashes; checkpoint kid ${p.checkpoint.kid}`),
    h("pre", { class: "mono" }, [p.inclusionProof.join("\n"), "\n\n", p.checkpoint.note].join("")));
  try {
    const jwks = await (await fetch("/.well-known/jwks.json", { cache: "no-store" })).json();
    const v = await verifyProof(p, jwks);
    result.replaceChildren(
      h("p", { class: v.ok ? "ok" : v.ed25519 ? "bad" : "warn", "data-testid": "proof-verdict" },
        v.ok ? "✔ verified in this browser: entry hash, RFC 6962 path to the checkpoint root, Ed25519 signature of the checkpoint"
          : v.ed25519 ? "✘ verification FAILED" : "⚠ not fully verified (see below)"),
      h("ul", { class: "plain" }, v.steps.map((s) => h("li", { class: s.ok === true ? "ok" : s.ok === null ? "warn" : "bad" },
        (s.ok === true ? "✔ " : s.ok === null ? "⚠ " : "✘ ") + s.name, h("div", { class: "mono small muted" }, s.detail)))));
  } catch (e) {
    result.replaceChildren(h("p", { class: "bad", "data-testid": "proof-verdict" }, "✘ verification error: " + errText(e)));
  }
}

$("ledger-search").addEventListener("submit", (ev) => {
  ev.preventDefault();
  app.ledgerPage.prevStack = [];
  searchLedger(Number($("l-after").value || 0)).catch((e) => toast(errText(e), "bad"));
});
$("l-older").addEventListener("click", () => {
  const prev = app.ledgerPage.prevStack.pop();
  searchLedger(prev ?? Math.max(0, app.ledgerPage.after - 50)).catch((e) => toast(errText(e), "bad"));
});
$("l-newer").addEventListener("click", () => {
  if (app.ledgerPage.next === null) return;
  app.ledgerPage.prevStack.push(app.ledgerPage.after);
  searchLedger(app.ledgerPage.next).catch((e) => toast(errText(e), "bad"));
});
$("l-verify").addEventListener("click", async () => {
  try {
    const r = await api("POST", "/v1/ledger/verify", {});
    toast(r.valid ? `ledger chain valid (${r.checked} entries checked)` : `ledger INVALID at #${r.firstBadSequence}`, r.valid ? "ok" : "bad");
  } catch (e) { toast(errText(e), "bad"); }
});

loaders.ledger = async () => { if (!$("ledger-body").children.length) await searchLedger(Number($("l-after").value || 0)); };

// -------------------------------------------------------------- stats ---

loaders.stats = async () => {
  const cards = [];
  const card = (k, v) => cards.push(h("div", { class: "card", "data-testid": "stat" }, h("div", { class: "muted small" }, k), h("div", { class: "v" }, v)));
  const stats = await optional("/v1/dashboard/stats");
  if (stats) {
    // GET /v1/dashboard/stats: {decisions:{"1m","1h",p50Us,p99Us}, pendingApprovals, estop, ledger:{size,lastCheckpoint}, riskStream}
    const d = stats.decisions || {};
    const m = d["1m"] || {}, hr = d["1h"] || {};
    const per = (w, k) => (w.byDecision && w.byDecision[k] !== undefined ? Number(w.byDecision[k]).toFixed(2) : "0.00");
    card("decisions / s (last minute)", m.perSecond !== undefined ? Number(m.perSecond).toFixed(2) : "–");
    card("allow · deny · escalate / s (1 min)", `${per(m, "allow")} · ${per(m, "deny")} · ${per(m, "escalate")}`);
    card("decisions (last minute)", m.total ?? "–");
    card("decisions (last hour)", hr.total ?? "–");
    card("decision latency p50 · p99", d.p50Us !== undefined ? `${d.p50Us} µs · ${d.p99Us} µs` : "–");
    card("pending approvals", stats.pendingApprovals ?? "–");
    card("e-stop", stats.estop ? `${stats.estop.state} (epoch ${stats.estop.epoch})` : "–");
    card("ledger entries", stats.ledger ? stats.ledger.size : "–");
    card("last checkpoint", stats.ledger && stats.ledger.lastCheckpoint ? `tree ${stats.ledger.lastCheckpoint.treeSize} at ${fmtTime(stats.ledger.lastCheckpoint.timestamp)}` : "none yet");
    if (stats.riskStream) card("risk stream clients (dropped)", `${stats.riskStream.subscribers} (${stats.riskStream.droppedSlowClients})`);
    if (m.byTier) card("per tier / s (1 min)", Object.entries(m.byTier).filter(([, v]) => v > 0).map(([t, v]) => `t${t}: ${Number(v).toFixed(2)}`).join("  ") || "–");
  } else {
    const [cp, toks, ap] = await Promise.all([
      api("GET", "/v1/ledger/checkpoint").catch(() => null),
      api("GET", "/v1/tokens?limit=1000").catch(() => ({ tokens: [] })),
      api("GET", "/v1/approvals?state=pending&limit=1000").catch(() => ({ approvals: [] })),
    ]);
    card("ledger size (last checkpoint)", cp ? cp.treeSize : "?");
    card("tokens (active / all)", `${toks.tokens.filter((t) => !t.revoked).length} / ${toks.tokens.length}`);
    card("pending approvals", ap.approvals.length);
    card("e-stop", app.estop ? `${app.estop.state} (epoch ${app.estop.epoch})` : "?");
    const c = { allow: 0, deny: 0, escalate: 0 };
    for (const x of app.feed) if (x.decision in c) c[x.decision]++;
    for (const k of Object.keys(c)) card(`${k} (seen by this tab)`, c[k]);
    cards.push(h("p", { class: "muted small" }, "/v1/dashboard/stats is not available on this gateway (404): figures computed from other endpoints."));
  }
  $("stats-cards").replaceChildren(...cards);
  const alerts = await optional("/v1/dashboard/alerts");
  const list = alerts ? alerts.alerts || alerts : [];
  $("alerts").replaceChildren(...(Array.isArray(list) && list.length
    ? list.map((a) => h("li", { "data-testid": "alert" }, h("b", { class: "bad" }, a.kind || "alert"), " #", a.sequence ?? "", " ",
      a.timestamp ? String(a.timestamp).replace("T", " ").slice(0, 19) : "", " ", h("span", { class: "mono", title: a.agentId }, short(a.agentId, 16)), " ",
      h("code", {}, a.eventType || ""), " ", h("span", { class: "small muted" }, a.payload ? JSON.stringify(a.payload).slice(0, 160) : ""), " ",
      a.eventId ? h("button", { class: "small-btn", onclick: () => { location.hash = "#ledger"; showEntry(a.eventId).catch((e) => toast(errText(e), "bad")); } }, "ledger entry") : ""))
    : [h("li", { class: "muted" }, alerts ? "no alerts" : "/v1/dashboard/alerts is not available (404)")]));
};

// --------------------------------------------------------------- boot ---

if (app.key) {
  // A stored key from this tab's session: check it before showing data.
  signIn(app.key).catch((e) => showSignIn("stored key refused: " + errText(e)));
} else {
  showSignIn("");
}
