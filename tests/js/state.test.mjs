// Unit tests of the web client's pure reducers: `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { convTitle, peopleCount, tickStatus, visibleConvs } from "../../static/js/state/conversations.js";
import { initialState, reduce } from "../../static/js/state/index.js";
import { hasMessage, maxSeq, minSeq, sortedMessages } from "../../static/js/state/messages.js";
import { pendingFor, queuedInOrder } from "../../static/js/state/outbox.js";
import { typingText } from "../../static/js/state/session.js";
import { unreadOf, unreadTotal } from "../../static/js/state/unread.js";

const ME = { id: "u1", name: "Alice" };
const conv = (id, extra) => ({
  id, type: "group", title: `Group ${id}`, unread: 0, lastReadSeq: 0, lastSeq: 0, pinned: false,
  lastActivityAt: "2026-01-01T00:00:00Z",
  participants: [{ userId: "u1", name: "Alice" }, { userId: "u2", name: "Bob" }], ...extra,
});
const msg = (seq, extra) => ({
  id: `m${seq}`, conversationId: "c1", seq, senderId: "u2", senderName: "Bob", text: `hello ${seq}`,
  createdAt: `2026-01-01T00:00:${String(seq).padStart(2, "0")}Z`, type: "text", ...extra,
});

function loaded(...convs) {
  return reduce(initialState(ME), { type: "conversations/loaded", conversations: convs.length ? convs : [conv("c1")] });
}

function apply(state, ...actions) {
  return actions.reduce(reduce, state);
}

test("an action that changes nothing returns the same state object", () => {
  const s = loaded();
  assert.equal(reduce(s, { type: "nothing/here" }), s);
  assert.equal(reduce(s, { type: "message/updated", message: msg(9) }), s);  // never loaded: dropped
  assert.equal(reduce(s, { type: "presence/offline", userId: "u9" }), s);
});

test("reducers never mutate the state they are given", () => {
  const s = Object.freeze(loaded());
  const before = JSON.stringify(s);
  apply(s, { type: "messages/page", conversationId: "c1", messages: [msg(1), msg(2)], hasOlder: true },
    { type: "message/new", message: msg(3), me: "u1", reading: false },
    { type: "outbox/queued", clientMsgId: "w1", conversationId: "c1", text: "x", createdAt: 1 },
    { type: "receipt", conversationId: "c1", userId: "u2", seq: 3, status: "read" });
  assert.equal(JSON.stringify(s), before);
});

test("messages: pages merge by seq, older pages set hasOlder, after pages keep it", () => {
  let s = apply(loaded(), { type: "messages/page", conversationId: "c1", messages: [msg(3), msg(4)], hasOlder: true });
  assert.equal(s.messages.c1.hasOlder, true);
  s = reduce(s, { type: "messages/page", conversationId: "c1", messages: [msg(1), msg(2), msg(3)], hasOlder: false });
  assert.deepEqual(sortedMessages(s.messages, "c1").map((m) => m.seq), [1, 2, 3, 4]);
  s = reduce(s, { type: "messages/page", conversationId: "c1", messages: [msg(5)] });
  assert.equal(s.messages.c1.hasOlder, false);
  assert.equal(maxSeq(s.messages, "c1"), 5);
  assert.equal(minSeq(s.messages, "c1"), 1);
  assert.equal(maxSeq(s.messages, "other"), 0);
  assert.equal(minSeq(s.messages, "other"), null);
});

test("messages: a delivered-twice message is held once; edits replace; deletes blank the text", () => {
  let s = apply(loaded(), { type: "message/new", message: msg(1), me: "u1" }, { type: "message/new", message: msg(1), me: "u1" });
  assert.equal(sortedMessages(s.messages, "c1").length, 1);
  s = reduce(s, { type: "message/updated", message: msg(1, { text: "edited", editedAt: "x" }) });
  assert.equal(s.messages.c1.bySeq[1].text, "edited");
  s = reduce(s, { type: "message/deleted", conversationId: "c1", seq: 1 });
  assert.deepEqual([s.messages.c1.bySeq[1].deleted, s.messages.c1.bySeq[1].text], [true, null]);
  assert.equal(reduce(s, { type: "message/deleted", conversationId: "c1", seq: 7 }).messages, s.messages);
});

test("conversations: a new message moves the preview and the list order", () => {
  let s = loaded(conv("c1", { lastActivityAt: "2026-01-01T00:00:00Z" }), conv("c2", { lastActivityAt: "2026-01-02T00:00:00Z" }));
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id), ["c2", "c1"]);
  s = reduce(s, { type: "message/new", message: msg(1, { createdAt: "2026-01-03T00:00:00Z" }), me: "u1" });
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id), ["c1", "c2"]);
  assert.equal(s.conversations.byId.c1.lastMessage.preview, "hello 1");
  assert.equal(s.conversations.byId.c1.lastSeq, 1);
  s = reduce(s, { type: "message/deleted", conversationId: "c1", seq: 1 });
  assert.equal(s.conversations.byId.c1.lastMessage.deleted, true);
});

