// The web client: plain DOM, no framework. Every piece of user text is set with textContent.
import { Api, demoToken, demoUsers } from "./api.js";
import { ChatClient } from "./client.js";

const $ = (id) => document.getElementById(id);
const QUICK_REACTIONS = ["\u{1F44D}", "\u2764\uFE0F", "\u{1F602}", "\u{1F62E}", "\u{1F622}", "\u{1F389}"];
const TYPING_EVERY_MS = 2000;
const PAGE = 50;

const S = {
  api: null, client: null, me: null,
  convs: new Map(),        // id -> conversation (as the server renders it for me)
  active: null,
  msgs: new Map(),         // conversation id -> Map(seq -> message)
  hasOlder: new Map(),     // conversation id -> bool
  pending: new Map(),      // clientMsgId -> {conversationId, text, createdAt, failed}
  online: new Set(),
  typing: new Map(),       // conversation id -> Map(userId -> {name, timer})
  offlineSince: null,
  lastTypingSent: 0,
  loadingOlder: false,
  filter: { type: "", q: "" },
};

// ------------------------------------------------------------------ helpers
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function newClientId() {
  const rnd = crypto.getRandomValues(new Uint32Array(3));
  return `w-${Date.now().toString(36)}-${Array.from(rnd, (n) => n.toString(36)).join("")}`;
}

function relTime(iso) {
  if (!iso) return "";
  const t = new Date(iso), diff = (Date.now() - t) / 1000;
  if (diff < 60) return "now";
  if (diff < 3600) return `${Math.floor(diff / 60)}m`;
  if (diff < 86400) return `${Math.floor(diff / 3600)}h`;
  if (diff < 172800) return "yesterday";
  return t.toLocaleDateString();
}

function clock(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
}

function initials(name) {
  return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

function others(conv) {
  return (conv.participants || []).filter((p) => p.userId !== S.me.id);
}

function convTitle(conv) {
  if (conv.title) return conv.title;
  const rest = others(conv);
  return rest.length ? rest.map((p) => p.name).join(", ") : "Just you";
}

function messagesOf(id) {
  if (!S.msgs.has(id)) S.msgs.set(id, new Map());
  return S.msgs.get(id);
}

function maxSeq(id) {
  let top = 0;
  for (const seq of messagesOf(id).keys()) top = Math.max(top, seq);
  return top;
}

// ------------------------------------------------------------------ sign in
async function boot() {
  const token = sessionStorage.getItem("chat.token");
  if (token) return start(token);
  showSignIn();
}

async function showSignIn(message) {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  const users = await demoUsers().catch(() => null);
  if (users) {
    $("demo-picker").hidden = false;
    const list = $("demo-users");
    list.replaceChildren();
    for (const u of users) {
      list.append(el("li", {}, el("button", {
        type: "button", dataset: { user: u.id },
        onclick: async () => start(await demoToken(u.id)),
      }, el("span", { text: u.name }), el("span", { class: "role", text: u.role }))));
    }
  }
}

$("token-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  start($("token-input").value.trim());
});

async function start(token) {
  S.api = new Api(token);
  try {
    S.me = (await S.api.get("/api/me")).data;
  } catch (err) {
    sessionStorage.removeItem("chat.token");
    return showSignIn(err.status === 401 ? "That token was refused: " + err.message : err.message);
  }
  sessionStorage.setItem("chat.token", token);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = `${S.me.name} · ${S.me.role}`;
  await loadConversations();
  connect(token);
}

$("signout").addEventListener("click", () => {
  sessionStorage.removeItem("chat.token");
  if (S.client) S.client.stop();
  location.reload();
});

// ------------------------------------------------------------------ socket
function connect(token) {
  const c = new ChatClient(token);
  S.client = c;
  c.addEventListener("state", (ev) => showState(ev.detail));
  c.addEventListener("ready", (ev) => onReady(ev.detail));
  c.addEventListener("expired", () => { sessionStorage.removeItem("chat.token"); showSignIn("Your session expired."); });
  const on = (name, fn) => c.addEventListener(name, (ev) => fn(ev.detail));
  on("message:new", onNew);
  on("session:resync", () => resync());  // a server of a cluster lost its Redis link meanwhile
  on("message:updated", onUpdated);
  on("message:deleted", onDeleted);
  on("message:status", onStatus);
  on("unread:update", onUnread);
  on("typing:start", (d) => setTyping(d, true));
  on("typing:stop", (d) => setTyping(d, false));
  on("user:online", (d) => { S.online.add(d.userId); renderList(); renderHeader(); });
  on("user:offline", (d) => { S.online.delete(d.userId); renderList(); renderHeader(); });
  on("conversation:created", upsertConv);
  on("conversation:updated", upsertConv);
  on("conversation:removed", (d) => {
    S.convs.delete(d.conversationId);
    if (S.active === d.conversationId) closeChat();
    renderList();
  });
  c.connect();
}

