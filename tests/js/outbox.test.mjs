// The outbox kept across reloads: what is saved (js/persist.js) and how a saved outbox and the
// drafts come back into the state (state/outbox.js, state/ui.js); and the words of js/i18n.js.
import assert from "node:assert/strict";
import test from "node:test";
import { outboxDiff, savedForm } from "../../static/js/persist.js";
import { outboxReducer, queuedInOrder } from "../../static/js/state/outbox.js";
import { uiReducer } from "../../static/js/state/ui.js";
import { errorText, t } from "../../static/js/i18n.js";

const entry = (text, status = "queued", createdAt = 1) => ({ conversationId: "c1", text, attachments: [], replyTo: null,
  mentions: [], createdAt, status, error: null, code: null });

test("a new or changed entry is saved, a gone one forgotten, a status flip to sending is not a change", () => {
  const a = entry("a");
  const prev = { m1: a, m2: entry("b") };
  const next = { m1: { ...a, status: "sending" }, m3: entry("c") };
  const { changed, removed } = outboxDiff(prev, next);
  assert.deepEqual(changed.map(([id]) => id), ["m3"]);
  assert.deepEqual(removed, ["m2"]);
  assert.equal(savedForm({ ...a, status: "sending" }).status, "queued");
  assert.equal(savedForm({ ...a, status: "failed" }).status, "failed");
});

test("a restored outbox waits again, in the order it was written, and does not replace this page's entries", () => {
  let slice = outboxReducer({}, { type: "outbox/queued", clientMsgId: "mine", conversationId: "c1", text: "here", createdAt: 5 });
  slice = outboxReducer(slice, { type: "outbox/restored", entries: [
    { clientMsgId: "old2", entry: entry("second", "sending", 3) }, { clientMsgId: "old1", entry: entry("first", "queued", 2) },
    { clientMsgId: "mine", entry: entry("stale", "queued", 1) }] });
  assert.deepEqual(queuedInOrder(slice), ["old1", "old2", "mine"]);
  assert.equal(slice.mine.text, "here");
  // the stored copy (same clientMsgId) takes it out
  slice = outboxReducer(slice, { type: "message/stored", message: { clientMsgId: "old1", conversationId: "c1" } });
  assert.deepEqual(queuedInOrder(slice), ["old2", "mine"]);
  const same = outboxReducer(slice, { type: "outbox/restored", entries: [] });
  assert.equal(same, slice);
});

test("restored drafts fill in, a draft of this page wins; Send during an upload is remembered per conversation", () => {
  let ui = uiReducer(undefined, { type: "@init" });
  ui = uiReducer(ui, { type: "draft/set", conversationId: "c2", text: "typed now" });
  ui = uiReducer(ui, { type: "drafts/restored", drafts: { c1: "saved", c2: "older" } });
  assert.deepEqual(ui.drafts, { c1: "saved", c2: "typed now" });
  ui = uiReducer(ui, { type: "send/afterUpload", conversationId: "c1", on: true });
  assert.deepEqual(ui.sendAfterUpload, { c1: true });
  ui = uiReducer(ui, { type: "send/afterUpload", conversationId: "c1", on: false });
  assert.deepEqual(ui.sendAfterUpload, {});
});

test("t fills placeholders and picks plurals; errors show the page's words, never the server's", () => {
  assert.equal(t("outbox.notSent", { error: "x" }), "Not sent: x");
  assert.equal(t("header.people", { count: 1 }), "1 person");
  assert.equal(t("header.people", { count: 3 }), "3 people");
  assert.equal(t("no.such.key"), "no.such.key");
  const raw = Object.assign(new Error("invalid token: not a well-formed JWT"), { code: "unauthorized", status: 401 });
  assert.equal(errorText(raw), t("err.invalid_token"));
  assert.ok(!errorText(raw).includes("JWT"));
  assert.equal(errorText(Object.assign(new Error("files of type x are not accepted"), { status: 415 })), t("err.unsupported_type"));
  assert.equal(errorText(new Error("boom")), t("err.generic"));
});
