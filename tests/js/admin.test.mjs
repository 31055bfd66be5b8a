// Unit tests of the web client's admin area and quiet-hours logic (static/js/state/admin.js): the
// admin slice's reducer, "Chat opens at 07:30", the oversight reason and banner, the audit log's
// query string and CSV, the policy and retention form rules, the roster preview's words and the
// export progress.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  adminReducer, auditCsv, auditQuery, bannerText, changeText, daysValue, exportCounts, exportFinished, exportProgress,
  grantLive, nextSendingCheck, previewLines, quietText, reasonProblem, targetText, wallClock, windowFrom,
} from "../../static/js/state/admin.js";
import { initialState, reduce } from "../../static/js/state/index.js";

const frozen = (v) => JSON.parse(JSON.stringify(v));

test("the admin slice is part of the state, and its actions leave the other slices alone", () => {
  const s0 = initialState({ id: "a1", role: "admin", school: "s1" });
  assert.equal(s0.admin.shown, false);
  assert.equal(s0.admin.tab, "policy");
  const s1 = reduce(s0, { type: "admin/show", shown: true, tab: "roster", firstRun: true });
  assert.equal(s1.admin.shown, true);
  assert.equal(s1.admin.tab, "roster");
  assert.equal(s1.admin.firstRun, true);
  assert.equal(s1.conversations, s0.conversations);
  assert.equal(reduce(s1, { type: "admin/tab", tab: "nonsense" }), s1, "an unknown tab changes nothing");
  assert.equal(reduce(s1, { type: "admin/show", shown: true }), s1);
});

test("the reducer never mutates its input: audit pages append, exports merge, the roster preview keeps what was sent", () => {
  let s = adminReducer(undefined, { type: "@init" });
  const before = frozen(s);
  const a = adminReducer(s, { type: "admin/audit", filters: { action: "hold.set" }, entries: [{ seq: 9 }], hasMore: true, next: 9 });
  assert.deepEqual(frozen(s), before);
  const b = adminReducer(a, { type: "admin/audit", filters: a.audit.filters, entries: [{ seq: 8 }], hasMore: false, next: null, append: true });
  assert.deepEqual(b.audit.entries.map((e) => e.seq), [9, 8]);
  assert.deepEqual(a.audit.entries.map((e) => e.seq), [9]);
  assert.equal(b.audit.loaded, true);
  s = adminReducer(b, { type: "admin/export", job: { id: "e1", status: "queued", userId: "u" } });
  s = adminReducer(s, { type: "admin/export", job: { id: "e2", status: "queued" } });
  s = adminReducer(s, { type: "admin/export", job: { id: "e1", status: "done", downloadUrl: "/x" } });
  assert.deepEqual(s.exports.order, ["e2", "e1"], "newest first, a known job keeps its place");
  assert.deepEqual(s.exports.jobs.e1, { id: "e1", status: "done", userId: "u", downloadUrl: "/x" });
  const u = adminReducer(s, { type: "admin/exports-unavailable" });
  assert.equal(u.exports.unavailable, true);
  assert.equal(adminReducer(u, { type: "admin/exports-unavailable" }), u);
  const p = adminReducer(s, { type: "admin/roster-preview", preview: { imported: null }, sent: { text: "x", type: "text/csv" } });
  assert.deepEqual(p.roster.sent, { text: "x", type: "text/csv" });
  const done = adminReducer(p, { type: "admin/roster-applied", result: { imported: { users: 1 } } });
  assert.equal(done.roster.sent, null);
  assert.deepEqual(done.roster.applied, { users: 1 });
  const sending = { open: false, opensAt: "2026-12-03T07:30:00+00:00" };
  const q = adminReducer(done, { type: "admin/sending", sending });
  assert.equal(adminReducer(q, { type: "admin/sending", sending: { ...sending } }), q, "the same answer again is no change");
});

test("quiet hours: the wall-clock time of the school, today, tomorrow, a weekday, a holiday", () => {
  const now = Date.parse("2026-12-03T05:00:00Z");  // a Thursday
  assert.equal(quietText(null, now), null);
  assert.equal(quietText({ open: true, closesAt: "2026-12-03T16:00:00+00:00" }, now), null);
  assert.equal(quietText({ open: false, opensAt: "2026-12-03T07:30:00+00:00" }, now), "Chat opens at 07:30");
  assert.equal(quietText({ open: false, opensAt: "2026-12-04T07:30:00+00:00" }, now), "Chat opens tomorrow at 07:30");
  assert.equal(quietText({ open: false, opensAt: "2026-12-07T07:30:00+00:00" }, now), "Chat opens on Monday at 07:30");
  assert.equal(quietText({ open: false, opensAt: "2027-01-04T07:30:00+00:00", holiday: "Winter break" }, now),
    "Winter break: chat is closed. Chat opens on Monday 2027-01-04 at 07:30");
  // the school's offset decides "today": 23:30 UTC on the 3rd is already the 4th in Auckland
  assert.equal(quietText({ open: false, opensAt: "2026-12-04T07:30:00+13:00" }, Date.parse("2026-12-03T23:30:00Z")),
    "Chat opens at 07:30");
  assert.equal(wallClock("2026-03-30T07:30:00+01:00"), "07:30", "the school's clock, not the reader's");
  assert.equal(quietText({ open: false, opensAt: null }, now), "Chat is closed now.");
  assert.equal(nextSendingCheck({ open: false, opensAtMs: 5 }), 5);
  assert.equal(nextSendingCheck({ open: true, closesAtMs: 7 }), 7);
  assert.equal(nextSendingCheck({ open: true, closesAtMs: null }), null);
});

