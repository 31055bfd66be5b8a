// The web client's entry: builds the store, the views and the controllers (each given what it
// needs), routes the socket's pushes to them, and signs in. Plain ES modules, no build step.
// The state lives in the store alone (state/ holds its pure reducers); controllers/ turn browser
// events, REST answers and pushes into actions; views/ render from the state. Every piece of
// user text reaches the page through textContent.
import { createStore } from "./store.js";
import { newClientId } from "./ids.js";
import { MessagesView } from "./views/messages.js";
import { MentionPicker } from "./views/mentionpicker.js";
import { AttachmentsController } from "./controllers/attachments.js";
import { ComposerController } from "./controllers/composer.js";
import { ConversationsController } from "./controllers/conversations.js";
import { HistoryController } from "./controllers/history.js";
import { MessagesController } from "./controllers/messages.js";
import { NotificationsController } from "./controllers/notifications.js";
import { ReceiptsController } from "./controllers/receipts.js";
import { Renderer } from "./controllers/render.js";
import { SessionController } from "./controllers/session.js";
import { SyncController } from "./controllers/sync.js";
import { TypingController } from "./controllers/typing.js";
import { AdminController } from "./controllers/admin.js";
import { AdminRecordsController } from "./controllers/adminrecords.js";
import { QuietController } from "./controllers/adminquiet.js";
import { SafetyController } from "./controllers/safety.js";
import { ModerationController } from "./controllers/moderation.js";
import { PersistController } from "./controllers/persist.js";
import { RouteController } from "./controllers/route.js";
import { ClassesController } from "./controllers/classes.js";
import { PeopleController } from "./controllers/people.js";
import { refusalText } from "./policy.js";
import { NotifySettings } from "./views/notifysettings.js";
import { openLinkedConversation } from "./views/deeplink.js";
import { ForwardDialog } from "./views/forward.js";  // notifications: forwarding
import { SendLater } from "./views/sendlater.js";  // notifications: scheduled messages
import { convTitle } from "./state/conversations.js";
import { LANGUAGES, applyLanguage, errorText, t, translateStatic } from "./i18n.js";
import { wireSheet } from "./views/sheet.js";

const $ = (id) => document.getElementById(id);

// the language first (the user's choice, else the browser's): the page's lang follows it
const language = applyLanguage();
translateStatic(document);
$("lang-pick").replaceChildren(...LANGUAGES.map(([code, name]) => Object.assign(document.createElement("option"),
  { value: code, textContent: name, lang: code, selected: code === language })));
$("lang-pick").addEventListener("change", () => { applyLanguage($("lang-pick").value); location.reload(); });

const store = createStore();
// after sign-in focus goes to the conversations (the first one), not the page's body
const startFocus = () => {
  if (store.state.conversations.active) return;  // an address opened one: its composer has focus
  const first = document.querySelector("#conv-list button") || $("new-conv");
  first.focus();
};
const dispatch = (action) => store.dispatch(action);
// a failed action's message, shown in the typing line until the next change (a refusal by the
// school's rules in plain words, never the server's)
const showError = (err) => dispatch({ type: "notice/set",
  text: `\u26A0 ${(refusalText(err.code, err.message, Date.now()) || errorText(err)).replace(t("refuse.prefix"), t("refuse.prefixSaved"))}` });

// The controllers call one another through these: each is built once, before any event arrives.
const messagesView = new MessagesView($("messages"), $("message-list"), $("load-older"), {
  react: (m, emoji) => messages.react(m, emoji), retry: (cid) => composer.trySend(cid),
  startEdit: (m) => dispatch({ type: "edit/start", messageId: m.id, conversationId: m.conversationId, seq: m.seq, text: m.text || "" }),
  editChange: (draft) => store.update({ type: "edit/change", draft }),  // the box already shows it
  saveEdit: (m, value) => messages.saveEdit(m, value), cancelEdit: () => dispatch({ type: "edit/stop" }),
  armDelete: (m) => dispatch({ type: "delete/arm", messageId: m.id }),
  remove: (m) => messages.remove(m),
  view: (a) => attachments.view(a),
  reply: (m) => composer.reply(m),
  jumpTo: (conversationId, messageId) => history.jumpTo(conversationId, messageId),
  receipts: async (m) => (await session.api.get(`/api/messages/${m.id}/receipts`)).data.receipts,
  report: (m) => safety.reportMessage(m),
  discard: (cid) => composer.discard(cid), takeBack: (cid) => composer.takeBack(cid),
  forward: (m) => forwardDialog.open(m),
});
const attachments = new AttachmentsController({
  api: () => session.api, state: () => store.state, dispatch, update: (action) => store.update(action), showError,
  newId: newClientId,
});
// Built before the composer is wired: its keydown listener must run first (Enter picks, not sends).
const mentionPicker = new MentionPicker($("composer-input"), $("mention-list"), {
  participants: () => ((store.state && store.state.conversations.byId[store.state.conversations.active]) || {}).participants || [],
  meId: () => store.state.me.id,
  conversationId: () => store.state.conversations.active,
});

