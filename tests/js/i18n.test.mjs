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

// The modules written through the catalogue so far: no user-facing word written past it (a later
// pass extends this list to every view and the HTML).
// A word (two letters or more) in a literal given as text, title, aria-label or placeholder, once
// escapes and ${…} substitutions are taken out.
function literalText(line) {
  const re = /(?:(?<!["\w-])(?:text|title|placeholder)\s*:|"aria-label"\s*:|textContent\s*=)\s*(["'`])((?:\\.|(?!\1).)*)\1/g;
  for (const m of line.matchAll(re)) {
    const rest = m[2].replace(/\$\{[^}]*\}/g, "").replace(/\\u\{[0-9a-fA-F]+\}|\\u[0-9a-fA-F]{4}|\\./g, "");
    if (/[A-Za-z]{2}/.test(rest)) return m[0];
  }
  return null;
}

const THROUGH_CATALOGUE = ["views/sheet.js", "views/classes.js", "views/toast.js", "views/list.js", "controllers/people.js",
  "controllers/classes.js", "controllers/persist.js", "controllers/route.js", "persist.js", "views/chrome.js", "views/messages.js"];

test("the modules written through the catalogue have no literal user-facing text", async () => {
  const { readFileSync } = await import("node:fs");
  const offenders = [];
  for (const name of THROUGH_CATALOGUE) {
    const source = readFileSync(new URL(`../../static/js/${name}`, import.meta.url), "utf8");
    source.split("\n").forEach((line, i) => {
      if (/^\s*\/\//.test(line)) return;
      const hit = literalText(line);
      if (hit) offenders.push(`${name}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test("the scan would see a literal", () => {
  assert.ok(literalText('el("span", { text: "Muted" })'));
  assert.ok(literalText('el("b", { "aria-label": `Report ${name}` })'));
  assert.ok(!literalText('el("span", { text: t("list.muted") })'));
  assert.ok(!literalText('el("span", { text: ` ${t("list.muted")},`, title: "\\u{1F515}" })'));
});

test("every data-i18n key of the page is in the catalogue", async () => {
  const { readFileSync } = await import("node:fs");
  const html = readFileSync(new URL("../../static/index.html", import.meta.url), "utf8");
  const keys = [...html.matchAll(/data-i18n(?:-label|-title|-placeholder)?="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(keys.length >= 8);
  for (const key of keys) assert.ok(key in CATALOGUES.en && key in CATALOGUES.km && key in CATALOGUES.fr, key);
});