function showState({ state, retryIn }) {
  const node = $("conn-state");
  node.dataset.state = state;
  if (state === "online") node.textContent = "Online";
  else if (state === "connecting") node.textContent = "Connecting…";
  else if (state === "offline") {
    if (!S.offlineSince) S.offlineSince = new Date();
    node.textContent = `Offline, retrying in ${Math.ceil(retryIn / 1000)}s`;
  } else node.textContent = "Signed out";
}

async function onReady({ reconnected }) {
  try {
    const people = await S.client.request("presence:list", {});
    S.online = new Set(people.map((p) => p.userId));
  } catch (_) { /* presence is best effort */ }
  if (reconnected) await resync();
  S.offlineSince = null;
  renderList();
  renderHeader();
  await flushOutbox();
  if (S.active) markRead(S.active);
}

// After a drop: everything after the last seq we hold, and what changed meanwhile.
async function resync() {
  const seen = {};
  for (const id of S.msgs.keys()) if (S.convs.has(id)) seen[id] = maxSeq(id);
  const since = new Date((S.offlineSince || new Date()).getTime() - 5000).toISOString();
  try {
    const result = await S.client.request("sync", { conversations: seen, changedSince: since, limit: 200 });
    for (const m of result.messages) storeMessage(m);
    for (const m of result.changed) if (messagesOf(m.conversationId).has(m.seq)) storeMessage(m);
    for (const [id, more] of Object.entries(result.hasMore)) if (more) await fetchAfter(id);
  } catch (err) {
    console.warn("sync failed", err);
  }
  await loadConversations();
  if (S.active) renderMessages();
}

async function fetchAfter(id) {
  for (;;) {
    const page = await S.api.get(`/api/conversations/${id}/messages?after=${maxSeq(id)}&limit=100`);
    for (const m of page.data) storeMessage(m);
    if (!page.hasMore) return;
  }
}

// ------------------------------------------------------------------ conversations
async function loadConversations() {
  const page = await S.api.get("/api/conversations?limit=100");
  const fresh = new Map(page.data.map((c) => [c.id, c]));
  S.convs = fresh;
  renderList();
  if (S.active && !S.convs.has(S.active)) closeChat();
  else renderHeader();
}

function upsertConv(conv) {
  S.convs.set(conv.id, conv);
  renderList();
  if (conv.id === S.active) renderHeader();
}

function visibleConvs() {
  const q = S.filter.q.toLowerCase();
  return [...S.convs.values()]
    .filter((c) => !S.filter.type || c.type === S.filter.type)
    .filter((c) => !q || convTitle(c).toLowerCase().includes(q)
      || (c.participants || []).some((p) => p.name.toLowerCase().includes(q)))
    .sort((a, b) => (b.pinned - a.pinned) || String(b.lastActivityAt).localeCompare(String(a.lastActivityAt)));
}

function renderList() {
  const list = $("conv-list");
  list.replaceChildren();
  for (const c of visibleConvs()) {
    const direct = c.type === "direct" ? others(c)[0] : null;
    const avatar = el("span", { class: "avatar", text: c.type === "direct" ? initials(convTitle(c)) : initials(c.title) });
    if (direct) avatar.append(el("span", { class: "dot" + (S.online.has(direct.userId) ? " online" : ""),
      "data-testid": "presence-dot", "data-online": S.online.has(direct.userId) ? "1" : "0" }));
    const last = c.lastMessage;
    let preview = "No messages yet";
    if (last) preview = last.deleted ? "Message deleted" : `${last.senderId === S.me.id ? "You" : last.senderName}: ${last.preview || ""}`;
    const row = el("li", { class: "conv" + (c.id === S.active ? " active" : ""), "data-testid": "conv-item",
      dataset: { id: c.id, type: c.type }, onclick: () => openConversation(c.id) },
    avatar,
    el("span", { class: "title", text: (c.pinned ? "\u{1F4CC} " : "") + convTitle(c) }),
    el("span", { class: "time", text: relTime(last ? last.createdAt : c.lastActivityAt) }),
    el("span", { class: "preview", text: preview }),
    c.unread > 0 ? el("span", { class: "badge", "data-testid": "badge", text: String(c.unread) }) : el("span"));
    list.append(row);
  }
}