const persist = new PersistController({ store });
const session = new SessionController({
  store, tick: () => renderer.tick(),
  // the saved outbox and drafts first: a conversation opened from the list finds its draft
  loaded: () => persist.restore().then(() => Promise.all([conversations.load(), safety.load(), moderation.probe(), classes.load()]))
    .then(() => { route.start(); startFocus(); }),
  ready: (d) => { sync.ready(d); if (d.reconnected) moderation.refresh(); },
  pushes: {
    "message:new": (m) => messages.received(m),
    "session:resync": () => sync.resync(),
    "message:updated": (m) => dispatch({ type: "message/updated", message: m }),
    "message:deleted": (d) => messages.deleted(d),
    "message:status": (d) => dispatch({ type: "receipt", ...d }),
    "unread:update": (d) => dispatch({ type: "unread/set", ...d }),
    "typing:start": (d) => typing.set(d, true),
    "typing:stop": (d) => typing.set(d, false),
    "user:online": (d) => dispatch({ type: "presence/online", userId: d.userId }),
    "user:offline": (d) => dispatch({ type: "presence/offline", userId: d.userId }),
    "conversation:created": (c) => dispatch({ type: "conversation/upsert", conversation: c }),
    "conversation:updated": (c) => dispatch({ type: "conversation/upsert", conversation: c }),
    "conversation:removed": (d) => dispatch({ type: "conversation/removed", conversationId: d.conversationId }),
    "school:policy": (d) => { safety.policyPushed(d); quiet.policyPushed(d); },
    "moderation:case": (c) => moderation.pushed(c),
  },
});
const receipts = new ReceiptsController({ store, session });
const history = new HistoryController({ store, session, messagesView, showError });
const conversations = new ConversationsController({ store, session, history, receipts, messagesView, showError });
const typing = new TypingController({ store });
const notifications = new NotificationsController({ store, openConversation: (id) => conversations.open(id) });
const messages = new MessagesController({ store, session, conversations, typing, receipts, notifications, showError });
const composer = new ComposerController({ store, session, history, receipts, attachments, mentionPicker, newId: newClientId, showError,
  composerHidden: () => $("composer").hidden, draftTyped: (id, text) => persist.draftTyped(id, text) });
const safety = new SafetyController({ store, session, policyChanged: () => conversations.policyChanged() });
const moderation = new ModerationController({ store, session });
const sync = new SyncController({ store, session, history, conversations, composer, receipts });
const classes = new ClassesController({ store, session, open: (id) => conversations.open(id), showError });
const people = new PeopleController({ store, session, showError });
const route = new RouteController({ store, open: (id) => conversations.open(id), close: () => conversations.close() });
const renderer = new Renderer({
  store, messagesView, attachments, openConversation: (id) => conversations.open(id), openAt: (id, seq) => conversations.openAt(id, seq),
  moderation: moderation.handlers(), renderBlocked: () => safety.renderBlocked(),
  openClass: (classId, type) => classes.open(classId, type),
});
store.subscribe((prev) => renderer.render(prev));
// notifications: forwarding (to a conversation I may post in) and scheduled messages ("Send later")
const forwardDialog = new ForwardDialog({
  targets: () => Object.values(store.state.conversations.byId)
    .filter((c) => c.type !== "announcement" || store.state.me.role !== "student")
    .map((c) => ({ id: c.id, title: convTitle(c, store.state.me.id) })),
  send: (m, conversationId) => session.api.post(`/api/messages/${m.id}/forward`, { conversationId }),
  sent: (conversationId) => dispatch({ type: "notice/set",
    text: t("fwd.done", { title: convTitle(store.state.conversations.byId[conversationId] || {}, store.state.me.id) }) }),
});
const sendLater = new SendLater({ api: () => session.api, conversationId: () => store.state.conversations.active,
  input: $("composer-input"), now: () => Date.now(),
  scheduled: () => dispatch({ type: "notice/set", text: t("later.done") }) });
sendLater.mount($("composer"));
// the admin area and quiet hours (controllers/admin*.js) render after the rest
const quiet = new QuietController({ store, session });
const records = new AdminRecordsController({ store, session });
const admin = new AdminController({ store, session, records, quiet, closeModeration: () => moderation.show(false) });
store.subscribe((prev) => {
  if (!prev) { quiet.load(); admin.load(); }  // a sign-in: whether I may send now; a new school's admin starts on its roster
  admin.render(prev);
  quiet.render();
});

notifications.wire();
persist.wire();
wireSheet();
// touch or not decides how a message offers its actions (a sheet on touch screens, a bar otherwise)
document.addEventListener("pointerdown", (ev) => {
  const kind = ev.pointerType === "touch" ? "touch" : "pointer";
  if (document.documentElement.dataset.input !== kind) document.documentElement.dataset.input = kind;
}, { capture: true });
route.wire();
people.wire();
$("signout").addEventListener("click", () => session.signOut());
conversations.wire();
receipts.wire();
composer.wire();
history.wire();
safety.wire();
moderation.wire();
admin.wire();
records.wire();
new NotifySettings({ api: () => session.api }).mount();
openLinkedConversation(store, (id) => conversations.open(id));  // the links in missed-message email
session.resume();
