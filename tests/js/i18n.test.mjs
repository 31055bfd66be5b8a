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

// Every module of the web client says its words through the catalogue: no user-facing literal
// in any file under static/js (the catalogues themselves aside), and none in index.html's markup.
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

// Any literal that reads as prose: two words with a space ("Not sent", "Chat opens at …") or one
// capitalised word ("Today", "Retry."), wherever it is (returns, notes, errors, labels).
function proseLiteral(line) {
  for (const m of line.matchAll(/(["'`])((?:\\.|(?!\1).)*)\1/g)) {
    const rest = m[2].replace(/\$\{[^}]*\}/g, " ").replace(/\\u\{[0-9a-fA-F]+\}|\\u[0-9a-fA-F]{4}|\\./g, " ").trim();
    if (ALLOWED.has(rest)) continue;
    if (/\b[A-Za-z][a-z]+[,.:;!?]? +[a-z]+\b/.test(rest) && !/^[a-z][\w-]*( [a-z][\w-]*)*$/.test(rest.replace(/ [a-z]+(?= |$)/g, (w) => (/-/.test(rest) ? w : ` ${w.trim()}!`)))) return m[0];
    if (/^[A-Z][a-z]+[.!?\u2026]?$/.test(rest)) return m[0];
  }
  return null;
}

// Not words for a reader: keyboard key names (KeyboardEvent.key), HTTP header values, the
// DataTransfer type of dropped files, and the CSS selectors that name focusable controls.
const ALLOWED = new Set(["Escape", "Enter", "Home", "End", "Bearer", "Authorization", "Files", "a, button, textarea",
  "#conv-list button", "Content-Type", "select, textarea, input"]);

// Words for developers, never shown: console diagnostics, an Error's message (the page shows the
// catalogue's text for its code, js/i18n.js errorText); class names and link rel values are
// taken out of a line before it is read.
const DEVELOPER = /console\.(warn|error|log|debug)\(|new Error\("[^"]*"\), \{ code:/;

const { readFileSync, readdirSync, statSync } = await import("node:fs");
const JS_ROOT = new URL("../../static/js/", import.meta.url);
function modules(dir = JS_ROOT, prefix = "") {
  return readdirSync(dir).flatMap((name) => {
    const url = new URL(name, dir);
    if (statSync(url).isDirectory()) return name === "i18n" ? [] : modules(new URL(`${name}/`, dir), `${prefix}${name}/`);
    return name.endsWith(".js") && `${prefix}${name}` !== "i18n.js" ? [`${prefix}${name}`] : [];
  });
}

test("no module under static/js writes user-facing text past the catalogue", () => {
  const names = modules();
  assert.ok(names.length >= 60 && names.includes("views/adminrecords.js") && names.includes("controllers/moderation.js"));
  const offenders = [];
  for (const name of names) {
    readFileSync(new URL(name, JS_ROOT), "utf8").split("\n").forEach((line, i) => {
      if (/^\s*(\/\/|\/?\*)/.test(line) || DEVELOPER.test(line)) return;
      const code = line.replace(/\s\/\/ .*$/, "").replace(/\b(class|rel): "[^"]*"/g, "");  // a trailing comment, class names
      const hit = literalText(code) || proseLiteral(code);
      if (hit) offenders.push(`${name}:${i + 1}: ${hit}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test("the scan would see a literal", () => {
  assert.ok(literalText('el("span", { text: "Muted" })'));
  assert.ok(literalText('el("b", { "aria-label": `Report ${name}` })'));
  assert.ok(!literalText('el("span", { text: t("list.muted") })'));
  assert.ok(!literalText('el("span", { text: ` ${t("list.muted")},`, title: "\\u{1F515}" })'));
  assert.ok(proseLiteral('return `Chat opens at ${when}`;'));
  assert.ok(proseLiteral('this.note("roster", "Imported.");'));
  assert.ok(proseLiteral('if (days === 0) return "Today";'));
  assert.ok(!proseLiteral('if (ev.key === "Escape") close();'));
  assert.ok(!proseLiteral('el("div", { class: "admin-field admin-check" })'));
  assert.ok(!proseLiteral('t("mod.reports", { count: n })'));
  assert.ok(proseLiteral('return "kept the message";'));
});

// index.html: every text (and aria-label, title, placeholder) of the markup carries its key; only
// what is not language stays bare: the commands and token prefixes shown in <code>, the token
// box's placeholder (the start of a token), and the inline style and script.
test("index.html has no text that bypasses the catalogue", () => {
  const html = readFileSync(new URL("../../static/index.html", import.meta.url), "utf8");
  let rest = html.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>|<!--[\s\S]*?-->/g, "")
    .replace(/<code>[^<]*<\/code>/g, "");
  for (let before = ""; before !== rest;) {
    before = rest;
    rest = rest.replace(/<(\w+)\b[^<>]*\sdata-i18n="[^"]+"[^<>]*>[^<]*<\/\1>/g, "");
  }
  const bare = rest.replace(/<[^>]*>/g, " ").split(/\s{2,}|\n/).map((x) => x.trim()).filter((x) => /[A-Za-z]{2}/.test(x));
  assert.deepEqual(bare, []);
  const attrs = { "aria-label": "data-i18n-label", title: "data-i18n-title", placeholder: "data-i18n-placeholder" };
  const untagged = [];
  for (const tag of html.match(/<[a-z][^<>]*>/g)) {
    for (const [attr, marker] of Object.entries(attrs)) {
      const m = new RegExp(`\\s${attr}="([^"]*)"`).exec(tag);
      if (m && /[A-Za-z]{2}/.test(m[1]) && !tag.includes(marker) && m[1] !== "eyJhbGciOi\u2026") untagged.push(`${attr}="${m[1]}"`);
    }
  }
  assert.deepEqual(untagged, []);
});

test("every data-i18n key of the page is in the catalogue", async () => {
  const { readFileSync } = await import("node:fs");
  const html = readFileSync(new URL("../../static/index.html", import.meta.url), "utf8");
  const keys = [...html.matchAll(/data-i18n(?:-label|-title|-placeholder)?="([^"]+)"/g)].map((m) => m[1]);
  assert.ok(keys.length >= 80);
  for (const key of keys) assert.ok(key in CATALOGUES.en && key in CATALOGUES.km && key in CATALOGUES.fr, key);
});