function renderHeader() {
  const conv = S.convs.get(S.active);
  if (!conv) return;
  $("chat-title").textContent = convTitle(conv);
  const rest = others(conv);
  const online = rest.filter((p) => S.online.has(p.userId));
  let sub = `${conv.type} · ${conv.participants.length} people`;
  if (conv.type === "direct" && rest[0]) sub = S.online.has(rest[0].userId) ? "online" : "offline";
  else if (online.length) sub += ` · ${online.length} online`;
  $("chat-sub").textContent = sub;
  const readOnly = conv.type === "announcement" && !["owner", "admin"].includes(conv.role);
  $("composer").hidden = readOnly;
  $("readonly-note").hidden = !readOnly;
}

async function openConversation(id) {
  S.active = id;
  $("app").classList.add("in-chat");
  renderList();
  renderHeader();
  renderTyping();
  if (!S.hasOlder.has(id)) {
    const page = await S.api.get(`/api/conversations/${id}/messages?limit=${PAGE}`);
    for (const m of page.data) storeMessage(m);
    S.hasOlder.set(id, page.hasMore);
  }
  if (S.active !== id) return;
  renderMessages(true);
  markRead(id);
  $("composer-input").focus();
}

function closeChat() {
  S.active = null;
  $("app").classList.remove("in-chat");
  $("message-list").replaceChildren();
  $("chat-title").textContent = "Pick a conversation";
  $("chat-sub").textContent = "";
  $("composer").hidden = true;
  renderList();
}

$("back").addEventListener("click", closeChat);

async function markRead(id) {
  const conv = S.convs.get(id);
  if (!conv || document.visibilityState === "hidden" || S.client.state !== "online") return;
  const top = Math.max(maxSeq(id), conv.lastSeq || 0);
  if (top <= (conv.lastReadSeq || 0) && !conv.unread) return;
  try {
    const r = await S.client.request("message:read", { conversationId: id, seq: top });
    conv.unread = r.unread;
    conv.lastReadSeq = r.lastReadSeq;
    renderList();
  } catch (_) { /* retried on the next open or reconnect */ }
}

document.addEventListener("visibilitychange", () => { if (S.active) markRead(S.active); });

// ------------------------------------------------------------------ messages
function storeMessage(m) {
  messagesOf(m.conversationId).set(m.seq, m);
  if (m.clientMsgId && S.pending.has(m.clientMsgId) && m.senderId === S.me.id) S.pending.delete(m.clientMsgId);
}

function onNew(m) {
  const known = messagesOf(m.conversationId).has(m.seq);
  storeMessage(m);
  const conv = S.convs.get(m.conversationId);
  if (!conv) { loadConversations(); return; }
  conv.lastSeq = Math.max(conv.lastSeq || 0, m.seq);
  conv.lastActivityAt = m.createdAt;
  conv.lastMessage = { id: m.id, seq: m.seq, senderId: m.senderId, senderName: m.senderName,
    preview: (m.text || "").slice(0, 120), createdAt: m.createdAt, deleted: false };
  if (m.senderId !== S.me.id && !known) {
    deliveredUpTo(m.conversationId, m.seq);
    clearTyping(m.conversationId, m.senderId);
    if (m.conversationId === S.active && document.visibilityState !== "hidden") markRead(m.conversationId);
    else if (m.type !== "system") conv.unread = (conv.unread || 0) + 1;
  }
  renderList();
  if (m.conversationId === S.active) renderMessages(true);
}

// Delivery receipts are coalesced: at most one per conversation every 500 ms, carrying the
// highest seq (a burst of messages costs the server one marker write, not one per message).
const deliveredPending = new Map();
let deliveredTimer = null;
function deliveredUpTo(conversationId, seq) {
  deliveredPending.set(conversationId, Math.max(seq, deliveredPending.get(conversationId) || 0));
  if (deliveredTimer) return;
  deliveredTimer = setTimeout(() => {
    deliveredTimer = null;
    for (const [id, top] of deliveredPending) S.client.notify("message:delivered", { conversationId: id, seq: top });
    deliveredPending.clear();
  }, 500);
}

function onUpdated(m) {
  if (messagesOf(m.conversationId).has(m.seq)) storeMessage(m);
  if (m.conversationId === S.active) renderMessages();
}

