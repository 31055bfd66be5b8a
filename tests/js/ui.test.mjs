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
