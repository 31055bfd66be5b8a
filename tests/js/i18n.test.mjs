// The catalogues of js/i18n.js: every language has every English key (a plural key in the forms
// its language uses), with the same placeholders; the language follows the choice, then the browser.
import assert from "node:assert/strict";
import test from "node:test";
import { CATALOGUES, pickLanguage } from "../../static/js/i18n.js";

const base = (key) => key.replace(/\.(zero|one|two|few|many|other)$/, "");
const holes = (text) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(",");

test("each catalogue has every key of the English one, with the same placeholders", () => {
  const en = CATALOGUES.en;
  const wanted = new Set(Object.keys(en).map(base));
  for (const [lang, cat] of Object.entries(CATALOGUES)) {
    const have = new Set(Object.keys(cat).map(base));
    assert.deepEqual([...wanted].filter((k) => !have.has(k)), [], `${lang} lacks keys`);
    assert.deepEqual([...have].filter((k) => !wanted.has(k)), [], `${lang} has keys English lacks`);
    for (const key of Object.keys(cat)) {
      const ref = en[key] ?? en[`${base(key)}.other`];
      assert.equal(holes(cat[key]), holes(ref), `${lang} ${key}`);
    }
    for (const key of wanted) if (Object.keys(en).some((k) => k.startsWith(`${key}.`))) assert.ok(`${key}.other` in cat, `${lang} ${key}.other`);
  }
});

test("the language: the user's choice, else the browser's first supported one, else English", () => {
  assert.equal(pickLanguage("fr", ["km-KH"]), "fr");
  assert.equal(pickLanguage(null, ["de-DE", "km-KH", "en"]), "km");
  assert.equal(pickLanguage("xx", ["de"]), "en");
});
