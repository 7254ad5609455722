// chart.js: decisions per second by decision, drawn on a canvas (no library).

export const SERIES = [
  { key: "allow", color: "#3fb950" },
  { key: "deny", color: "#f85149" },
  { key: "escalate", color: "#d29922" },
];

// RateCounter keeps per-second counts for the last `seconds` seconds.
export class RateCounter {
  constructor(seconds = 60) { this.seconds = seconds; this.buckets = new Map(); }

  add(decision, tsMs) {
    const s = Math.floor(tsMs / 1000);
    let b = this.buckets.get(s);
    if (!b) { b = { allow: 0, deny: 0, escalate: 0 }; this.buckets.set(s, b); }
    if (decision in b) b[decision]++;
  }

  // series returns, per decision, the counts of the seconds (now-seconds, now].
  series(nowMs) {
    const end = Math.floor(nowMs / 1000);
    for (const k of this.buckets.keys()) if (k <= end - this.seconds - 5) this.buckets.delete(k);
    const out = { allow: [], deny: [], escalate: [] };
    for (let s = end - this.seconds + 1; s <= end; s++) {
      const b = this.buckets.get(s) || { allow: 0, deny: 0, escalate: 0 };
      for (const k of Object.keys(out)) out[k].push(b[k]);
    }
    return out;
  }
}

export function drawChart(canvas, series) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const padL = 36, padB = 18, padT = 8, padR = 8;
  const n = series.allow.length;
  let max = 1;
  for (const s of SERIES) for (const v of series[s.key]) max = Math.max(max, v);
  max = Math.max(4, Math.ceil(niceCeil(max) / 4) * 4); // 4 grid steps of whole decisions
  g.strokeStyle = "#2a3642"; g.fillStyle = "#8a9aa8"; g.font = "11px system-ui"; g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = padT + (h - padT - padB) * (1 - i / 4);
    g.beginPath(); g.moveTo(padL, y); g.lineTo(w - padR, y); g.stroke();
    g.fillText(String(Math.round(max * i / 4)), 4, y + 4);
  }
  g.fillText("-60 s", padL, h - 4); g.fillText("now", w - padR - 22, h - 4);
  const x = (i) => padL + (w - padL - padR) * (i / Math.max(1, n - 1));
  const y = (v) => padT + (h - padT - padB) * (1 - v / max);
  for (const s of SERIES) {
    g.strokeStyle = s.color; g.lineWidth = 2; g.beginPath();
    series[s.key].forEach((v, i) => (i ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
    g.stroke();
  }
}

function niceCeil(v) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
