// The composer's uploads, signed links and file descriptions: pure functions, no DOM.
import assert from "node:assert/strict";
import test from "node:test";

import { fileKind, formatSize, isPicture, messageType } from "../../static/js/files.js";
import { initialState, reduce } from "../../static/js/state/index.js";
import { linksToFetch, uploadsFor, uploadsReady } from "../../static/js/state/uploads.js";

const ME = { id: "u1", name: "Me", role: "student" };

test("an upload goes uploading -> failed -> uploading -> done, and only done files are ready", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "upload/added", localId: "a", conversationId: "c1", name: "x.pdf", size: 10, mimeType: "application/pdf", addedAt: 1 });
  assert.equal(uploadsReady(s.uploads, "c1"), false);
  s = reduce(s, { type: "upload/progress", localId: "a", loaded: 4, total: 10 });
  assert.equal(s.uploads.a.loaded, 4);
  s = reduce(s, { type: "upload/failed", localId: "a", error: "lost" });
  assert.equal(s.uploads.a.status, "failed");
  const same = reduce(s, { type: "upload/progress", localId: "a", loaded: 9 });
  assert.equal(same, s, "progress after a failure changes nothing");
  s = reduce(s, { type: "upload/retry", localId: "a" });
  assert.deepEqual([s.uploads.a.status, s.uploads.a.loaded, s.uploads.a.error], ["uploading", 0, null]);
  s = reduce(s, { type: "upload/done", localId: "a", upload: { id: "up1" } });
  assert.equal(uploadsReady(s.uploads, "c1"), true);
  assert.equal(uploadsReady(s.uploads, "c2"), true, "nothing attached is ready too");
});

test("files stay per conversation in order; sending takes exactly the sent ones away", () => {
  let s = initialState(ME);
  for (const [localId, conversationId, addedAt] of [["b", "c1", 2], ["a", "c1", 1], ["z", "c2", 3]]) {
    s = reduce(s, { type: "upload/added", localId, conversationId, name: localId, size: 1, mimeType: "", addedAt });
  }
  assert.deepEqual(uploadsFor(s.uploads, "c1").map(([id]) => id), ["a", "b"]);
  s = reduce(s, { type: "outbox/queued", clientMsgId: "w1", conversationId: "c1", text: "", createdAt: 5,
    attachments: [{ id: "up-a" }], localIds: ["a"] });
  assert.deepEqual(Object.keys(s.uploads).sort(), ["b", "z"]);
  assert.deepEqual(s.outbox.w1.attachments, [{ id: "up-a" }]);
  s = reduce(s, { type: "upload/removed", localId: "b" });
  s = reduce(s, { type: "conversation/removed", conversationId: "c2" });
  assert.deepEqual(s.uploads, {});
});

test("links are asked for when missing or about to expire", () => {
  let s = initialState(ME);
  s = reduce(s, { type: "links/loaded", links: { u1: { url: "/a", expiresAt: new Date(100000).toISOString() } } });
  assert.deepEqual(linksToFetch(s.links, ["u1", "u2", "u2"], 0, 1000), ["u2"]);
  assert.deepEqual(linksToFetch(s.links, ["u1"], 99500, 1000), ["u1"]);
  assert.equal(reduce(s, { type: "links/loaded", links: {} }), s);
});

test("sizes, kinds and message types", () => {
  assert.deepEqual([0, 512, 1536, 10 * 1024, 5 * 1024 * 1024].map(formatSize), ["0 B", "512 B", "1.5 KB", "10 KB", "5 MB"]);
  assert.equal(fileKind("application/pdf", "a.pdf"), "PDF");
  assert.equal(fileKind("image/png", "a.png"), "Image");
  assert.equal(fileKind("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "a.docx"), "Document");
  assert.equal(fileKind("", "archive.tar.gz"), "GZ");
  assert.equal(fileKind("", "noext"), "File");
  assert.equal(isPicture({ mimeType: "image/png", thumbnail: "/t" }), true);
  assert.equal(isPicture({ mimeType: "image/png" }), false);
  assert.equal(messageType([]), "text");
  assert.equal(messageType([{ mimeType: "image/png" }, { mimeType: "image/jpeg" }]), "image");
  assert.equal(messageType([{ mimeType: "image/png" }, { mimeType: "application/pdf" }]), "file");
});