test("oversight: a reason of at least 10 characters once trimmed, and the banner naming the expiry", () => {
  assert.equal(reasonProblem("  too short "), "Say why in at least 10 characters (9 so far).");
  assert.equal(reasonProblem("a parent's report"), null);
  assert.equal(reasonProblem("x".repeat(501)), "At most 500 characters.");
  const grant = { expiresAt: "2026-12-03T10:05:00Z", reason: "a parent's report" };
  assert.equal(bannerText(grant, () => "10:05"), "Read-only oversight access until 10:05 (reason: a parent's report)");
  assert.equal(grantLive(grant, Date.parse("2026-12-03T10:04:59Z")), true);
  assert.equal(grantLive(grant, Date.parse("2026-12-03T10:05:00Z")), false);
  assert.equal(grantLive(null, 0), false);
});

test("the audit log: the query string of the filters and a CSV as the export command writes it", () => {
  const iso = (local) => `${local}:00Z`;
  assert.equal(auditQuery({}, iso, 50), "?limit=50");
  assert.equal(auditQuery({ actor: " a 1 ", action: "hold.set", since: "2026-12-01T08:00", until: "" }, iso, 100, 42),
    "?actor=a%201&action=hold.set&since=2026-12-01T08%3A00%3A00Z&limit=100&next=42");
  const csv = auditCsv([
    { seq: 2, at: "2026-12-03T10:00:00Z", actor: "=cmd", action: "hold.set", school: "s1", target: { userId: "u1" },
      detail: { reason: 'say "hi", now' }, prev: "p", hash: "h" },
    { seq: 1, at: "2026-12-03T09:00:00Z", actor: "a1", action: "roster.import", school: "s1", target: {}, detail: null, prev: "0", hash: "g" },
  ]);
  const lines = csv.split("\r\n");
  assert.equal(lines[0], "seq,at,actor,action,school,target,detail,prev,hash");
  assert.equal(lines[1], `2,2026-12-03T10:00:00Z,'=cmd,hold.set,s1,"{""userId"":""u1""}","{""reason"":""say \\""hi\\"", now""}",p,h`);
  assert.equal(lines[2], "1,2026-12-03T09:00:00Z,a1,roster.import,s1,{},,0,g");
  assert.equal(lines[3], "");
  assert.equal(targetText({ conversationId: "c9", userId: "u1" }), "conversation c9, user u1");
});

test("the policy and retention forms: windows and days checked before they are sent", () => {
  assert.deepEqual(windowFrom(["fri", "mon"], "07:30", "16:00"), { window: { days: ["mon", "fri"], from: "07:30", to: "16:00" } });
  assert.deepEqual(windowFrom(["sat"], "22:00", "24:00"), { window: { days: ["sat"], from: "22:00", to: "24:00" } });
  assert.ok(windowFrom([], "07:30", "16:00").error);
  assert.ok(windowFrom(["mon"], "7:30", "16:00").error);
  assert.ok(windowFrom(["mon"], "09:00", "09:00").error);
  assert.deepEqual(daysValue(""), { value: null });
  assert.deepEqual(daysValue("", { required: true }), { error: "A number of days is needed." });
  assert.deepEqual(daysValue(" 30 "), { value: 30 });
  assert.ok(daysValue("0", { min: 1 }).error);
  assert.ok(daysValue("1.5").error);
  assert.ok(daysValue("36501").error);
});

test("the roster preview and export progress in words", () => {
  const preview = { users: { added: 1, changed: 2, unchanged: 0 }, classes: { added: 0, changed: 1, unchanged: 3, membersRemoved: 1 },
    unknownMembers: ["ghost"] };
  assert.deepEqual(previewLines(preview), ["1 new person, 2 changed, 0 unchanged.",
    "0 new classes, 1 changed, 3 unchanged; 1 class membership removed.", "Not known yet (not in this file): ghost."]);
  assert.equal(changeText({ name: ["Sam", "Samuel"], studentsRemoved: ["st2"] }), "name: Sam \u2192 Samuel; students removed: st2");
  assert.equal(exportProgress({ status: "running", progress: { messages: 3, files: 0, bytes: 10 } }), null);
  assert.equal(exportProgress({ status: "running", progress: 0.25 }), 0.25);
  assert.equal(exportProgress({ status: "running", progress: 50 }), 0.5);
  assert.equal(exportProgress({ status: "done" }), 1);
  assert.equal(exportCounts({ progress: { messages: 1204, files: 1, bytes: 9 } }), "1,204 messages, 1 file");
  assert.equal(exportCounts({ progress: null }), "");
  assert.equal(exportFinished({ status: "running" }), false);
  assert.equal(exportFinished({ status: "failed" }), true);
  assert.equal(exportFinished({ status: "done", downloadUrl: "/x" }), true);
});
