// @mentions: finding the query, matching people, inserting, and marking names in text.
import assert from "node:assert/strict";
import test from "node:test";

import { insertMention, matchPeople, mentionQuery, mentionsInText, splitMentions } from "../../static/js/mentions.js";
import { initialState, reduce } from "../../static/js/state/index.js";
import { mentionsOf } from "../../static/js/state/unread.js";

const PEOPLE = [{ userId: "me", name: "Alice Martin" }, { userId: "b", name: "Bob Chen" },
  { userId: "c", name: "Carol Singh" }, { userId: "c2", name: "Chen Li" }];

test("the @query before the caret", () => {
  assert.deepEqual(mentionQuery("hi @bo", 6), { start: 3, query: "bo" });
  assert.deepEqual(mentionQuery("@", 1), { start: 0, query: "" });
  assert.equal(mentionQuery("mail a@b", 8), null, "an address is not a mention");
  assert.equal(mentionQuery("hi @bob there", 13), null);
  assert.deepEqual(mentionQuery("hi @bo there", 6), { start: 3, query: "bo" });
});

test("people match by name start first, then a later word, never me", () => {
  assert.deepEqual(matchPeople(PEOPLE, "ch", "me").map((p) => p.userId), ["c2", "b"]);
  assert.deepEqual(matchPeople(PEOPLE, "", "me").map((p) => p.userId), ["b", "c", "c2"]);
  assert.deepEqual(matchPeople(PEOPLE, "al", "me"), []);
  assert.equal(matchPeople(PEOPLE, "", "me", 2).length, 2);
});

test("inserting a mention and reading the mentioned ids back", () => {
  assert.deepEqual(insertMention("hi @bo", 3, 6, "Bob Chen"), { text: "hi @Bob Chen ", caret: 13 });
  assert.deepEqual(insertMention("hi @bo see", 3, 6, "Bob Chen"), { text: "hi @Bob Chen see", caret: 13 });
  const picked = new Map([["b", "Bob Chen"], ["c", "Carol Singh"]]);
  assert.deepEqual(mentionsInText("@Bob Chen hi", picked), ["b"], "a mention deleted from the text is not sent");
});

test("names are marked in text, the longest first, text joins back", () => {
  const people = [{ userId: "a", name: "Ann" }, { userId: "al", name: "Ann Lee" }];
  const parts = splitMentions("to @Ann Lee and @Ann, @Bob", people);
  assert.deepEqual(parts, [{ text: "to " }, { text: "@Ann Lee", userId: "al" }, { text: " and " }, { text: "@Ann", userId: "a" },
    { text: ", @Bob" }]);
  assert.equal(parts.map((p) => p.text).join(""), "to @Ann Lee and @Ann, @Bob");
});

test("unread mentions: from the list, counted up by a push mentioning me, cleared by a read", () => {
  let s = initialState({ id: "me" });
  s = reduce(s, { type: "conversations/loaded", conversations: [{ id: "c1", type: "group", unread: 2, mentions: 1, lastSeq: 2,
    participants: [] }] });
  assert.equal(mentionsOf(s.unread, "c1"), 1);
  s = reduce(s, { type: "message/new", me: "me", reading: false, message: { conversationId: "c1", seq: 3, senderId: "b", mentions: ["me"] } });
  s = reduce(s, { type: "message/new", me: "me", reading: false, message: { conversationId: "c1", seq: 4, senderId: "b", mentions: [] } });
  assert.deepEqual([s.unread.c1.unread, mentionsOf(s.unread, "c1")], [4, 2]);
  s = reduce(s, { type: "unread/set", conversationId: "c1", unread: 0, lastReadSeq: 4 });
  assert.equal(mentionsOf(s.unread, "c1"), 0);
  s = reduce(s, { type: "unread/set", conversationId: "c1", unread: 1, lastReadSeq: 4, mentions: 1 });
  assert.equal(mentionsOf(s.unread, "c1"), 1);
});
