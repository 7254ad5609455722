// sse.js: a Server-Sent Events client over fetch() streaming.
//
// EventSource cannot send an Authorization header and the gateway never
// accepts a key in a URL, so the approval stream is read with fetch() and
// parsed here (WHATWG "event stream interpretation"). On a dropped
// connection it reconnects after the server's retry: interval (capped
// backoff) and sends Last-Event-ID, so no event is lost.

// parseSSE feeds text chunks and calls onEvent({id, event, data}) for each
// dispatched event; it also reports retry: values. Exported for tests.
export function sseParser(onEvent, onRetry = () => {}) {
  let buf = "", data = [], event = "", id = null;
  return function feed(chunk) {
    buf += chunk;
    let nl;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      // A lone "\r" at the end of a chunk may be the first half of "\r\n":
      // wait for the next chunk before deciding.
      if (buf[nl] === "\r" && nl === buf.length - 1) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === "\r" && buf[nl + 1] === "\n" ? 2 : 1));
      if (line === "") {
        if (data.length) onEvent({ id, event: event || "message", data: data.join("\n") });
        data = []; event = "";
        continue;
      }
      if (line.startsWith(":")) continue;
      const c = line.indexOf(":");
      const field = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? "" : line.slice(c + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id" && !value.includes("\0")) id = value;
      else if (field === "retry" && /^\d+$/.test(value)) onRetry(Number(value));
    }
  };
}

// AuthedEventStream keeps one SSE connection open with an Authorization
// header. Callbacks: onEvent(ev), onState("connecting"|"open"|"closed", detail).
export class AuthedEventStream {
  constructor(url, key, { onEvent, onState = () => {} }) {
    this.url = url; this.key = key; this.onEvent = onEvent; this.onState = onState;
    this.lastEventId = null; this.retry = 1000; this.failures = 0; this.stopped = false;
    this.ctrl = null;
  }

  start() { this.loop(); return this; }

  stop() { this.stopped = true; if (this.ctrl) this.ctrl.abort(); }

  // drop aborts the current connection (it reconnects): used by tests and
  // the "reconnect" control to show resumption.
  drop() { if (this.ctrl) this.ctrl.abort(); }

  async loop() {
    while (!this.stopped) {
      this.ctrl = new AbortController();
      this.onState("connecting", this.lastEventId ? "resuming after " + this.lastEventId : "");
      try {
        const headers = { Authorization: "Bearer " + this.key, Accept: "text/event-stream" };
        if (this.lastEventId !== null) headers["Last-Event-ID"] = this.lastEventId;
        const res = await fetch(this.url, { headers, signal: this.ctrl.signal, cache: "no-store" });
        if (res.status === 401 || res.status === 403) {
          this.onState("closed", "HTTP " + res.status + ": the API key cannot read the stream");
          this.stopped = true;
          return;
        }
        if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
        this.failures = 0;
        this.onState("open", "");
        const feed = sseParser((ev) => {
          if (ev.id !== null) this.lastEventId = ev.id;
          this.onEvent(ev);
        }, (ms) => { this.retry = ms; });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          feed(value);
        }
      } catch (err) {
        if (this.stopped) return;
        this.failures++;
        this.onState("connecting", String(err && err.message || err));
      }
      if (this.stopped) return;
      const wait = Math.min(this.retry * Math.max(1, this.failures), 10000);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