test("conversations: filter by type and by title or participant name; pinned first", () => {
  const s = loaded(conv("c1", { type: "class", title: "Maths 7A" }), conv("c2", { title: "Art club", pinned: true }),
    { ...conv("c3", { type: "direct", title: null }), participants: [{ userId: "u1", name: "Alice" }, { userId: "u3", name: "Carol" }] });
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id)[0], "c2");
  const only = (f) => visibleConvs(reduce(s, { type: "filter/set", filter: f }).conversations, "u1").map((c) => c.id);
  assert.deepEqual(only({ type: "class" }), ["c1"]);
  assert.deepEqual(only({ q: "carol" }), ["c3"]);
  assert.deepEqual(only({ q: "maths" }), ["c1"]);
  assert.equal(convTitle(s.conversations.byId.c3, "u1"), "Carol");
});

test("conversations: opening an unknown id does nothing; removal closes the open one", () => {
  let s = loaded();
  assert.equal(reduce(s, { type: "conversation/open", conversationId: "nope" }), s);
  s = reduce(s, { type: "conversation/open", conversationId: "c1" });
  assert.equal(s.conversations.active, "c1");
  s = reduce(s, { type: "conversation/removed", conversationId: "c1" });
  assert.equal(s.conversations.active, null);
  assert.deepEqual(visibleConvs(s.conversations, "u1"), []);
});

test("ticks: sent, then delivered, then read, from the others' markers", () => {
  let s = apply(loaded(), { type: "message/stored", message: msg(4, { senderId: "u1" }) });
  const status = () => tickStatus(s.conversations.byId.c1, s.messages.c1.bySeq[4], "u1");
  assert.equal(status(), "sent");
  s = reduce(s, { type: "receipt", conversationId: "c1", userId: "u2", seq: 4, status: "delivered" });
  assert.equal(status(), "delivered");
  s = reduce(s, { type: "receipt", conversationId: "c1", userId: "u2", seq: 4, status: "read" });
  assert.equal(status(), "read");
  assert.equal(reduce(s, { type: "receipt", conversationId: "c1", userId: "u9", seq: 9, status: "read" }), s);
});

test("unread: counts others' new messages not being read, once each; the server's numbers win", () => {
  let s = loaded(conv("c1", { unread: 2 }), conv("c2", { unread: 1 }));
  assert.equal(unreadTotal(s.unread), 3);
  s = apply(s, { type: "message/new", message: msg(1), me: "u1", reading: false },
    { type: "message/new", message: msg(1), me: "u1", reading: false },              // a duplicate push
    { type: "message/new", message: msg(2, { senderId: "u1" }), me: "u1" },         // mine
    { type: "message/new", message: msg(3, { type: "system" }), me: "u1" },         // system
    { type: "message/new", message: msg(4), me: "u1", reading: true });             // on screen
  assert.equal(unreadOf(s.unread, "c1"), 3);
  const muted = { ...s.conversations.byId, c2: { ...s.conversations.byId.c2, muted: true } };
  assert.equal(unreadTotal(s.unread, muted), 3);  // as the server's total: muted ones left out
  s = reduce(s, { type: "unread/set", conversationId: "c1", unread: 0, lastReadSeq: 4 });
  assert.equal(unreadTotal(s.unread), 1);
  s = reduce(s, { type: "conversation/removed", conversationId: "c2" });
  assert.equal(unreadTotal(s.unread), 0);
});

test("a conversation list answered after a newer push does not take the count back", () => {
  let s = loaded(conv("c1", { lastSeq: 3, unread: 0 }), conv("c2", { lastSeq: 1, unread: 0 }));
  s = reduce(s, { type: "message/new", message: msg(4), me: "u1", reading: false });
  // the list was read before message 4 was stored, and answered after its push
  s = reduce(s, { type: "conversations/loaded", conversations: [conv("c1", { lastSeq: 3, unread: 0 }),
    conv("c2", { lastSeq: 2, unread: 1, title: "Renamed" })] });
  assert.equal(unreadOf(s.unread, "c1"), 1);
  assert.equal(s.conversations.byId.c1.lastSeq, 4);
  assert.equal(unreadOf(s.unread, "c2"), 1);                 // not behind: the server's numbers
  assert.equal(s.conversations.byId.c2.title, "Renamed");
  s = reduce(s, { type: "conversations/loaded", conversations: [conv("c1", { lastSeq: 4, unread: 0 })] });
  assert.equal(unreadOf(s.unread, "c1"), 0);                 // caught up: the server wins again
  assert.deepEqual(Object.keys(s.conversations.byId), ["c1"]);
});

