// The web client's controller: sign-in, the socket, and the effects (REST and socket calls) that
// feed actions into the pure reducers of state/; the views in views/ render from the state.
// Plain ES modules, no build step. Every piece of user text reaches the page through textContent.
import { Api } from "./api.js";
import { ChatClient } from "./client.js";
import { initialState, reduce } from "./state/index.js";
import { convMessages, hasMessage, maxSeq, minSeq } from "./state/messages.js";
import { queuedInOrder } from "./state/outbox.js";
import { renderConn, renderHeader, renderTitle, renderTyping } from "./views/chrome.js";
import { renderList } from "./views/list.js";
import { MessagesView } from "./views/messages.js";
import { NewConversationDialog } from "./views/newdialog.js";
import { searchMessages } from "./views/search.js";
import { showSignIn } from "./views/signin.js";

const $ = (id) => document.getElementById(id);
const TYPING_EVERY_MS = 2000;
const TYPING_FORGET_MS = 8000;
const DELIVERED_EVERY_MS = 500;
const PAGE = 50;
const SEARCH_DEBOUNCE_MS = 250;

let api = null;
let client = null;
let state = null;
let notice = "";            // a failed action's message, shown in the typing line until the next change
let stickNext = false;      // scroll to the newest message on the next render
let loadingOlder = false;
let lastTypingSent = 0;
let offlineSince = null;    // when the socket dropped (sync asks for what changed since)
const typingTimers = new Map();  // "conversationId/userId" -> timer forgetting a silent typist
const deliveredPending = new Map();
let deliveredTimer = null;

const messagesView = new MessagesView($("messages"), $("message-list"), $("load-older"), {
  react, retry: (cid) => trySend(cid),
  startEdit: (m) => dispatch({ type: "edit/start", messageId: m.id, conversationId: m.conversationId, seq: m.seq, text: m.text || "" }),
  editChange: (draft) => { state = reduce(state, { type: "edit/change", draft }); },  // the box already shows it
  saveEdit, cancelEdit: () => dispatch({ type: "edit/stop" }),
  armDelete: (m) => dispatch({ type: "delete/arm", messageId: m.id }),
  remove: (m) => request("message:delete", { messageId: m.id }).catch(showError),
});

// ------------------------------------------------------------------ state and rendering
function dispatch(action) {
  const prev = state;
  state = reduce(state, action);
  if (state !== prev) render(prev);
}

function render(prev) {
  const now = Date.now();
  const changed = (key) => !prev || prev[key] !== state[key];
  const sessionChanged = (key) => !prev || prev.session[key] !== state.session[key];
  // typing comes every couple of seconds: it must not rebuild the list under the pointer
  if (changed("conversations") || changed("unread") || sessionChanged("online")) {
    renderList($("conv-list"), state, openConversation, now);
    renderHeader(state);
  }
  if (sessionChanged("conn")) renderConn(state, now);
  if (sessionChanged("typing") || changed("conversations")) renderTyping(state, notice);
  if (changed("unread") || changed("conversations")) renderTitle(state);
  if (changed("conversations") || changed("messages") || changed("outbox") || changed("ui")) {
    messagesView.render(state, stickNext);
    stickNext = false;
  }
}

function showError(err) {
  notice = `\u26A0 ${err.message}`;
  renderTyping(state, notice);
}

function request(event, data) {
  return client.request(event, data);
}

// ------------------------------------------------------------------ sign in
async function start(token) {
  api = new Api(token);
  let me;
  try {
    me = (await api.get("/api/me")).data;
  } catch (err) {
    sessionStorage.removeItem("chat.token");
    return showSignIn(err.status === 401 ? "That token was refused: " + err.message : err.message, start);
  }
  sessionStorage.setItem("chat.token", token);
  state = initialState(me);
  $("signin").hidden = true;
  $("app").hidden = false;
  $("me-name").textContent = `${me.name} · ${me.role}`;
  render(null);
  await loadConversations();
  connect(token);
  // relative times and the retry countdown move with the clock
  setInterval(() => { if (state.session.conn.state === "offline") renderConn(state, Date.now()); }, 1000);
}

