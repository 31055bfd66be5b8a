// Unit tests of the web client's safeguarding logic: what the school's policy lets a user do
// (static/js/policy.js), the plain words of refusals, and the safety and moderation reducers.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  allowedKinds, classmatesFrom, isSupervised, mayPick, policyNote, readOnlyReason, reasonLabel, refusalText, REPORT_REASONS,
} from "../../static/js/policy.js";
import { initialState, reduce } from "../../static/js/state/index.js";
import { blockList, isBlocked } from "../../static/js/state/safety.js";
import { openCount, queue } from "../../static/js/state/moderation.js";

const STUDENT = { id: "s1", role: "student", school: "x" };
const TEACHER = { id: "t1", role: "teacher", school: "x" };
const policy = (extra) => ({ studentDirect: "any", studentGroups: "allowed", studentsMayMessageAdmins: true, ...extra });
const people = [{ id: "s2", role: "student" }, { id: "t1", role: "teacher" }, { id: "a1", role: "admin" }];
const pickable = (p, me, kind, mates) => people.filter((u) => mayPick(p, me, u, kind, mates)).map((u) => u.id);

test("studentDirect decides whom a student may start a direct conversation with; staff pick anyone", () => {
  assert.deepEqual(pickable(policy(), STUDENT, "direct"), ["s2", "t1", "a1"]);
  assert.deepEqual(pickable(policy({ studentDirect: "staff_only" }), STUDENT, "direct"), ["t1", "a1"]);
  assert.deepEqual(pickable(policy({ studentDirect: "classmates" }), STUDENT, "direct", new Set()), ["t1", "a1"]);
  assert.deepEqual(pickable(policy({ studentDirect: "classmates" }), STUDENT, "direct", new Set(["s2"])), ["s2", "t1", "a1"]);
  assert.deepEqual(pickable(policy({ studentDirect: "none" }), STUDENT, "direct"), []);
  assert.deepEqual(pickable(policy({ studentsMayMessageAdmins: false }), STUDENT, "direct"), ["s2", "t1"]);
  assert.deepEqual(pickable(policy({ studentsMayMessageAdmins: false }), STUDENT, "group"), ["s2", "t1"]);
  assert.deepEqual(pickable(policy({ studentDirect: "none" }), STUDENT, "group"), ["s2", "t1", "a1"]);
  assert.deepEqual(pickable(policy({ studentDirect: "none", studentsMayMessageAdmins: false }), TEACHER, "direct"), ["s2", "t1", "a1"]);
  assert.deepEqual(pickable(null, STUDENT, "direct"), ["s2", "t1", "a1"]);  // not read yet: the defaults
});

