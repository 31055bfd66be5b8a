// Pure helpers of scheduled messages and forwarding in the web client (static/js/notify.js).
import assert from "node:assert/strict";
import test from "node:test";

import { forwardedLabel, localValue, notifyError, scheduledText, sendAtFromLocal } from "../../static/js/notify.js";

test("a forward names its conversation, author and day", () => {
  const f = { conversationTitle: "Maths 7A", authorName: "Alan Turing", at: "2026-12-02T10:00:00.000Z" };
  assert.equal(forwardedLabel(f, "en-GB"), "Forwarded from Maths 7A, Alan Turing, 2 Dec");
  assert.equal(forwardedLabel({ conversationTitle: null, authorName: "Bob Chen" }, "en-GB"), "Forwarded from Bob Chen");
  assert.equal(forwardedLabel({}, "en-GB"), "Forwarded");
  assert.equal(forwardedLabel(null), "");
});

test("the picker's local time becomes ISO 8601 UTC and back", () => {
  const ms = Date.UTC(2026, 11, 3, 8, 30);
  assert.equal(sendAtFromLocal(localValue(ms)), new Date(ms).toISOString());
  assert.equal(sendAtFromLocal(""), null);
  assert.equal(sendAtFromLocal("not a time"), null);
  assert.match(localValue(ms), /^\d{4}-\d\d-\d\dT\d\d:\d\d$/);
});

test("a scheduled message says when it goes, or why it did not", () => {
  const base = { sendAt: "2026-12-03T08:30:00.000Z", text: "hi" };
  assert.match(scheduledText({ ...base, status: "scheduled" }, "en-GB"), /^Will be sent /);
  assert.match(scheduledText({ ...base, status: "failed", error: { code: "quiet_hours" } }, "en-GB"), /quiet hours/);
  assert.match(scheduledText({ ...base, status: "failed", error: { code: "content_blocked" } }, "en-GB"), /words/);
  assert.equal(scheduledText({ ...base, status: "sending" }), "Sending now\u2026");
});

test("refusals are said in plain words", () => {
  assert.match(notifyError({ code: "message_gone" }), /deleted/);
  assert.match(notifyError({ code: "policy_forbidden" }), /rules/);
  assert.match(notifyError({ code: "internal" }), /try again/);
});