// ------------------------------------------------------------------ socket
function connect(token) {
  client = new ChatClient(token);
  const on = (name, fn) => client.addEventListener(name, (ev) => fn(ev.detail));
  on("state", ({ state: conn, retryAt }) => {
    if (conn === "offline" && offlineSince === null) offlineSince = Date.now();
    dispatch({ type: "conn/state", state: conn, retryAt });
  });
  on("ready", onReady);
  on("expired", () => { sessionStorage.removeItem("chat.token"); showSignIn("Your session expired.", start); });
  on("message:new", onNew);
  on("session:resync", () => resync());
  on("message:updated", (m) => dispatch({ type: "message/updated", message: m }));
  on("message:deleted", onDeleted);
  on("message:status", (d) => dispatch({ type: "receipt", ...d }));
  on("unread:update", (d) => dispatch({ type: "unread/set", ...d }));
  on("typing:start", (d) => setTyping(d, true));
  on("typing:stop", (d) => setTyping(d, false));
  on("user:online", (d) => dispatch({ type: "presence/online", userId: d.userId }));
  on("user:offline", (d) => dispatch({ type: "presence/offline", userId: d.userId }));
  on("conversation:created", (c) => dispatch({ type: "conversation/upsert", conversation: c }));
  on("conversation:updated", (c) => dispatch({ type: "conversation/upsert", conversation: c }));
  on("conversation:removed", (d) => dispatch({ type: "conversation/removed", conversationId: d.conversationId }));
  client.connect();
}

async function onReady({ reconnected }) {
  try {
    const people = await request("presence:list", {});
    dispatch({ type: "presence/list", userIds: people.map((p) => p.userId) });
  } catch (_) { /* presence is best effort */ }
  if (reconnected) await resync();
  // the list was read before the socket subscribed: read it again so nothing in between is missed
  else await loadConversations();
  await flushOutbox();
  if (state.conversations.active) markRead(state.conversations.active);
}

// After a drop: everything after the last seq held, and what changed meanwhile.
async function resync() {
  const seen = {};
  for (const id of Object.keys(state.messages)) if (state.conversations.byId[id]) seen[id] = maxSeq(state.messages, id);
  // a margin before the drop: an edit may have been stored just before the socket noticed
  const since = new Date((offlineSince === null ? Date.now() : offlineSince) - 5000).toISOString();
  try {
    const result = await request("sync", { conversations: seen, changedSince: since, limit: 200 });
    for (const m of result.messages) dispatch({ type: "message/stored", message: m });
    for (const m of result.changed) dispatch({ type: "message/updated", message: m });
    for (const [id, more] of Object.entries(result.hasMore)) if (more) await fetchAfter(id);
  } catch (err) {
    console.warn("sync failed", err);
  }
  offlineSince = null;
  await loadConversations();
}

async function fetchAfter(id) {
  for (;;) {
    const page = await api.get(`/api/conversations/${id}/messages?after=${maxSeq(state.messages, id)}&limit=100`);
    dispatch({ type: "messages/page", conversationId: id, messages: page.data });
    if (!page.hasMore) return;
  }
}

// ------------------------------------------------------------------ conversations
async function loadConversations() {
  const page = await api.get("/api/conversations?limit=100");
  dispatch({ type: "conversations/loaded", conversations: page.data });
}

async function openConversation(id) {
  const previous = state.conversations.active;
  if (previous) dispatch({ type: "draft/set", conversationId: previous, text: $("composer-input").value });
  stickNext = true;
  notice = "";
  dispatch({ type: "conversation/open", conversationId: id });
  $("composer-input").value = state.ui.drafts[id] || "";
  if (convMessages(state.messages, id).hasOlder === null) {
    const page = await api.get(`/api/conversations/${id}/messages?limit=${PAGE}`);
    stickNext = true;
    dispatch({ type: "messages/page", conversationId: id, messages: page.data, hasOlder: page.hasMore });
  }
  if (state.conversations.active !== id) return;
  markRead(id);
  $("composer-input").focus();
}