test("the kinds offered and the note saying why others are missing", () => {
  assert.deepEqual(allowedKinds(policy({ studentDirect: "none", studentGroups: "staff_only" }), STUDENT), { direct: false, group: false });
  assert.deepEqual(allowedKinds(policy({ studentDirect: "none", studentGroups: "staff_only" }), TEACHER), { direct: true, group: true });
  assert.deepEqual(allowedKinds(policy({ studentGroups: "supervised" }), STUDENT), { direct: true, group: true });
  assert.equal(policyNote(policy({ studentDirect: "staff_only" }), STUDENT, "direct"), "Your school lets students message staff only.");
  assert.equal(policyNote(policy({ studentDirect: "staff_only" }), STUDENT, "group"), "");
  assert.match(policyNote(policy({ studentGroups: "supervised" }), STUDENT, "group"), /need a teacher/);
  assert.match(policyNote(policy({ studentsMayMessageAdmins: false }), STUDENT, "direct"), /cannot message the school's admins/);
  assert.equal(policyNote(policy({ studentDirect: "none" }), TEACHER, "direct"), "");
  assert.equal(policyNote(policy(), STUDENT, "direct"), "");
});

const direct = (createdBy, a, b) => ({ id: "d", type: "direct", createdBy,
  participants: [{ userId: a[0], userRole: a[1] }, { userId: b[0], userRole: b[1] }] });

test("read-only conversations are decided as the server decides them", () => {
  const pair = direct("s1", ["s1", "student"], ["s2", "student"]);
  assert.equal(readOnlyReason(pair, policy(), STUDENT, null), null);
  assert.equal(readOnlyReason(pair, policy({ studentDirect: "staff_only" }), STUDENT, null), "staff_only");
  assert.equal(readOnlyReason(pair, policy({ studentDirect: "staff_only" }), { ...STUDENT, id: "s2" }, null), "staff_only");
  assert.equal(readOnlyReason(pair, policy({ studentDirect: "classmates" }), STUDENT, null), null);  // unknown: the server says
  assert.equal(readOnlyReason(pair, policy({ studentDirect: "classmates" }), STUDENT, new Set()), "classmates");
  // one a member of staff started never breaks it; staff are never read-only
  assert.equal(readOnlyReason(direct("t1", ["t1", "teacher"], ["s1", "student"]), policy({ studentDirect: "none" }), STUDENT, null), null);
  assert.equal(readOnlyReason(direct("s1", ["s1", "student"], ["t1", "teacher"]), policy({ studentDirect: "staff_only" }), STUDENT, null), null);
  assert.equal(readOnlyReason(direct("s1", ["s1", "student"], ["a1", "admin"]), policy({ studentsMayMessageAdmins: false }), STUDENT, null), "admins");
  assert.equal(readOnlyReason(pair, policy({ studentDirect: "none" }), TEACHER, null), null);
  const group = { id: "g", type: "group", createdBy: "s1", participants: [{ userId: "s1", userRole: "student" }, { userId: "s2", userRole: "student" }] };
  assert.equal(readOnlyReason(group, policy({ studentGroups: "supervised" }), STUDENT, null), "unsupervised");
  assert.equal(readOnlyReason(group, policy({ studentGroups: "staff_only" }), STUDENT, null), "staff_only_groups");
  const withTeacher = { ...group, participants: [...group.participants, { userId: "t1", userRole: "teacher" }] };
  assert.equal(readOnlyReason(withTeacher, policy({ studentGroups: "supervised" }), STUDENT, null), null);
  assert.equal(isSupervised(withTeacher, policy({ studentGroups: "supervised" })), true);
  assert.equal(isSupervised(withTeacher, policy()), false);
  assert.equal(readOnlyReason({ ...group, type: "class" }, policy({ studentGroups: "staff_only" }), STUDENT, null), null);
});

test("classmates are the members of my class conversations", () => {
  const byId = { c: { type: "class", participants: [{ userId: "s1" }, { userId: "s2" }] },
    g: { type: "group", participants: [{ userId: "s3" }] } };
  assert.deepEqual([...classmatesFrom(byId, "s1")], ["s2"]);
});

test("refusals of a send are said in plain words, with the time a mute ends or the seconds to wait", () => {
  assert.equal(refusalText("content_blocked", "not sent: contains words the school does not allow (list: Bullying)", 0),
    "Not sent: this message contains words your school does not allow.");
  assert.equal(refusalText("muted", "slow mode: you can send again in 12 seconds", 0),
    "Not sent: slow mode is on here. You can send again in 12 seconds.");
  assert.equal(refusalText("muted", "slow mode: you can send again in 1 seconds", 0),
    "Not sent: slow mode is on here. You can send again in 1 second.");
  const until = "2026-03-04T15:30:00.000Z";
  const text = refusalText("muted", `you are muted in this conversation until ${until}`, Date.parse("2026-03-04T15:00:00Z"), "en-GB");
  assert.match(text, /^Not sent: you are muted in this conversation until .*\d\d:\d\d\.$/);
  assert.equal(refusalText("muted", "", 0), "Not sent: you are muted in this conversation.");
  assert.match(refusalText("policy_forbidden", "This conversation is read-only for students: x.", 0), /school's rules/);
  assert.equal(refusalText("rate_limited", "slow down", 0), null);
});

test("every report reason has plain words", () => {
  assert.deepEqual(REPORT_REASONS.map(([k]) => k), ["bullying", "harassment", "self_harm", "sexual_content", "violence", "spam", "other"]);
  assert.equal(reasonLabel("self_harm"), "Someone may hurt themselves");
  assert.equal(reasonLabel("filter"), "Word filter");
});

const ME = { id: "s1", name: "Sam", role: "student", school: "x" };
const apply = (state, ...actions) => actions.reduce(reduce, state);

test("the safety slice: policy, blocks, reports and refused sends", () => {
  const s0 = initialState(ME);
  assert.equal(s0.safety.policy, null);
  const s1 = apply(s0, { type: "policy/loaded", policy: policy() }, { type: "send/refused", conversationId: "c1", why: "refused" });
  assert.equal(s1.safety.refused.c1, "refused");
  assert.equal(reduce(s1, { type: "policy/loaded", policy: policy() }), s1, "the same policy again changes nothing");
  const s2 = reduce(s1, { type: "policy/loaded", policy: policy({ studentDirect: "none" }) });
  assert.deepEqual(s2.safety.refused, {}, "a new policy decides every conversation again");
  const s3 = apply(s2, { type: "blocks/loaded", blocks: [{ userId: "u2", name: "Zed", role: "student", createdAt: "x" }] },
    { type: "person/error", userId: "u3", text: "Not blocked" }, { type: "block/added", block: { userId: "u3", name: "Amy", role: "student" } });
  assert.deepEqual(blockList(s3.safety).map((b) => b.name), ["Amy", "Zed"]);
  assert.equal(s3.safety.personErrors.u3, undefined, "a block that worked clears the error");
  const s4 = reduce(s3, { type: "block/removed", userId: "u2" });
  assert.equal(isBlocked(s4.safety, "u2"), false);
  assert.equal(reduce(s4, { type: "block/removed", userId: "u2" }), s4);
  const s5 = apply(s4, { type: "report/done", messageId: "m1" }, { type: "report/done", userId: "u9" },
    { type: "reported/restore", messageIds: ["m0"], userIds: [] });
  assert.deepEqual(Object.keys(s5.safety.reported).sort(), ["m0", "m1"]);
  assert.equal(reduce(s5, { type: "report/done", messageId: "m1" }), s5);
  assert.equal(s5.safety.reportedUsers.u9, true);
});

test("a refused send keeps no Retry and can be taken back", () => {
  const s = apply(initialState(ME), { type: "outbox/queued", clientMsgId: "w1", conversationId: "c1", text: "hi", createdAt: 1 },
    { type: "outbox/failed", clientMsgId: "w1", error: "not sent", code: "content_blocked" });
  assert.equal(s.outbox.w1.code, "content_blocked");
  assert.equal(reduce(s, { type: "outbox/discard", clientMsgId: "w1" }).outbox.w1, undefined);
});

const kase = (id, status, extra) => ({ id, kind: "message", status, reasons: ["spam"], reportCount: 1, subjectId: "u2",
  subjectName: "Bob", messageId: "m" + id, conversationId: "c1", createdAt: `2026-01-01T00:00:0${id}Z`,
  updatedAt: `2026-01-01T00:00:0${id}Z`, escalatedAt: null, ...extra });

test("the moderation slice: the queue by filter, pushes, the case on screen and the badge's count", () => {
  let s = apply(initialState(ME), { type: "moderation/summary", summary: { total: 3, byStatus: { open: 2, resolved: 1 }, byReason: {} } });
  assert.equal(s.moderation.allowed, true);
  assert.equal(openCount(s.moderation), 2);
  s = apply(s, { type: "moderation/page", filter: "open", cases: [kase(2, "open"), kase(1, "open")], hasMore: false, next: null });
  assert.deepEqual(queue(s.moderation).map((c) => c.id), [2, 1]);
  // a push while the page is read is not lost to the page's answer
  s = apply(s, { type: "moderation/case", case: kase(3, "open") },
    { type: "moderation/page", filter: "open", cases: [kase(2, "open")], hasMore: false, next: null });
  assert.deepEqual(queue(s.moderation).map((c) => c.id), [3, 2, 1]);
  // an answer for another filter than the one shown is dropped
  assert.equal(reduce(s, { type: "moderation/page", filter: "resolved", cases: [kase(9, "resolved")], hasMore: false, next: null }), s);
  s = apply(s, { type: "moderation/select", id: 2 },
    { type: "moderation/detail", detail: { case: kase(2, "open"), reports: [], actions: [], message: { id: "m2", conversationId: "c1", seq: 5 },
      context: [{ id: "m2", conversationId: "c1", seq: 5, deleted: false }] } });
  assert.equal(s.moderation.detail.case.id, 2);
  const pushed = reduce(s, { type: "message/deleted", conversationId: "c1", seq: 5 });
  assert.equal(pushed.moderation.detail.context[0].deleted, true);
  s = reduce(s, { type: "moderation/acted", case: kase(2, "open"), record: { actorName: "Ada", action: "remove_message", status: null } });
  assert.equal(s.moderation.detail.message.deleted, true, "my removal shows without reading the case again");
  assert.deepEqual(s.moderation.detail.actions.map((a) => a.action), ["remove_message"]);
  s = reduce(s, { type: "moderation/case", case: kase(2, "resolved") });
  assert.deepEqual(queue(s.moderation).map((c) => c.id), [3, 1], "a resolved case leaves the open queue");
  assert.equal(s.moderation.detail.case.status, "resolved");
  s = apply(s, { type: "moderation/show", shown: true }, { type: "conversations/loaded", conversations: [{ id: "c1", type: "group", participants: [] }] },
    { type: "conversation/open", conversationId: "c1" });
  assert.equal(s.moderation.shown, false, "opening a conversation leaves the page");
  s = reduce(s, { type: "moderation/filter", filter: "" });
  assert.deepEqual(s.moderation.cases, {});
});