function onDeleted({ conversationId, seq }) {
  const m = messagesOf(conversationId).get(seq);
  if (m) Object.assign(m, { deleted: true, text: null, attachments: [], reactions: {} });
  const conv = S.convs.get(conversationId);
  if (conv && conv.lastMessage && conv.lastMessage.seq === seq) conv.lastMessage.deleted = true;
  renderList();
  if (conversationId === S.active) renderMessages();
}

function onStatus({ conversationId, seq, userId, status }) {
  const conv = S.convs.get(conversationId);
  const p = conv && conv.participants.find((x) => x.userId === userId);
  if (!p) return;
  if (status === "read") p.lastReadSeq = Math.max(p.lastReadSeq || 0, seq);
  p.lastDeliveredSeq = Math.max(p.lastDeliveredSeq || 0, seq);
  if (conversationId === S.active) renderMessages();
}

function onUnread({ conversationId, unread, lastReadSeq }) {
  const conv = S.convs.get(conversationId);
  if (!conv) return;
  conv.unread = unread;
  conv.lastReadSeq = lastReadSeq;
  renderList();
}

function tickStatus(conv, m) {
  const rest = others(conv);
  if (!rest.length) return "sent";
  if (rest.every((p) => (p.lastReadSeq || 0) >= m.seq)) return "read";
  if (rest.every((p) => Math.max(p.lastDeliveredSeq || 0, p.lastReadSeq || 0) >= m.seq)) return "delivered";
  return "sent";
}

function renderMessages(stickToBottom) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  const conv = S.convs.get(S.active);
  if (!conv) return;
  const list = $("message-list");
  list.replaceChildren();
  const stored = [...messagesOf(S.active).values()].sort((a, b) => a.seq - b.seq);
  for (const m of stored) list.append(messageEl(conv, m));
  for (const [cid, p] of S.pending) {
    if (p.conversationId === S.active) list.append(pendingEl(cid, p));
  }
  $("load-older").hidden = !S.hasOlder.get(S.active);
  if (stickToBottom || atBottom) box.scrollTop = box.scrollHeight;
}

function pendingEl(clientMsgId, p) {
  const li = el("li", { class: "msg mine pending" + (p.failed ? " failed" : ""), "data-testid": "message",
    dataset: { clientId: clientMsgId, pending: "1" } },
  el("div", { class: "text", "data-testid": "message-text", text: p.text }));
  const meta = el("div", { class: "meta", text: p.failed ? "Not sent" : "Sending…" });
  if (p.failed) {
    meta.append(" ", el("button", { class: "link", text: "Retry", onclick: () => { p.failed = false; trySend(clientMsgId); } }));
  }
  li.append(meta);
  return li;
}

function messageEl(conv, m) {
  const mine = m.senderId === S.me.id;
  if (m.type === "system") {
    return el("li", { class: "msg system", "data-testid": "message", dataset: { seq: String(m.seq) } },
      el("span", { "data-testid": "message-text", text: m.text || "" }));
  }
  const li = el("li", { class: "msg" + (mine ? " mine" : "") + (m.deleted ? " deleted" : ""), "data-testid": "message",
    dataset: { seq: String(m.seq), id: m.id, clientId: m.clientMsgId || "" } });
  if (!mine && conv.type !== "direct") li.append(el("div", { class: "who", text: m.senderName }));
  const text = el("div", { class: "text", "data-testid": "message-text" });
  if (m.deleted) text.textContent = "This message was deleted";
  else text.textContent = m.text || "";
  li.append(text);
  for (const a of (m.deleted ? [] : m.attachments || [])) {
    li.append(el("div", {}, el("a", { href: /^https?:\/\//i.test(a.url) ? a.url : "#", target: "_blank",
      rel: "noopener noreferrer", text: `\u{1F4CE} ${a.name}` })));
  }
  const reactions = Object.entries(m.reactions || {});
  if (reactions.length) {
    const bar = el("div", { class: "reactions", "data-testid": "reactions" });
    for (const [emoji, users] of reactions) {
      bar.append(el("button", { class: users.includes(S.me.id) ? "mine" : "", "data-testid": "reaction",
        text: `${emoji} ${users.length}`, onclick: () => react(m, emoji) }));
    }
    li.append(bar);
  }
  const meta = el("div", { class: "meta" }, el("span", { text: clock(m.createdAt) + (m.editedAt && !m.deleted ? " · edited" : "") }));
  if (mine && !m.deleted) {
    const status = tickStatus(conv, m);
    meta.append(el("span", { class: "ticks " + status, "data-testid": "ticks", "data-status": status,
      title: status, text: status === "sent" ? "\u2713" : "\u2713\u2713" }));
  }
  li.append(meta);
  if (!m.deleted) li.append(actionsEl(m, mine, li, text));
  return li;
}

