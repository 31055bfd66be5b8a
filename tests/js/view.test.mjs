// The page's own state (the view and link slices) and the store that holds the whole state.
import assert from "node:assert/strict";
import test from "node:test";

import { initialState, reduce } from "../../static/js/state/index.js";
import { createStore } from "../../static/js/store.js";

const ME = { id: "u1", name: "Me", role: "student" };
const msg = (seq, extra) => ({ id: `m${seq}`, conversationId: "c1", seq, senderId: "u2", senderName: "Bob", text: `hi ${seq}`, ...extra });

test("a notice is set, cleared, and an unchanged one keeps the state", () => {
  let s = initialState(ME);
  assert.equal(s.view.notice, "");
  assert.equal(reduce(s, { type: "notice/clear" }), s);
  s = reduce(s, { type: "notice/set", text: "\u26A0 refused" });
  assert.equal(s.view.notice, "\u26A0 refused");
  assert.equal(reduce(s, { type: "notice/set", text: "\u26A0 refused" }), s);
  const cleared = reduce(s, { type: "notice/clear" });
  assert.equal(cleared.view.notice, "");
  assert.equal(cleared.messages, s.messages);  // other slices keep their identity
});

test("a scroll request lasts until the render that honours it", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "scroll/stick" });
  assert.equal(s.view.stick, true);
  assert.equal(reduce(s, { type: "scroll/stick" }), s);
  assert.equal(reduce(s, { type: "messages/page", conversationId: "c1", messages: [msg(1)] }).view.stick, true);
  s = reduce(s, { type: "scroll/keep" });
  assert.deepEqual([s.view.stick, s.view.keepScroll], [true, true]);  // the view decides (keepScroll wins)
  s = reduce(s, { type: "scroll/done" });
  assert.deepEqual([s.view.stick, s.view.keepScroll], [false, false]);
  assert.equal(reduce(s, { type: "scroll/done" }), s);
});

test("paging is tracked per direction", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "paging/start", direction: "older" });
  assert.deepEqual(s.view.paging, { older: true, newer: false });
  assert.equal(reduce(s, { type: "paging/start", direction: "older" }), s);
  s = reduce(s, { type: "paging/start", direction: "newer" });
  s = reduce(s, { type: "paging/end", direction: "older" });
  assert.deepEqual(s.view.paging, { older: false, newer: true });
});

test("an announced message is taken back when it is deleted, another deletion leaves it", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "announce", message: msg(4, { text: "x".repeat(300) }) });
  assert.equal(s.view.announced.key, "c1/4");
  assert.equal(s.view.announced.text, `Bob: ${"x".repeat(300)}`.slice(0, 200));
  const again = reduce(s, { type: "announce", message: msg(4, { text: "x".repeat(300) }) });
  assert.notEqual(again.view.announced, s.view.announced);  // said again, even with the same text
  assert.equal(reduce(s, { type: "message/deleted", conversationId: "c1", seq: 3 }).view, s.view);
  assert.equal(reduce(s, { type: "message/deleted", conversationId: "c2", seq: 4 }).view, s.view);
  assert.deepEqual(reduce(s, { type: "message/deleted", conversationId: "c1", seq: 4 }).view.announced, { key: null, text: "" });
});

test("the first drop sets offlineSince, retries keep it, the sync clears it", () => {
  let s = initialState(ME);
  assert.equal(s.link.offlineSince, null);
  assert.equal(reduce(s, { type: "conn/state", state: "connecting", at: 5 }).link, s.link);
  s = reduce(s, { type: "conn/state", state: "offline", retryAt: 900, at: 100 });
  assert.equal(s.link.offlineSince, 100);
  assert.equal(s.session.conn.state, "offline");
  s = reduce(s, { type: "conn/state", state: "offline", retryAt: 1900, at: 1000 });
  assert.equal(s.link.offlineSince, 100);
  s = reduce(s, { type: "conn/state", state: "online", at: 2000 });
  assert.equal(s.link.offlineSince, 100);  // until the resync has asked for what changed since
  s = reduce(s, { type: "sync/done" });
  assert.equal(s.link.offlineSince, null);
  assert.equal(reduce(s, { type: "sync/done" }), s);
});

test("delivery receipts due coalesce to the highest seq per conversation until sent", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "delivered/due", conversationId: "c1", seq: 3 });
  s = reduce(s, { type: "delivered/due", conversationId: "c1", seq: 5 });
  s = reduce(s, { type: "delivered/due", conversationId: "c2", seq: 1 });
  assert.equal(reduce(s, { type: "delivered/due", conversationId: "c1", seq: 4 }), s);
  assert.deepEqual(s.link.delivered, { c1: 5, c2: 1 });
  s = reduce(s, { type: "delivered/sent" });
  assert.deepEqual(s.link.delivered, {});
  assert.equal(reduce(s, { type: "delivered/sent" }), s);
});

test("the time typing:start was last sent is kept (0 after a stop or a send)", () => {
  let s = initialState(ME);
  assert.equal(s.link.typingSentAt, 0);
  s = reduce(s, { type: "typing/sent", at: 1234 });
  assert.equal(s.link.typingSentAt, 1234);
  assert.equal(reduce(s, { type: "typing/sent", at: 1234 }), s);
  assert.equal(reduce(s, { type: "typing/sent", at: 0 }).link.typingSentAt, 0);
});

test("the store renders each change once, from the previous state, and update() stays silent", () => {
  const store = createStore();
  const seen = [];
  store.subscribe((prev) => seen.push([prev, store.state]));
  assert.equal(store.state, null);
  store.start(initialState(ME));
  assert.equal(seen.length, 1);
  assert.equal(seen[0][0], null);
  const first = store.state;
  store.dispatch({ type: "notice/clear" });  // changes nothing
  assert.equal(seen.length, 1);
  store.dispatch({ type: "notice/set", text: "oops" });
  assert.equal(seen.length, 2);
  assert.equal(seen[1][0], first);
  assert.equal(seen[1][1].view.notice, "oops");
  store.update({ type: "typing/sent", at: 7 });
  assert.equal(seen.length, 2);
  assert.equal(store.state.link.typingSentAt, 7);
});

test("links being asked for are not asked again, and ids answered without a link are refused", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "links/asking", ids: ["f1", "f2", "f3"] });
  assert.deepEqual(s.linkAsks.asking, { f1: true, f2: true, f3: true });
  assert.equal(reduce(s, { type: "links/asking", ids: ["f2"] }), s);
  const link = { url: "/u/f1?sig=x", expiresAt: "2030-01-01T00:00:00Z" };
  s = reduce(s, { type: "links/loaded", links: { f1: link }, asked: ["f1", "f2"] });
  assert.deepEqual(s.links, { f1: link });
  assert.deepEqual(s.linkAsks.refused, { f2: true });
  // a link asked for outside fetchLinks (the viewer) refuses nothing
  assert.equal(reduce(s, { type: "links/loaded", links: {} }).linkAsks, s.linkAsks);
  s = reduce(s, { type: "links/settled", ids: ["f1", "f2", "f3"] });
  assert.deepEqual(s.linkAsks, { asking: {}, refused: { f2: true } });
  assert.equal(reduce(s, { type: "links/settled", ids: ["f1"] }), s);
});