function closeChat() {
  const id = state.conversations.active;
  if (id) dispatch({ type: "draft/set", conversationId: id, text: $("composer-input").value });
  dispatch({ type: "conversation/close" });
  const row = document.querySelector(`[data-testid=conv-item][data-id="${CSS.escape(id || "")}"] button`);
  if (row) row.focus();
}

async function markRead(id) {
  const conv = state.conversations.byId[id];
  if (!conv || document.visibilityState === "hidden" || !client || client.state !== "online") return;
  const top = Math.max(maxSeq(state.messages, id), conv.lastSeq || 0);
  const mine = state.unread[id] || { unread: 0, lastReadSeq: 0 };
  if (top <= mine.lastReadSeq && !mine.unread) return;
  try {
    const r = await request("message:read", { conversationId: id, seq: top });
    dispatch({ type: "unread/set", conversationId: id, unread: r.unread, lastReadSeq: r.lastReadSeq });
  } catch (_) { /* retried on the next open or reconnect */ }
}

// ------------------------------------------------------------------ messages
function onNew(m) {
  const known = hasMessage(state.messages, m.conversationId, m.seq);
  const open = m.conversationId === state.conversations.active;
  const reading = open && document.visibilityState !== "hidden";
  if (m.senderId === state.me.id && m.clientMsgId && state.outbox[m.clientMsgId]) stickNext = true;
  dispatch({ type: "message/new", message: m, me: state.me.id, reading });
  clearTypingTimer(m.conversationId, m.senderId);
  if (!state.conversations.byId[m.conversationId]) { loadConversations(); return; }
  if (m.senderId !== state.me.id && !known) {
    deliveredUpTo(m.conversationId, m.seq);
    if (reading) markRead(m.conversationId);
    if (open && m.type !== "system") announce(m);
  }
}

// A screen reader hears new messages in the open conversation; a deleted one is taken back.
let announced = null;
function announce(m) {
  announced = `${m.conversationId}/${m.seq}`;
  $("announcer").textContent = `${m.senderName}: ${m.text || ""}`.slice(0, 200);
}

function onDeleted({ conversationId, seq }) {
  if (announced === `${conversationId}/${seq}`) $("announcer").textContent = "";
  dispatch({ type: "message/deleted", conversationId, seq });
}

// Delivery receipts are coalesced: at most one per conversation every 500 ms, carrying the
// highest seq (a burst of messages costs the server one marker write, not one per message).
function deliveredUpTo(conversationId, seq) {
  deliveredPending.set(conversationId, Math.max(seq, deliveredPending.get(conversationId) || 0));
  if (deliveredTimer) return;
  deliveredTimer = setTimeout(() => {
    deliveredTimer = null;
    for (const [id, top] of deliveredPending) client.notify("message:delivered", { conversationId: id, seq: top });
    deliveredPending.clear();
  }, DELIVERED_EVERY_MS);
}

async function saveEdit(m, value) {
  const text = value.trim();
  if (!text || text === m.text) { dispatch({ type: "edit/stop" }); return; }
  try {
    dispatch({ type: "message/stored", message: await request("message:edit", { messageId: m.id, text }) });
    dispatch({ type: "edit/stop" });
  } catch (err) {
    showError(err);  // the box stays open with the text, to fix or retry
  }
}

async function react(m, emoji) {
  const on = !((m.reactions || {})[emoji] || []).includes(state.me.id);
  try { await request("message:react", { messageId: m.id, emoji, on }); } catch (err) { showError(err); }
}

// older pages on scroll
$("messages").addEventListener("scroll", async () => {
  const id = state && state.conversations.active;
  if (!id || loadingOlder || !convMessages(state.messages, id).hasOlder || $("messages").scrollTop > 40) return;
  loadingOlder = true;
  const box = $("messages");
  const before = box.scrollHeight - box.scrollTop;
  try {
    const page = await api.get(`/api/conversations/${id}/messages?before=${minSeq(state.messages, id)}&limit=${PAGE}`);
    dispatch({ type: "messages/page", conversationId: id, messages: page.data, hasOlder: page.hasMore });
    if (state.conversations.active === id) box.scrollTop = box.scrollHeight - before;  // keep the reader's place
  } finally {
    loadingOlder = false;
  }
});

