// The web client's layout rules, checked on its source: state lives in the store (no module-level
// mutable variables outside state/, whose reducers are pure), and the entry and the controllers
// stay small enough to read (at most ~300 lines each).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import test from "node:test";
import { fileURLToPath } from "node:url";

const JS = fileURLToPath(new URL("../../static/js/", import.meta.url));
const MAX_LINES = 300;

function modules(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return modules(path);
    return e.name.endsWith(".js") ? [path] : [];
  });
}

const name = (path) => relative(JS, path).split("\\").join("/");

/** Module-level statements that hold mutable state: `let`/`var`, or a const Map/Set/array built to be filled. */
export function topLevelMutables(source) {
  const found = [];
  source.split("\n").forEach((line, i) => {
    // top-level statements start at column 0 (everything nested is indented)
    if (/^(export\s+)?(let|var)\s/.test(line) || /^(export\s+)?const\s+\w+\s*=\s*new\s+(Map|Set|WeakMap|WeakSet|Array)\b/.test(line)) {
      found.push(`${i + 1}: ${line.trim()}`);
    }
  });
  return found;
}

test("the scan finds module-level mutable variables and nothing nested", () => {
  assert.deepEqual(topLevelMutables("let a = 1;\nexport var b;\nconst m = new Map();\nconst K = 3;\nfunction f() {\n  let x = 0;\n}\n"),
    ["1: let a = 1;", "2: export var b;", "3: const m = new Map();"]);
});

test("no module outside state/ keeps mutable state at module level", () => {
  const offenders = [];
  for (const path of modules(JS)) {
    if (name(path).startsWith("state/")) continue;
    for (const hit of topLevelMutables(readFileSync(path, "utf8"))) offenders.push(`${name(path)}:${hit}`);
  }
  assert.deepEqual(offenders, [], "state belongs in the store (static/js/state/); a timer or a resource in a controller object");
});

test("the entry and each controller are at most ~300 lines", () => {
  const checked = modules(JS).filter((p) => ["app.js", "store.js"].includes(name(p)) || name(p).startsWith("controllers/"));
  assert.ok(checked.length >= 3, "app.js, store.js and controllers/ are where they should be");
  const long = checked.map((p) => [name(p), readFileSync(p, "utf8").split("\n").length - 1])
    .filter(([, lines]) => lines > MAX_LINES).map(([n, lines]) => `${n}: ${lines} lines`);
  assert.deepEqual(long, [], `split a controller over ${MAX_LINES} lines by concern`);
});
