// Gap tombstones (seqs handed out and never stored) hold their seq but are never shown.
import assert from "node:assert/strict";
import test from "node:test";

import { layoutMessages } from "../../static/js/layout.js";

test("a gap tombstone is not laid out, and the runs around it join", () => {
  const at = (min) => new Date(2026, 0, 4, 9, min).toISOString();
  const rows = layoutMessages([
    { seq: 1, senderId: "a", createdAt: at(0), type: "text" },
    { seq: 2, senderId: "system", createdAt: at(1), type: "system", text: null, deleted: true, meta: { event: "gap" } },
    { seq: 3, senderId: "a", createdAt: at(2), type: "text" },
  ], new Date(2026, 0, 4, 12, 0).getTime());
  assert.deepEqual(rows.filter((r) => r.kind === "message").map((r) => `${r.m.seq}${r.cont ? "+" : ""}`), ["1", "3+"]);
});