test("outbox: queued, sending, back to queued on a drop, removed when the stored copy arrives", () => {
  let s = apply(loaded(),
    { type: "outbox/queued", clientMsgId: "w2", conversationId: "c1", text: "second", createdAt: 2 },
    { type: "outbox/queued", clientMsgId: "w1", conversationId: "c1", text: "first", createdAt: 1 });
  assert.deepEqual(queuedInOrder(s.outbox), ["w1", "w2"]);
  s = reduce(s, { type: "outbox/sending", clientMsgId: "w1" });
  assert.deepEqual(queuedInOrder(s.outbox), ["w2"]);
  s = reduce(s, { type: "outbox/waiting", clientMsgId: "w1" });
  assert.deepEqual(queuedInOrder(s.outbox), ["w1", "w2"]);
  s = reduce(s, { type: "outbox/failed", clientMsgId: "w2", error: "too long" });
  assert.deepEqual(queuedInOrder(s.outbox), ["w1"]);
  assert.equal(s.outbox.w2.error, "too long");
  // the push of the stored copy and the reply may both come: the second changes nothing
  s = reduce(s, { type: "message/new", message: msg(5, { senderId: "u1", clientMsgId: "w1" }), me: "u1" });
  assert.equal(reduce(s, { type: "message/stored", message: msg(5, { senderId: "u1", clientMsgId: "w1" }) }).outbox, s.outbox);
  assert.deepEqual(pendingFor(s.outbox, "c1").map(([id]) => id), ["w2"]);
  assert.equal(reduce(s, { type: "outbox/sending", clientMsgId: "gone" }), s);
});

test("ui: an edit box and its draft survive incoming messages; deleting the message closes it", () => {
  let s = apply(loaded(), { type: "message/stored", message: msg(1, { senderId: "u1" }) },
    { type: "edit/start", messageId: "m1", conversationId: "c1", seq: 1, text: "hello 1" },
    { type: "edit/change", draft: "hello one" },
    { type: "message/new", message: msg(2), me: "u1", reading: true },
    { type: "receipt", conversationId: "c1", userId: "u2", seq: 2, status: "read" });
  assert.deepEqual(s.ui.editing, { messageId: "m1", conversationId: "c1", seq: 1, draft: "hello one" });
  assert.equal(reduce(s, { type: "message/deleted", conversationId: "c1", seq: 2 }).ui, s.ui);
  assert.equal(reduce(s, { type: "message/deleted", conversationId: "c1", seq: 1 }).ui.editing, null);
  assert.equal(reduce(s, { type: "conversation/close" }).ui.editing, null);
});

test("ui: composer drafts are kept per conversation", () => {
  let s = apply(loaded(conv("c1"), conv("c2")), { type: "draft/set", conversationId: "c1", text: "half a thought" },
    { type: "conversation/open", conversationId: "c2" }, { type: "message/new", message: msg(1), me: "u1" });
  assert.equal(s.ui.drafts.c1, "half a thought");
  assert.equal(reduce(s, { type: "draft/set", conversationId: "c1", text: "half a thought" }), s);
});

test("session: presence, typing lines, and a message ends its sender's typing", () => {
  let s = apply(loaded(), { type: "presence/list", userIds: ["u2"] }, { type: "presence/online", userId: "u3" },
    { type: "typing/start", conversationId: "c1", userId: "u2", name: "Bob" });
  assert.deepEqual(Object.keys(s.session.online).sort(), ["u2", "u3"]);
  assert.equal(typingText(s.session, "c1"), "Bob is typing…");
  s = reduce(s, { type: "typing/start", conversationId: "c1", userId: "u3", name: "Carol" });
  assert.equal(typingText(s.session, "c1"), "Bob and Carol are typing…");
  s = reduce(s, { type: "message/new", message: msg(1), me: "u1" });
  assert.equal(typingText(s.session, "c1"), "Carol is typing…");
  s = reduce(s, { type: "typing/stop", conversationId: "c1", userId: "u3" });
  assert.equal(typingText(s.session, "c1"), "");
  assert.ok(hasMessage(s.messages, "c1", 1));
});

test("people counts are singular for one", () => {
  assert.equal(peopleCount(1), "1 person");
  assert.equal(peopleCount(3), "3 people");
});

test("without drops one key from a copy, and gives the slice back untouched when it has none", async () => {
  const { without } = await import("../../static/js/state/keyed.js");
  const slice = Object.freeze({ a: { n: 1 }, b: { n: 2 } });
  assert.deepEqual(without(slice, "a"), { b: { n: 2 } });
  assert.equal(without(slice, "zzz"), slice);
});