// ------------------------------------------------------------------ sending
function sendCurrent() {
  const input = $("composer-input");
  const text = input.value.trim();
  const id = state.conversations.active;
  if (!text || !id) return;
  input.value = "";
  input.style.height = "auto";
  lastTypingSent = 0;
  dispatch({ type: "draft/set", conversationId: id, text: "" });
  const clientMsgId = newClientId();
  // optimistic: shown at once, reconciled with the stored message by clientMsgId
  stickNext = true;
  dispatch({ type: "outbox/queued", clientMsgId, conversationId: id, text, createdAt: Date.now() });
  trySend(clientMsgId);
}

async function trySend(clientMsgId) {
  const p = state.outbox[clientMsgId];
  if (!p || p.status === "sending") return;
  dispatch({ type: "outbox/sending", clientMsgId });
  try {
    const stored = await request("message:send", { conversationId: p.conversationId, text: p.text, clientMsgId });
    dispatch({ type: "message/stored", message: stored });
  } catch (err) {
    // a drop or a lost reply keeps it queued: resent with the same clientMsgId (the server
    // stores it once) after the reconnect, or at once by Retry
    if (err.code === "disconnected" || err.code === "timeout") dispatch({ type: "outbox/waiting", clientMsgId });
    else dispatch({ type: "outbox/failed", clientMsgId, error: err.message });
  }
}

async function flushOutbox() {
  for (const clientMsgId of queuedInOrder(state.outbox)) await trySend(clientMsgId);
}

function newClientId() {
  const rnd = crypto.getRandomValues(new Uint32Array(3));
  return `w-${Date.now().toString(36)}-${Array.from(rnd, (n) => n.toString(36)).join("")}`;
}

// ------------------------------------------------------------------ typing
function setTyping({ conversationId, userId, name }, on) {
  if (userId === state.me.id) return;
  notice = "";
  clearTypingTimer(conversationId, userId);
  if (on) {
    // a typist whose stop never comes (a dropped socket) is forgotten
    typingTimers.set(`${conversationId}/${userId}`,
      setTimeout(() => dispatch({ type: "typing/stop", conversationId, userId }), TYPING_FORGET_MS));
    dispatch({ type: "typing/start", conversationId, userId, name });
  } else dispatch({ type: "typing/stop", conversationId, userId });
}

function clearTypingTimer(conversationId, userId) {
  const key = `${conversationId}/${userId}`;
  clearTimeout(typingTimers.get(key));
  typingTimers.delete(key);
}

// ------------------------------------------------------------------ page wiring
function wire() {
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("chat.token");
    if (client) client.stop();
    location.reload();
  });
  $("back").addEventListener("click", closeChat);
  document.addEventListener("visibilitychange", () => { if (state && state.conversations.active) markRead(state.conversations.active); });
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); sendCurrent(); });
  const input = $("composer-input");
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendCurrent(); }
  });
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight}px`;
    const id = state.conversations.active;
    if (!id) return;
    if (!input.value.trim()) {
      client.notify("typing:stop", { conversationId: id });
      lastTypingSent = 0;
    } else if (Date.now() - lastTypingSent > TYPING_EVERY_MS) {
      lastTypingSent = Date.now();
      client.notify("typing:start", { conversationId: id });
    }
  });
  let searchTimer = null;
  $("conv-search").addEventListener("input", () => {
    dispatch({ type: "filter/set", filter: { q: $("conv-search").value.trim() } });
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => searchMessages(api, () => state, openConversation), SEARCH_DEBOUNCE_MS);
  });
  $("type-filter").addEventListener("change", () => dispatch({ type: "filter/set", filter: { type: $("type-filter").value } }));
  const dialog = new NewConversationDialog({
    api: () => api, me: () => state.me,
    created: async (conv) => { dispatch({ type: "conversation/upsert", conversation: conv }); await openConversation(conv.id); },
  });
  $("new-conv").addEventListener("click", () => dialog.open());
}

wire();
const saved = sessionStorage.getItem("chat.token");
if (saved) start(saved); else showSignIn("", start);
