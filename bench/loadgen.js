// Load generator for bench/realtime.py. Reads a JSON config, opens one WebSocket per member,
// runs the steps (fan-out) or opens sockets in batches (idle), and prints one JSON line per
// result on stdout ("step-start"/"step-end" lines let the orchestrator sample the server's CPU).
"use strict";
const fs = require("fs");
const http = require("http");
const { performance } = require("perf_hooks");
const WebSocket = require("ws");

const cfg = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function pct(sorted, p) {
  if (!sorted.length) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

// Socket.IO mode (cfg.mode "sio", bench/sio_peer.js): the engine.io v4 / socket.io v5 protocol
// spoken over the same `ws` socket, so that one generator and one latency measurement drive every
// peer. The server opens with "0{…}", answered "40" (join the default namespace); the session
// begins at "40{sid}". Events are "42[name,data]", a send with an ack id "42<id>[…]" is answered
// "43<id>[…]", and the server's pings "2" must be answered "3".
const sio = cfg.mode === "sio";
const SIO_PING = 0x32;  // "2"
const SIO_OPEN = 0x30;  // "0"

function open(url, onFrame) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 30000 });
    const deliver = sio ? (raw) => { if (raw.length === 1 && raw[0] === SIO_PING) ws.send("3"); else onFrame(raw); }
      : onFrame;
    let ready = false;
    ws.on("message", (raw) => {
      if (!ready) {
        if (sio) {
          if (raw[0] === SIO_OPEN) { ws.send("40"); return; }
          if (!raw.toString().startsWith("40")) { ws.terminate(); reject(new Error("no namespace: " + raw)); return; }
        }
        ready = true;
        resolve({ ws, handshakeMs: performance.now() - t0 });
        if (!cfg.waitReady && !sio) onFrame(raw);
        return;
      }
      deliver(raw);
    });
    ws.on("open", () => {
      if (!cfg.waitReady && !sio) { ready = true; resolve({ ws, handshakeMs: performance.now() - t0 }); }
    });
    ws.on("error", (err) => { if (!ready) reject(err); });
    ws.on("close", () => { if (!ready) reject(new Error("closed before ready")); });
  });
}

