// Unit tests of link finding in message text: `node --test tests/js/`.
import assert from "node:assert/strict";
import { test } from "node:test";

import { isHttpUrl, splitLinks } from "../../static/js/links.js";

test("http and https URLs become links; the parts join back to the text", () => {
  const text = "see https://example.org/a?b=1#c, then http://school.test/x.";
  const parts = splitLinks(text);
  assert.deepEqual(parts.filter((p) => p.href).map((p) => p.href), ["https://example.org/a?b=1#c", "http://school.test/x"]);
  assert.equal(parts.map((p) => p.text).join(""), text);
});

test("other schemes and look-alikes stay text", () => {
  for (const text of ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://files.test/a", "https://", "http:/half",
    "<a href=\"https://x.test\">x</a>"]) {
    const parts = splitLinks(text);
    assert.equal(parts.map((p) => p.text).join(""), text);
    for (const p of parts) if (p.href) assert.ok(isHttpUrl(p.href) && !p.href.includes("\""), `${text} -> ${p.href}`);
  }
  assert.deepEqual(splitLinks("javascript:alert(1)"), [{ text: "javascript:alert(1)" }]);
  assert.deepEqual(splitLinks(""), []);
  assert.equal(isHttpUrl("javascript:alert(1)"), false);
  assert.equal(isHttpUrl("HTTPS://EXAMPLE.ORG"), true);
});

test("a closing bracket or sentence punctuation ends the link", () => {
  const parts = splitLinks("(see https://example.org/page).");
  assert.deepEqual(parts, [{ text: "(see " }, { text: "https://example.org/page", href: "https://example.org/page" }, { text: ")." }]);
});
