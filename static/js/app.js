// The web client's controller: sign-in, the socket, and the effects (REST and socket calls) that
// feed actions into the pure reducers of state/; the views in views/ render from the state.
// Plain ES modules, no build step. Every piece of user text reaches the page through textContent.
import { Api } from "./api.js";
import { ChatClient } from "./client.js";
import { initialState, reduce } from "./state/index.js";
import { convMessages, hasMessage, maxSeq, minSeq } from "./state/messages.js";
import { queuedInOrder } from "./state/outbox.js";
import { armLeave, togglePeople, renderConn, renderHeader, renderTitle, renderTyping } from "./views/chrome.js";
import { renderList } from "./views/list.js";
import { MessagesView } from "./views/messages.js";
import { NewConversationDialog } from "./views/newdialog.js";
import { MentionPicker } from "./views/mentionpicker.js";
import { convTitle } from "./state/conversations.js";
import { renderSearch, searchMessages } from "./views/search.js";
import { renderTray } from "./views/attachments.js";
import { AttachmentsController } from "./attachctl.js";
import { messageType } from "./files.js";
import { uploadsFor, uploadsReady } from "./state/uploads.js";
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
let keepScrollNext = false; // the next render adds newer pages below what is read: the view stays put
let loadingOlder = false;
let loadingNewer = false;
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
  view: (a) => attachments.view(a),
  reply: (m) => { dispatch({ type: "reply/start", message: m }); $("composer-input").focus(); },
  jumpTo: (conversationId, messageId) => jumpTo(conversationId, messageId),
  receipts: async (m) => (await api.get(`/api/messages/${m.id}/receipts`)).data.receipts,
});

