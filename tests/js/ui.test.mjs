// Replies, jumps and the archived filter: pure reducers and selectors.
import assert from "node:assert/strict";
import test from "node:test";

import { visibleConvs } from "../../static/js/state/conversations.js";
import { initialState, reduce } from "../../static/js/state/index.js";

const ME = { id: "u1", name: "Me", role: "teacher" };
const conv = (id, extra) => ({ id, type: "group", title: id, lastActivityAt: "2026-01-01T00:00:00Z", pinned: false,
  participants: [{ userId: "u1", name: "Me" }], ...extra });

test("a reply is per conversation and goes with its message's deletion or a cancel", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "reply/start", message: { id: "m3", conversationId: "c1", seq: 3, senderName: "Bob", text: "hi" } });
  assert.deepEqual(s.ui.replyTo.c1, { id: "m3", seq: 3, senderName: "Bob", text: "hi" });
  assert.equal(s.ui.replyTo.c2, undefined);
  const kept = reduce(s, { type: "message/deleted", conversationId: "c1", seq: 4 });
  assert.equal(kept.ui, s.ui);
  assert.equal(reduce(s, { type: "message/deleted", conversationId: "c1", seq: 3 }).ui.replyTo.c1, undefined);
  assert.equal(reduce(s, { type: "reply/cancel", conversationId: "c1" }).ui.replyTo.c1, undefined);
  assert.equal(reduce(s, { type: "reply/cancel", conversationId: "c9" }), s);
});

test("a highlight belongs to the conversation on screen", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "conversations/loaded", conversations: [conv("c1"), conv("c2")] });
  s = reduce(s, { type: "conversation/open", conversationId: "c1" });
  s = reduce(s, { type: "highlight/set", conversationId: "c1", seq: 7 });
  assert.deepEqual(s.ui.highlight, { conversationId: "c1", seq: 7 });
  assert.equal(reduce(s, { type: "highlight/set", conversationId: "c1", seq: 7 }), s);
  assert.equal(reduce(s, { type: "conversation/open", conversationId: "c2" }).ui.highlight, null);
});

test("archived conversations show only under the archived filter", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "conversations/loaded", conversations: [conv("a"), conv("b", { archived: true }), conv("k", { type: "class" })] });
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id).sort(), ["a", "k"]);
  s = reduce(s, { type: "filter/set", filter: { type: "archived" } });
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id), ["b"]);
  s = reduce(s, { type: "filter/set", filter: { type: "class" } });
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id), ["k"]);
});

test("days get a separator and runs of one sender are grouped", async () => {
  const { dayLabel, layoutMessages, seenBy } = await import("../../static/js/layout.js");
  const at = (d, h, min) => new Date(2026, 0, d, h, min).toISOString();
  const m = (seq, senderId, createdAt, type = "text") => ({ seq, senderId, createdAt, type });
  const now = new Date(2026, 0, 6, 12, 0).getTime();
  const rows = layoutMessages([
    m(1, "a", at(4, 9, 0)), m(2, "a", at(4, 9, 3)), m(3, "a", at(4, 9, 30)), m(4, "b", at(4, 9, 31)),
    m(5, "b", at(5, 23, 59)), m(6, "b", at(6, 0, 1)), m(7, "x", at(6, 0, 2), "system"), m(8, "b", at(6, 0, 3)),
  ], now);
  assert.deepEqual(rows.map((r) => (r.kind === "day" ? r.label : `${r.m.seq}${r.cont ? "+" : ""}`)),
    [dayLabel(at(4, 9, 0), now), "1", "2+", "3", "4", "Yesterday", "5", "Today", "6", "7", "8"]);
  assert.equal(dayLabel(at(6, 0, 0), now), "Today");
  assert.match(dayLabel(new Date(2025, 5, 1).toISOString(), now), /2025/);
  const conv = { participants: [{ userId: "me", lastReadSeq: 0 }, { userId: "b", lastReadSeq: 5 }, { userId: "c", lastReadSeq: 2 }] };
  assert.deepEqual(seenBy(conv, { seq: 3 }, "me"), { seen: 1, of: 2 });
});

test("a window around a search hit: replaced, newer pages extend it, live messages wait", async () => {
  const { sortedMessages, convMessages } = await import("../../static/js/state/messages.js");
  const msg = (seq) => ({ id: `m${seq}`, conversationId: "c1", seq, senderId: "u2", createdAt: "2026-01-01T00:00:00Z" });
  let s = initialState(ME);
  s = reduce(s, { type: "conversations/loaded", conversations: [conv("c1", { lastSeq: 100 })] });
  s = reduce(s, { type: "messages/page", conversationId: "c1", messages: [msg(99), msg(100)], hasOlder: true });
  s = reduce(s, { type: "messages/replace", conversationId: "c1", messages: [msg(10), msg(11)], hasOlder: true, hasNewer: true });
  assert.deepEqual(sortedMessages(s.messages, "c1").map((m) => m.seq), [10, 11]);
  const live = reduce(s, { type: "message/new", me: "u1", reading: true, message: msg(101) });
  assert.equal(live.messages, s.messages, "no gap: the live message comes with the newer pages");
  s = reduce(s, { type: "messages/page", conversationId: "c1", messages: [msg(12)], hasNewer: false });
  assert.deepEqual([convMessages(s.messages, "c1").hasNewer, convMessages(s.messages, "c1").hasOlder], [false, true]);
  s = reduce(s, { type: "message/new", me: "u1", reading: true, message: msg(13) });
  assert.deepEqual(sortedMessages(s.messages, "c1").map((m) => m.seq), [10, 11, 12, 13]);
});

test("a conversation whose messages match the query stays in the list", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "conversations/loaded", conversations: [conv("a"), conv("b")] });
  s = reduce(s, { type: "filter/set", filter: { q: "volcano" } });
  assert.deepEqual(visibleConvs(s.conversations, "u1"), []);
  s = reduce(s, { type: "search/results", q: "volcano", hits: [{ conversationId: "b", seq: 3 }] });
  assert.deepEqual(visibleConvs(s.conversations, "u1").map((c) => c.id), ["b"]);
  s = reduce(s, { type: "filter/set", filter: { q: "volc" } });
  assert.deepEqual(visibleConvs(s.conversations, "u1"), [], "hits of another query do not count");
});