async function openAll(specs, concurrency, onFrameFor) {
  const result = new Array(specs.length);
  let next = 0;
  const handshakes = [];
  async function worker() {
    while (next < specs.length) {
      const i = next++;
      const { ws, handshakeMs } = await open(specs[i].url, onFrameFor(i));
      handshakes.push(handshakeMs);
      result[i] = ws;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  return { sockets: result, handshakes };
}

// a cluster node registers a socket in Redis a moment after session:ready, and a push routed
// before that reaches the socket only through sync: with `registered` (each node's
// /api/health), start sending once every node has registered its sockets
async function registered(urls) {
  const deadline = performance.now() + 120000;
  for (const url of urls) {
    for (;;) {
      const body = await (await fetch(url)).json();
      const link = (body.data || {}).redis;
      if (!link || (link.up && link.subscribing === 0 && link.presencePending === 0)) break;
      if (performance.now() > deadline) throw new Error("sockets not registered in Redis: " + url);
      await sleep(100);
    }
  }
}

async function fanout() {
  // members[i] = {url, room, sender index or -1}
  const members = [];
  cfg.rooms.forEach((room, r) => room.urls.forEach((url, m) => members.push({ url, room: r, member: m })));
  const steps = cfg.rates.map((rate) => ({ rate, sent: 0, acked: 0, failed: 0, received: 0, lat: [] }));
  let current = -1;
  const ackStep = new Map();  // Socket.IO ack id -> step
  const onFrameFor = (i) => (raw) => {
    const s = raw.toString();
    if (sio && s.startsWith("43")) {  // "43<id>[{"ok":true}]"
      const id = +s.slice(2, s.indexOf("["));
      const reply = JSON.parse(s.slice(s.indexOf("[")))[0];
      const step = steps[ackStep.get(id)];
      ackStep.delete(id);
      if (reply.ok) step.acked += 1; else { step.failed += 1; step.lastError = reply.error; }
      return;
    }
    if (s.startsWith('{"event":"reply"')) {  // replies carry the stored message: match them first
      const frame = JSON.parse(s);
      const step = steps[+frame.ref.split("-")[0]];
      if (frame.ok) step.acked += 1; else { step.failed += 1; step.lastError = frame.error; }
      return;
    }
    // a push's payload text is "P<step>|S<sender member>|T<ms>|…": read it without a full parse
    const at = s.indexOf('"text":"P');
    if (at < 0) return;
    const text = s.slice(at + 8, s.indexOf('"', at + 8));
    const [p, sm, t] = text.split("|");
    if (+sm.slice(1) === members[i].member) return;  // our own echo
    const step = steps[+p.slice(1)];
    step.received += 1;
    step.lat.push(performance.now() - +t.slice(1));
  };
  const t0 = performance.now();
  const { sockets } = await openAll(members, 200, onFrameFor);
  if (cfg.registered) await registered(cfg.registered);
  out({ type: "connected", sockets: sockets.length, seconds: (performance.now() - t0) / 1000 });
  const senders = [];
  members.forEach((m, i) => { if (m.member < cfg.senders) senders.push(i); });
  const pad = "x".repeat(64);
  let seq = 0;
  for (let k = 0; k < steps.length; k++) {
    const step = steps[k];
    current = k;
    out({ type: "step-start", step: k, rate: step.rate });
    const start = performance.now();
    const cpu0 = cpuMs();
    let rr = 0;
    while (true) {
      const elapsed = performance.now() - start;
      if (elapsed >= cfg.duration * 1000) break;
      const due = Math.floor((elapsed / 1000) * step.rate);
      while (step.sent < due) {
        const i = senders[rr++ % senders.length];
        const m = members[i];
        let text = `P${k}|S${m.member}|T${performance.now().toFixed(3)}|`;
        text += pad.slice(0, 64 - text.length);
        const conversationId = cfg.rooms[m.room].id;
        let frame;
        if (sio) {
          ackStep.set(seq, k);
          frame = `42${seq}` + JSON.stringify(["message:send", { conversationId, text }]);
        } else if (cfg.mode === "ceiling") {
          frame = JSON.stringify({ event: "message:send", data: { conversationId, text } });
        } else {
          frame = JSON.stringify({ event: "message:send", ref: `${k}-${seq}`,
            data: { conversationId, text, clientMsgId: `b${k}-${seq}` } });
        }
        seq += 1;
        sockets[i].send(frame);
        step.sent += 1;
      }
      await sleep(2);
    }
    const wall = (performance.now() - start) / 1000;
    const genCpu = (cpuMs() - cpu0) / 1000 / wall;
    out({ type: "step-end", step: k, rate: step.rate });
    // drain: every send answered (server) and no delivery still arriving, or the drain limit
    const drainStart = performance.now();
    let lastReceived = -1;
    while (performance.now() - drainStart < cfg.drainLimit * 1000) {
      await sleep(cfg.drain * 1000);
      const answered = cfg.mode === "ceiling" || step.acked + step.failed >= step.sent;
      if (answered && step.received === lastReceived) break;
      lastReceived = step.received;
    }
    const perMessage = cfg.rooms[0].urls.length - 1;
    const delivered = cfg.mode === "ceiling" ? step.sent : step.acked;
    const expected = delivered * perMessage;
    const lat = step.lat.sort((a, b) => a - b);
    out({ type: "result", step: k, rate: step.rate, sent: step.sent, acked: step.acked, failed: step.failed,
      unanswered: cfg.mode === "ceiling" ? 0 : step.sent - step.acked - step.failed,
      lastError: step.lastError || null, expected, received: step.received, loss: Math.max(0, expected - step.received),
      deliveriesPerSec: step.received / wall, wall,
      p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99), max: lat.length ? lat[lat.length - 1] : 0,
      loadgenCpu: genCpu, loadgenSaturated: genCpu > 0.9 });
  }
  current = -1;
  for (const ws of sockets) ws.terminate();
}

async function idle() {
  let sockets = [];
  for (const target of cfg.targets) {
    const want = target - sockets.length;
    const specs = cfg.urls.slice(sockets.length, target).map((url) => ({ url }));
    out({ type: "step-start", target });
    const t0 = performance.now();
    const cpu0 = cpuMs();
    const { sockets: opened, handshakes } = await openAll(specs, cfg.concurrency, () => () => {});
    const seconds = (performance.now() - t0) / 1000;
    sockets = sockets.concat(opened);
    handshakes.sort((a, b) => a - b);
    const genCpu = (cpuMs() - cpu0) / 1000 / seconds;
    await sleep(cfg.settle * 1000);
    out({ type: "step-end", target });  // the orchestrator reads the server's RSS here
    out({ type: "result", target, opened: want, open: sockets.length, seconds, perSecond: want / seconds,
      handshakeP50: pct(handshakes, 50), handshakeP99: pct(handshakes, 99), loadgenCpu: genCpu });
  }
  for (const ws of sockets) ws.terminate();
}


// storm: every user connected, then the server restarts; each client reconnects with the web
// client's policy (static/js/backoff.js itself; a 503's Retry-After honoured with its jitter),
// syncs until nothing has more, and keeps every seq it sees. stdin lines from the orchestrator:
// {"serving": epochMs} when the new server answers, {"expect": {conversationId: lastSeq}} at the end.
async function storm() {
  const { RESTART_CLOSE_CODES, retryDelay, shedDelay } = await import("../static/js/backoff.js");
  const clients = [];
  cfg.rooms.forEach((room) => room.urls.forEach((url) => clients.push({ url, conv: room.id, seen: new Set(), last: 0,
    ws: null, attempt: 0, synced: false, connects: 0 })));
  let phase = "initial";
  let reconnectHandshakes = [];
  let shed = 0;
  let servingAt = null;
  let refs = 0;
  const pending = new Map();
  const send = (c, event, data) => new Promise((resolve) => {
    const ref = `r${refs++}`;
    pending.set(ref, resolve);
    c.ws.send(JSON.stringify({ event, ref, data }));
  });
  const onFrame = (c) => (raw) => {
    const frame = JSON.parse(raw.toString());
    if (frame.event === "reply") {
      const done = pending.get(frame.ref);
      if (done) { pending.delete(frame.ref); done(frame); }
      return;
    }
    if (frame.event === "message:new") { c.seen.add(frame.data.seq); c.last = Math.max(c.last, frame.data.seq); }
  };
  // what the web client does after a reconnect (static/js/controllers/sync.js resync): one sync with the last
  // seq held and changedSince five seconds before the drop, pages of what is still missing, and
  // the conversation list reloaded (two REST requests)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const get = (c, path) => new Promise((resolve) => {
    const url = new URL(c.url.replace(/^ws/, "http"));
    const req = http.get({ host: url.hostname, port: url.port, path, agent,
      headers: { Authorization: "Bearer " + url.searchParams.get("token") } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("error", () => resolve(0));
  });
  async function syncAll(c) {
    const since = new Date(c.droppedAt - 5000).toISOString();
    let first = true;
    while (true) {
      const data = { conversations: { [c.conv]: c.last }, limit: 200 };
      if (first) data.changedSince = since;
      const reply = await send(c, "sync", data);
      if (!reply.ok) { await sleep(200); continue; }
      first = false;
      for (const m of reply.data.messages) { c.seen.add(m.seq); c.last = Math.max(c.last, m.seq); }
      if (!reply.data.hasMore[c.conv]) break;
    }
    c.synced = true;
    if (!cfg.reloadLists) return;
    for (const path of ["/api/conversations?limit=100", "/api/conversations?archived=true&limit=100"]) {
      while ((await get(c, path)) !== 200) await sleep(200);
    }
    c.reloaded = true;
  }
  function connect(c) {
    return new Promise((resolve) => {
      const t0 = performance.now();
      const ws = new WebSocket(c.url, { perMessageDeflate: false, handshakeTimeout: 60000 });
      let opened = false;
      let retryAfter = null;
      ws.on("unexpected-response", (req, res) => {
        // handling this event makes the caller responsible for the request: no close follows
        if (res.statusCode === 503) { shed += 1; retryAfter = +(res.headers["retry-after"] || 1); }
        res.resume();
        req.destroy();
        resolve(retryAfter);
      });
      // the chat server's session begins with session:ready; the bare relay's at the upgrade,
      // and it has nothing to sync
      const ready = async () => {
        if (opened) return;
        opened = true;
        c.ws = ws; c.attempt = 0; c.connects += 1;
        if (phase !== "initial") reconnectHandshakes.push(performance.now() - t0);
        ws.on("message", onFrame(c));
        if (phase !== "initial" && cfg.mode !== "ceiling") await syncAll(c);
        else c.synced = true;
        resolve(true);
      };
      ws.on(cfg.mode === "ceiling" ? "open" : "message", ready);
      ws.on("close", (code) => {
        if (!opened) return resolve(retryAfter);
        c.ws = null; c.synced = false; c.droppedAt = Date.now();
        c.restarting = RESTART_CLOSE_CODES.includes(code);
        if (phase !== "initial") reconnectLoop(c);
      });
      ws.on("error", () => {});
    }).then((ok) => ok);
  }
  async function reconnectLoop(c) {
    let wait = null;
    while (true) {
      c.attempt += 1;
      await sleep(wait === null ? retryDelay(c.attempt, { restarting: c.restarting }) : wait);
      const result = await connect(c);
      if (result === true) return;
      wait = typeof result === "number" ? shedDelay(result) : null;  // Retry-After, or the backoff
    }
  }
  // initial connections, 100 at a time
  let next = 0;
  await Promise.all(Array.from({ length: 100 }, async () => {
    while (next < clients.length) { const c = clients[next++]; while ((await connect(c)) !== true) await sleep(100); }
  }));
  out({ type: "connected", sockets: clients.length });
  phase = "storm";
  const lines = require("readline").createInterface({ input: process.stdin });
  let expect = null;
  lines.on("line", (line) => {
    const msg = JSON.parse(line);
    if (msg.serving) servingAt = msg.serving;
    if (msg.expect) expect = msg.expect;
  });
  // wait for the restart: every socket closed, then every client back and synced
  while (clients.some((c) => c.ws !== null)) await sleep(50);
  out({ type: "all-closed" });
  while (!clients.every((c) => c.synced) || servingAt === null) await sleep(20);
  const backAt = Date.now();
  out({ type: "all-synced" });
  let reloadedAt = null;
  if (cfg.reloadLists) {
    while (!clients.every((c) => c.reloaded)) await sleep(20);
    reloadedAt = Date.now();
  }
  while (expect === null) await sleep(50);
  const deadline = performance.now() + cfg.drainLimit * 1000;
  let missing = 0;
  while (true) {
    missing = 0;
    for (const c of clients) for (let s = 1; s <= (expect[c.conv] || 0); s++) if (!c.seen.has(s)) missing += 1;
    if (missing === 0 || performance.now() > deadline) break;
    await sleep(200);
  }
  reconnectHandshakes.sort((a, b) => a - b);
  out({ type: "result", clients: clients.length, secondsToAllSynced: (backAt - servingAt) / 1000,
    secondsToAllReloaded: reloadedAt === null ? null : (reloadedAt - servingAt) / 1000,
    reconnectHandshakeP50: pct(reconnectHandshakes, 50), reconnectHandshakeP99: pct(reconnectHandshakes, 99),
    shed, missing, reconnects: reconnectHandshakes.length });
  for (const c of clients) if (c.ws) c.ws.terminate();
}

({ idle, storm, fanout }[cfg.scenario] || fanout)().then(() => process.exit(0), (err) => {
  out({ type: "error", message: String(err && err.stack || err) });
  process.exit(1);
});