function actionsEl(m, mine, li, textNode) {
  const bar = el("div", { class: "actions" });
  for (const emoji of QUICK_REACTIONS.slice(0, 3)) {
    bar.append(el("button", { type: "button", title: `React ${emoji}`, "data-testid": "react", text: emoji,
      onclick: () => react(m, emoji) }));
  }
  if (mine) {
    bar.append(el("button", { type: "button", title: "Edit", "data-testid": "edit", text: "\u270E",
      onclick: () => startEdit(m, li, textNode) }));
    const del = el("button", { type: "button", title: "Delete", "data-testid": "delete", text: "\u{1F5D1}" });
    del.addEventListener("click", async () => {
      if (del.dataset.armed !== "1") { del.dataset.armed = "1"; del.textContent = "Delete?"; return; }
      try { await S.client.request("message:delete", { messageId: m.id }); } catch (err) { alertError(err); }
    });
    bar.append(del);
  }
  return bar;
}

function startEdit(m, li, textNode) {
  const box = el("textarea", { class: "edit-box", "data-testid": "edit-box" });
  box.value = m.text || "";
  const save = async () => {
    const text = box.value.trim();
    if (!text || text === m.text) { renderMessages(); return; }
    try { storeMessage(await S.client.request("message:edit", { messageId: m.id, text })); } catch (err) { alertError(err); }
    renderMessages();
  };
  box.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); save(); }
    if (ev.key === "Escape") renderMessages();
  });
  textNode.replaceWith(box);
  box.focus();
}

async function react(m, emoji) {
  const on = !((m.reactions || {})[emoji] || []).includes(S.me.id);
  try { await S.client.request("message:react", { messageId: m.id, emoji, on }); } catch (err) { alertError(err); }
}

function alertError(err) {
  $("typing").textContent = `\u26A0 ${err.message}`;
}

// older pages on scroll
$("messages").addEventListener("scroll", async () => {
  const id = S.active;
  if (!id || S.loadingOlder || !S.hasOlder.get(id) || $("messages").scrollTop > 40) return;
  S.loadingOlder = true;
  const box = $("messages");
  const before = box.scrollHeight;
  try {
    const oldest = Math.min(...messagesOf(id).keys());
    const page = await S.api.get(`/api/conversations/${id}/messages?before=${oldest}&limit=${PAGE}`);
    for (const m of page.data) storeMessage(m);
    S.hasOlder.set(id, page.hasMore);
    if (S.active === id) {
      renderMessages();
      box.scrollTop = box.scrollHeight - before;  // keep the reader's place
    }
  } finally {
    S.loadingOlder = false;
  }
});

// ------------------------------------------------------------------ sending
$("composer").addEventListener("submit", (ev) => { ev.preventDefault(); sendCurrent(); });
$("composer-input").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendCurrent(); }
});
$("composer-input").addEventListener("input", () => {
  const input = $("composer-input");
  input.style.height = "auto";
  input.style.height = `${input.scrollHeight}px`;
  if (!S.active) return;
  if (!input.value.trim()) {
    S.client.notify("typing:stop", { conversationId: S.active });
    S.lastTypingSent = 0;
  } else if (Date.now() - S.lastTypingSent > TYPING_EVERY_MS) {
    S.lastTypingSent = Date.now();
    S.client.notify("typing:start", { conversationId: S.active });
  }
});

function sendCurrent() {
  const input = $("composer-input");
  const text = input.value.trim();
  if (!text || !S.active) return;
  input.value = "";
  input.style.height = "auto";
  S.lastTypingSent = 0;
  const clientMsgId = newClientId();
  // optimistic: shown at once, reconciled with the stored message by clientMsgId
  S.pending.set(clientMsgId, { conversationId: S.active, text, createdAt: Date.now(), failed: false });
  renderMessages(true);
  trySend(clientMsgId);
}

async function trySend(clientMsgId) {
  const p = S.pending.get(clientMsgId);
  if (!p) return;
  try {
    const stored = await S.client.request("message:send", { conversationId: p.conversationId, text: p.text, clientMsgId });
    storeMessage(stored);
  } catch (err) {
    // a drop keeps it queued: flushOutbox resends it with the same clientMsgId after reconnect
    if (err.code !== "disconnected" && err.code !== "timeout") p.failed = true;
  }
  if (p.conversationId === S.active) renderMessages(true);
}