const attachments = new AttachmentsController({
  api: () => api, state: () => state, dispatch: (action) => dispatch(action), showError: (err) => showError(err),
  newId: () => newClientId(),
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
  if (changed("conversations") || changed("messages") || changed("outbox") || changed("ui") || changed("links")) {
    messagesView.render(state, stickNext, keepScrollNext);
    stickNext = false;
    keepScrollNext = false;
    attachments.fetchLinks();
  }
  if (changed("ui") || changed("conversations")) renderReplyBar();
  if (changed("conversations")) renderSearch(state, openAt);
  if (changed("uploads") || changed("conversations")) {
    renderTray($("attach-tray"), state, { remove: (id) => attachments.remove(id), retry: (id) => attachments.retry(id) });
  }
}

// "Replying to Name: text" above the composer while a reply is being written.
function renderReplyBar() {
  const r = state.ui.replyTo[state.conversations.active];
  $("reply-bar").hidden = !r;
  const text = r ? `Replying to ${r.senderName}: ${r.text}`.slice(0, 200) : "";
  if ($("reply-text").textContent !== text) $("reply-text").textContent = text;
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
  // the archived ones too: the list's "Archived" filter shows them, and unarchiving is a flag away
  const [page, archived] = await Promise.all([api.get("/api/conversations?limit=100"),
    api.get("/api/conversations?archived=true&limit=100")]);
  dispatch({ type: "conversations/loaded", conversations: page.data.concat(archived.data) });
}

// Pin, mute and archive are the caller's own flags (PATCH); the answer is the conversation as I see it.
async function setFlag(flag) {
  const id = state.conversations.active;
  const conv = id && state.conversations.byId[id];
  if (!conv) return;
  try {
    const updated = (await api.patch(`/api/conversations/${id}`, { [flag]: !conv[flag] })).data;
    dispatch({ type: "conversation/upsert", conversation: updated });
  } catch (err) {
    showError(err);
  }
}

async function leave() {
  const id = state.conversations.active;
  if (!id) return;
  if ($("conv-leave").dataset.armed !== "1") { armLeave(true); return; }
  armLeave(false);
  try {
    await api.delete(`/api/conversations/${id}/participants/${encodeURIComponent(state.me.id)}`);
    dispatch({ type: "conversation/removed", conversationId: id });
    $("conv-search").focus();
  } catch (err) {
    showError(err);
  }
}

async function openConversation(id) {
  const previous = state.conversations.active;
  if (previous) dispatch({ type: "draft/set", conversationId: previous, text: $("composer-input").value });
  stickNext = true;
  notice = "";
  dispatch({ type: "conversation/open", conversationId: id });
  $("composer-input").value = state.ui.drafts[id] || "";
  const held = convMessages(state.messages, id);
  if (held.hasOlder === null || held.hasNewer) await loadNewest(id);
  if (state.conversations.active !== id) return;
  markRead(id);
  $("composer-input").focus();
}

/** The newest page of a conversation, replacing whatever window of it was held. */
async function loadNewest(id) {
  const page = await api.get(`/api/conversations/${id}/messages?limit=${PAGE}`);
  stickNext = true;
  dispatch({ type: "messages/replace", conversationId: id, messages: page.data, hasOlder: page.hasMore, hasNewer: false });
  await catchUp(id);
}

// Pushes that came while a window was shown (and before the page that ended it) were not kept:
// the conversation's lastSeq says whether any are missing.
async function catchUp(id) {
  const conv = state.conversations.byId[id];
  if (conv && !convMessages(state.messages, id).hasNewer && (conv.lastSeq || 0) > maxSeq(state.messages, id)) await fetchAfter(id);
}

// A search result: the conversation opened at that message (a window of messages around it when
// it is not held), the message highlighted and focused.
async function openAt(id, seq) {
  if (!state.conversations.byId[id]) return;
  const previous = state.conversations.active;
  if (previous && previous !== id) dispatch({ type: "draft/set", conversationId: previous, text: $("composer-input").value });
  notice = "";
  dispatch({ type: "conversation/open", conversationId: id });
  $("composer-input").value = state.ui.drafts[id] || "";
  if (!hasMessage(state.messages, id, seq)) {
    try {
      const page = await api.get(`/api/conversations/${id}/messages?around=${seq}&limit=${PAGE}`);
      if (state.conversations.active !== id) return;
      dispatch({ type: "messages/replace", conversationId: id, messages: page.data, hasOlder: page.hasMore,
        hasNewer: Boolean(page.hasNewer) });
    } catch (err) {
      showError(err);
      return;
    }
  }
  if (state.conversations.active !== id) return;
  dispatch({ type: "highlight/set", conversationId: id, seq });
  messagesView.reveal(seq);
  markRead(id);
}

function closeChat() {
  const id = state.conversations.active;
  if (id) dispatch({ type: "draft/set", conversationId: id, text: $("composer-input").value });
  dispatch({ type: "conversation/close" });
  const row = document.querySelector(`[data-testid=conv-item][data-id="${CSS.escape(id || "")}"] button`);
  if (row) row.focus();
}

// `sent`: one's own send was just acknowledged, so what is shown has been seen whatever the page's
// visibility says, and only up to the newest seq shown (not messages still on their way).
async function markRead(id, sent = false) {
  const conv = state.conversations.byId[id];
  if (!conv || (!sent && document.visibilityState === "hidden") || !client || client.state !== "online") return;
  const top = sent ? maxSeq(state.messages, id) : Math.max(maxSeq(state.messages, id), conv.lastSeq || 0);
  const mine = state.unread[id] || { unread: 0, lastReadSeq: 0 };
  if (top <= mine.lastReadSeq && !mine.unread) return;
  try {
    const r = await request("message:read", { conversationId: id, seq: top });
    dispatch({ type: "unread/set", conversationId: id, unread: r.unread, lastReadSeq: r.lastReadSeq, mentions: r.mentions });
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
    if (m.type !== "system") notify(m);
  }
}

// A desktop notification while the tab is hidden: direct messages (unless muted) and mentions
// of me (even in muted conversations). Permission is only asked for by the Notifications button.
function notify(m) {
  if (document.visibilityState !== "hidden" || typeof Notification === "undefined" || Notification.permission !== "granted") return;
  const conv = state.conversations.byId[m.conversationId];
  if (!conv) return;
  const mentionsMe = (m.mentions || []).includes(state.me.id);
  if (!mentionsMe && (conv.type !== "direct" || conv.muted)) return;
  const title = mentionsMe ? `${m.senderName} mentioned you in ${convTitle(conv, state.me.id)}` : m.senderName;
  const body = m.text || ((m.attachments || [])[0] || {}).name || "";
  const note = new Notification(title, { body: body.slice(0, 200), tag: m.conversationId });
  note.onclick = () => { window.focus(); openConversation(m.conversationId); note.close(); };
}

function renderNotifyButton() {
  const button = $("notify");
  button.hidden = typeof Notification === "undefined" || Notification.permission !== "default";
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
$("messages").addEventListener("scroll", () => {
  const id = state && state.conversations.active;
  if (!id) return;
  const box = $("messages");
  if (box.scrollTop <= 40) loadOlder(id);
  else if (box.scrollHeight - box.scrollTop - box.clientHeight <= 40) loadNewer(id);
});

/** After a jump: the page after the newest message held (until the window reaches the newest). */
async function loadNewer(id) {
  if (loadingNewer || !convMessages(state.messages, id).hasNewer) return;
  loadingNewer = true;
  try {
    const page = await api.get(`/api/conversations/${id}/messages?after=${maxSeq(state.messages, id)}&limit=${PAGE}`);
    keepScrollNext = true;
    dispatch({ type: "messages/page", conversationId: id, messages: page.data, hasNewer: page.hasMore });
    await catchUp(id);
  } catch (err) {
    showError(err);
  } finally {
    loadingNewer = false;
  }
}

/** Load the page before the oldest message held; false when there is none (or one is loading). */
async function loadOlder(id) {
  if (loadingOlder || !convMessages(state.messages, id).hasOlder) return false;
  loadingOlder = true;
  const box = $("messages");
  const before = box.scrollHeight - box.scrollTop;
  try {
    const page = await api.get(`/api/conversations/${id}/messages?before=${minSeq(state.messages, id)}&limit=${PAGE}`);
    dispatch({ type: "messages/page", conversationId: id, messages: page.data, hasOlder: page.hasMore });
    if (state.conversations.active === id) box.scrollTop = box.scrollHeight - before;  // keep the reader's place
    return true;
  } finally {
    loadingOlder = false;
  }
}

// A reply's quote jumps to the message it answers, loading older pages until it is held.
async function jumpTo(conversationId, messageId) {
  const find = () => Object.values(convMessages(state.messages, conversationId).bySeq).find((m) => m.id === messageId);
  let target = find();
  try {
    while (!target && state.conversations.active === conversationId && await loadOlder(conversationId)) target = find();
  } catch (err) {
    showError(err);
    return;
  }
  if (state.conversations.active !== conversationId) return;
  if (!target) { showError(new Error("The original message is not available any more")); return; }
  dispatch({ type: "highlight/set", conversationId, seq: target.seq });
  messagesView.reveal(target.seq);
}

// ------------------------------------------------------------------ sending
function sendCurrent() {
  const input = $("composer-input");
  const text = input.value.trim();
  const id = state.conversations.active;
  const files = id ? uploadsFor(state.uploads, id) : [];
  if ((!text && !files.length) || !id) return;
  if (!uploadsReady(state.uploads, id)) {
    showError(new Error("Wait until the files are uploaded (or remove the ones that failed)"));
    return;
  }
  input.value = "";
  input.style.height = "auto";
  lastTypingSent = 0;
  dispatch({ type: "draft/set", conversationId: id, text: "" });
  const clientMsgId = newClientId();
  // optimistic: shown at once, reconciled with the stored message by clientMsgId
  stickNext = true;
  const reply = state.ui.replyTo[id];
  const mentions = mentionPicker.mentions(id, text);
  mentionPicker.forget(id);
  dispatch({ type: "outbox/queued", clientMsgId, conversationId: id, text, createdAt: Date.now(),
    attachments: files.map(([, u]) => u.upload), localIds: files.map(([localId]) => localId), replyTo: reply ? reply.id : null, mentions });
  if (reply) dispatch({ type: "reply/cancel", conversationId: id });
  for (const [localId] of files) attachments.forget(localId);
  // from a window of older messages: back to the newest first, so the stored copy lands among them
  if (convMessages(state.messages, id).hasNewer) loadNewest(id).catch(showError).finally(() => trySend(clientMsgId));
  else trySend(clientMsgId);
}

async function trySend(clientMsgId) {
  const p = state.outbox[clientMsgId];
  if (!p || p.status === "sending") return;
  dispatch({ type: "outbox/sending", clientMsgId });
  try {
    const data = { conversationId: p.conversationId, text: p.text, clientMsgId };
    if (p.replyTo) data.replyTo = p.replyTo;
    if (p.mentions.length) data.mentions = p.mentions;
    if (p.attachments.length) {
      data.attachments = p.attachments.map((a) => ({ uploadId: a.id }));
      data.type = messageType(p.attachments);
    }
    const stored = await request("message:send", data);
    dispatch({ type: "message/stored", message: stored });
    // writing in a conversation means reading it: one's own count clears
    if (state.conversations.active === p.conversationId) markRead(p.conversationId, true);
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

// The classes a teacher can start a conversation for without typing an id: those of the class and
// announcement conversations it is in (no route lists a user's classes).
function knownClasses() {
  const seen = new Map();
  for (const c of Object.values(state.conversations.byId)) {
    if (c.classId && !seen.has(c.classId)) seen.set(c.classId, c.type === "class" ? c.title : null);
  }
  return [...seen].map(([id, name]) => ({ id, name }));
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
// Built before wire(): its keydown listener must run before the composer's (Enter picks, not sends).
const mentionPicker = new MentionPicker($("composer-input"), $("mention-list"), {
  participants: () => ((state && state.conversations.byId[state.conversations.active]) || {}).participants || [],
  meId: () => state.me.id,
  conversationId: () => state.conversations.active,
});

function wire() {
  renderNotifyButton();
  $("notify").addEventListener("click", async () => {
    await Notification.requestPermission();
    renderNotifyButton();
  });
  $("signout").addEventListener("click", () => {
    sessionStorage.removeItem("chat.token");
    if (client) client.stop();
    location.reload();
  });
  $("back").addEventListener("click", closeChat);
  $("conv-people").addEventListener("click", () => togglePeople());
  $("people-panel").addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") { togglePeople(false); $("conv-people").focus(); }
  });
  $("conv-pin").addEventListener("click", () => setFlag("pinned"));
  $("conv-mute").addEventListener("click", () => setFlag("muted"));
  $("conv-archive").addEventListener("click", () => setFlag("archived"));
  $("conv-leave").addEventListener("click", leave);
  $("conv-leave").addEventListener("blur", () => armLeave(false));
  document.addEventListener("visibilitychange", () => { if (state && state.conversations.active) markRead(state.conversations.active); });
  $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); sendCurrent(); });
  const input = $("composer-input");
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); sendCurrent(); }
    if (ev.key === "Escape" && state.ui.replyTo[state.conversations.active]) {
      ev.preventDefault();
      dispatch({ type: "reply/cancel", conversationId: state.conversations.active });
    }
  });
  $("reply-cancel").addEventListener("click", () => {
    dispatch({ type: "reply/cancel", conversationId: state.conversations.active });
    input.focus();
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
  $("attach").addEventListener("click", () => $("attach-input").click());
  $("attach-input").addEventListener("change", () => {
    attachments.addFiles([...$("attach-input").files]);
    $("attach-input").value = "";
    input.focus();
  });
  input.addEventListener("paste", (ev) => {
    const files = [...((ev.clipboardData && ev.clipboardData.files) || [])];
    if (!files.length) return;
    ev.preventDefault();  // a pasted picture is attached, not pasted as its file name
    attachments.addFiles(files);
  });
  attachments.wireDrop($("chat"), () => !$("composer").hidden, (on) => { $("drop-hint").hidden = !on; });
  $("viewer-close").addEventListener("click", () => $("viewer").close());
  let searchTimer = null;
  $("conv-search").addEventListener("input", () => {
    dispatch({ type: "filter/set", filter: { q: $("conv-search").value.trim() } });
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => searchMessages(api, () => state, dispatch), SEARCH_DEBOUNCE_MS);
  });
  $("type-filter").addEventListener("change", () => dispatch({ type: "filter/set", filter: { type: $("type-filter").value } }));
  const dialog = new NewConversationDialog({
    api: () => api, me: () => state.me,
    classes: () => knownClasses(),
    created: async (conv) => { dispatch({ type: "conversation/upsert", conversation: conv }); await openConversation(conv.id); },
  });
  $("new-conv").addEventListener("click", () => dialog.open());
}

wire();
const saved = sessionStorage.getItem("chat.token");
if (saved) start(saved); else showSignIn("", start);
