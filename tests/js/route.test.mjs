// A conversation's address (controllers/route.js): `#c/<id>`, with ids that need escaping.
import assert from "node:assert/strict";
import test from "node:test";
import { conversationFromHash, hashFor } from "../../static/js/controllers/route.js";

test("an address names one conversation, anything else is the list", () => {
  assert.equal(hashFor("6b11"), "#c/6b11");
  assert.equal(conversationFromHash("#c/6b11"), "6b11");
  for (const id of ["a/b c", "é#?"]) assert.equal(conversationFromHash(hashFor(id)), id);
  for (const hash of ["", "#", "#c/", "#x/1", "#c/%E0%A4%A"]) assert.equal(conversationFromHash(hash), null);
  assert.equal(hashFor(null), "");
});