async function flushOutbox() {
  const queued = [...S.pending.entries()].filter(([, p]) => !p.failed).sort((a, b) => a[1].createdAt - b[1].createdAt);
  for (const [clientMsgId] of queued) await trySend(clientMsgId);
}

// ------------------------------------------------------------------ typing
function setTyping({ conversationId, userId, name }, on) {
  if (userId === S.me.id) return;
  if (!S.typing.has(conversationId)) S.typing.set(conversationId, new Map());
  const map = S.typing.get(conversationId);
  const prev = map.get(userId);
  if (prev) clearTimeout(prev.timer);
  if (on) map.set(userId, { name, timer: setTimeout(() => clearTyping(conversationId, userId), 8000) });
  else map.delete(userId);
  if (conversationId === S.active) renderTyping();
}

function clearTyping(conversationId, userId) {
  const map = S.typing.get(conversationId);
  if (map && map.has(userId)) { clearTimeout(map.get(userId).timer); map.delete(userId); }
  if (conversationId === S.active) renderTyping();
}

function renderTyping() {
  const names = [...(S.typing.get(S.active) || new Map()).values()].map((t) => t.name);
  let text = "";
  if (names.length === 1) text = `${names[0]} is typing…`;
  else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
  else if (names.length > 2) text = "Several people are typing…";
  $("typing").textContent = text;
}

// ------------------------------------------------------------------ filters and search
let searchTimer = null;
$("conv-search").addEventListener("input", () => {
  S.filter.q = $("conv-search").value.trim();
  renderList();
  clearTimeout(searchTimer);
  searchTimer = setTimeout(searchMessages, 250);
});
$("type-filter").addEventListener("change", () => { S.filter.type = $("type-filter").value; renderList(); });

async function searchMessages() {
  const q = S.filter.q;
  const box = $("search-results");
  if (q.length < 2) { box.hidden = true; return; }
  const page = await S.api.get(`/api/search?q=${encodeURIComponent(q)}&limit=20`).catch(() => ({ data: [] }));
  if (q !== S.filter.q) return;
  const list = $("search-list");
  list.replaceChildren();
  for (const m of page.data) {
    const conv = S.convs.get(m.conversationId);
    list.append(el("li", { onclick: () => openConversation(m.conversationId) },
      el("strong", { text: `${conv ? convTitle(conv) : "Conversation"} · ${m.senderName}: ` }),
      el("span", { text: m.text || "" })));
  }
  box.hidden = page.data.length === 0;
}

// ------------------------------------------------------------------ new conversation
const picked = new Map();
$("new-conv").addEventListener("click", () => {
  picked.clear();
  $("new-error").textContent = "";
  $("picked").textContent = "";
  $("user-search").value = "";
  $("user-results").replaceChildren();
  $("new-dialog").showModal();
  findUsers();
});
for (const radio of document.querySelectorAll("input[name=kind]")) {
  radio.addEventListener("change", () => { $("new-title").hidden = kind() !== "group"; });
}
const kind = () => document.querySelector("input[name=kind]:checked").value;
let userTimer = null;
$("user-search").addEventListener("input", () => { clearTimeout(userTimer); userTimer = setTimeout(findUsers, 200); });

async function findUsers() {
  const q = $("user-search").value.trim();
  const page = await S.api.get(`/api/users?q=${encodeURIComponent(q)}&limit=30`);
  const list = $("user-results");
  list.replaceChildren();
  for (const u of page.data.filter((x) => x.id !== S.me.id)) {
    const li = el("li", { class: picked.has(u.id) ? "picked" : "", dataset: { user: u.id } },
      el("span", { text: u.name }), el("span", { class: "role", text: u.role }));
    li.addEventListener("click", () => {
      if (kind() === "direct") picked.clear();
      if (picked.has(u.id)) picked.delete(u.id); else picked.set(u.id, u.name);
      $("picked").textContent = [...picked.values()].join(", ");
      findUsers();
    });
    list.append(li);
  }
}

$("new-create").addEventListener("click", async (ev) => {
  ev.preventDefault();
  const body = { type: kind(), participantIds: [...picked.keys()] };
  if (body.type === "group") body.title = $("new-title").value.trim();
  try {
    const conv = (await S.api.post("/api/conversations", body)).data;
    $("new-dialog").close();
    S.convs.set(conv.id, conv);
    await openConversation(conv.id);
  } catch (err) {
    $("new-error").textContent = err.message;
  }
});

boot();
