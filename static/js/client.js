// The WebSocket protocol client: one socket, replies matched by ref, pushes re-emitted as
// events, automatic reconnect with exponential backoff and jitter. While the browser says it is
// offline no socket is tried (each retry just re-arms), and coming back online retries at once.
import { RESTART_CLOSE_CODES, retryDelay } from "./backoff.js";

export class ChatClient extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.ws = null;
    this.pending = new Map();   // ref -> {resolve, reject, timer}
    this.nextRef = 1;
    this.attempt = 0;
    this.restarting = false;    // the server went away (restart, deploy): retry on a short leash
    this.state = "connecting";
    this.stopped = false;
    this.everReady = false;
    this.reconnectTimer = null;
    // the browser says the network is gone: the socket counts as closed now, without waiting for
    // a closing handshake that may never complete (a late close event of it is ignored)
    this.onOffline = () => {
      const ws = this.ws;
      if (!ws) return;
      ws.close();
      this.onClose(ws, { code: 1006 });
    };
    this.onOnline = () => {
      if (this.stopped || this.ws) return;
      this.attempt = 0;
      this.connect();
    };
    window.addEventListener("offline", this.onOffline);
    window.addEventListener("online", this.onOnline);
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  setState(state, extra) {
    this.state = state;
    this.emit("state", Object.assign({ state }, extra || {}));
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    if (navigator.onLine === false) { this.scheduleRetry(); return; }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws?token=${encodeURIComponent(this.token)}`);
    this.ws = ws;
    this.setState("connecting");
    ws.onmessage = (ev) => this.onFrame(ev.data);
    ws.onclose = (ev) => this.onClose(ws, ev);
  }

  onFrame(raw) {
    let frame;
    try { frame = JSON.parse(raw); } catch (_) { return; }
    if (frame.event === "reply") {
      const waiter = this.pending.get(frame.ref);
      if (!waiter) return;
      this.pending.delete(frame.ref);
      clearTimeout(waiter.timer);
      if (frame.ok) waiter.resolve(frame.data);
      else waiter.reject(Object.assign(new Error(frame.error.message), { code: frame.error.code }));
      return;
    }
    if (frame.event === "session:ready") {
      const reconnected = this.everReady;
      this.everReady = true;
      this.attempt = 0;
      this.restarting = false;
      this.setState("online");
      this.emit("ready", Object.assign({ reconnected }, frame.data));
      return;
    }
    this.emit(frame.event, frame.data);
  }

  onClose(ws, ev) {
    if (ws !== this.ws) return;
    this.ws = null;
    for (const [ref, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(Object.assign(new Error("disconnected"), { code: "disconnected" }));
      this.pending.delete(ref);
    }
    if (this.stopped) return;
    if (ev.code === 4001 || (!this.everReady && ev.code === 1006 && this.attempt > 3)) {
      // expired token, or a token the server keeps refusing: back to sign-in
      this.setState("expired");
      this.emit("expired", {});
      return;
    }
    if (RESTART_CLOSE_CODES.includes(ev.code)) this.restarting = true;
    this.scheduleRetry();
  }

  scheduleRetry() {
    this.attempt += 1;
    const delay = retryDelay(this.attempt, { restarting: this.restarting });
    this.setState("offline", { retryIn: delay, retryAt: Date.now() + delay });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  // Send an event and resolve with the reply's data (rejects on an error reply or a drop).
  request(event, data, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(Object.assign(new Error("not connected"), { code: "disconnected" }));
        return;
      }
      const ref = `c${this.nextRef++}`;
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(Object.assign(new Error("timed out"), { code: "timeout" }));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
      this.ws.send(JSON.stringify({ event, data: data || {}, ref }));
    });
  }

  // Fire and forget (typing, delivery receipts).
  notify(event, data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ event, data: data || {} }));
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    window.removeEventListener("offline", this.onOffline);
    window.removeEventListener("online", this.onOnline);
    if (this.ws) this.ws.close(1000, "bye");
  }
}
