// What the school's safeguarding policy lets this user do, and the plain words the page says
// about it (README "School policy"). Pure: the policy, me and the people come in as arguments,
// so node tests it. Staff may always message anyone; the server decides in the end, and a
// refusal it gives is shown as well.

import { currentLanguage, t } from "./i18n.js";

const STAFF = ["teacher", "admin"];

/** Whether a school role is staff (teacher or admin). */
export function isStaff(role) {
  return STAFF.includes(role);
}

/** The policy a school that never set one has (what the page assumes until it has read it). */
export const DEFAULT_POLICY = Object.freeze({ studentDirect: "any", studentGroups: "allowed", studentsMayMessageAdmins: true });

/** The conversation kinds the New dialog offers me: {direct, group} booleans. */
export function allowedKinds(policy, me) {
  const p = policy || DEFAULT_POLICY;
  if (isStaff(me.role)) return { direct: true, group: true };
  return { direct: p.studentDirect !== "none", group: p.studentGroups !== "staff_only" };
}

/**
 * Whether the New dialog lists `user` ({id, role}) for a conversation of `kind` ("direct" or
 * "group"). `classmates`: a Set of the user ids I share a class with (the members of my class
 * conversations: no route lists a student's classmates).
 */
export function mayPick(policy, me, user, kind, classmates) {
  const p = policy || DEFAULT_POLICY;
  if (isStaff(me.role)) return true;
  if (user.role === "admin" && !p.studentsMayMessageAdmins) return false;
  if (kind === "group") return true;
  if (p.studentDirect === "none") return false;
  if (isStaff(user.role) || p.studentDirect === "any") return true;
  if (p.studentDirect === "staff_only") return false;
  return Boolean(classmates && classmates.has(user.id));
}

/** The short note saying why some people or kinds are missing from the New dialog ("" for none). */
export function policyNote(policy, me, kind) {
  const p = policy || DEFAULT_POLICY;
  if (isStaff(me.role)) return "";
  const parts = [];
  if (kind === "direct") {
    if (p.studentDirect === "staff_only") parts.push(t("policy.directStaff"));
    else if (p.studentDirect === "classmates") parts.push(t("policy.directClassmates"));
  }
  if (p.studentDirect === "none") parts.push(t("policy.directNone"));
  if (p.studentGroups === "staff_only") parts.push(t("policy.groupsStaff"));
  else if (kind === "group" && p.studentGroups === "supervised") parts.push(t("policy.groupsSupervised"));
  if (!p.studentsMayMessageAdmins) parts.push(t("policy.noAdmins"));
  return parts.join(" ");
}

// Why a direct conversation a student started with `otherRole` breaks the policy (null: it does not).
function directBreaks(p, otherRole, shared) {
  if (otherRole === "admin" && !p.studentsMayMessageAdmins) return "admins";
  if (p.studentDirect === "none") return "no_direct";
  if (isStaff(otherRole) || p.studentDirect === "any") return null;
  if (p.studentDirect === "staff_only") return "staff_only";
  return shared ? null : "classmates";
}

/**
 * Why the policy makes a conversation read-only for me (null: it does not), from its type, its
 * creator and its members' school roles (`participants[].userRole`), as the server decides it.
 * `classmates` (a Set, or null when unknown) is asked only under `classmates`; unknown counts as
 * shared (the server's refusal of a send says otherwise).
 */
export function readOnlyReason(conv, policy, me, classmates) {
  const p = policy || DEFAULT_POLICY;
  if (me.role !== "student" || !conv || !["direct", "group"].includes(conv.type)) return null;
  const people = conv.participants || [];
  const roleOf = (id) => (people.find((x) => x.userId === id) || {}).userRole || "";
  const creatorRole = roleOf(conv.createdBy);
  if (conv.type === "direct") {
    if (isStaff(creatorRole) || people.length !== 2) return null;
    const starter = creatorRole === "student" ? conv.createdBy : (people.find((x) => x.userRole === "student") || {}).userId;
    const other = people.find((x) => x.userId !== starter);
    if (!other) return null;
    const mate = starter === me.id ? other.userId : starter;
    return directBreaks(p, other.userRole || "", !classmates || classmates.has(mate));
  }
  if (p.studentGroups === "staff_only" && !isStaff(creatorRole)) return "staff_only_groups";
  if (p.studentGroups === "supervised" && !people.some((x) => isStaff(x.userRole))) return "unsupervised";
  return null;
}

/** Whether a conversation is a group the supervised policy governs (students in it, staff must stay). */
export function isSupervised(conv, policy) {
  const p = policy || DEFAULT_POLICY;
  return Boolean(conv) && conv.type === "group" && p.studentGroups === "supervised"
    && (conv.participants || []).some((x) => x.userRole === "student");
}

/** The note that replaces the composer in a conversation read-only for me (`why`: a reason key, or "refused"). */
export function readOnlyText(why) {
  if (why === "blocked") return t("readonly.blocked");
  if (why === "refused") return t("readonly.refused");
  return t("readonly.policy");
}

// The moment a server message names, as "until 3:04 PM" (or with the date when not today).
function untilText(message, now, locale) {
  const m = /(\d{4}-\d{2}-\d{2}T[0-9:.]+Z)/.exec(message || "");
  if (!m) return "";
  const at = new Date(m[1]);
  const time = at.toLocaleTimeString(locale || currentLanguage(), { hour: "2-digit", minute: "2-digit" });
  const sameDay = new Date(now).toDateString() === at.toDateString();
  return t("refuse.until", { time: sameDay ? time : `${at.toLocaleDateString(locale || currentLanguage(), { day: "numeric", month: "short" })} ${time}` });
}

/** Codes that refuse a send for a reason sending again will not change: no Retry. */
export const FINAL_SEND_ERRORS = Object.freeze(["content_blocked", "muted", "policy_forbidden"]);

/**
 * What the page says when a send or an edit is refused with `code` (its server `message` only
 * lends the time or seconds it names), or null for another code (shown as before).
 */
export function refusalText(code, message, now, locale) {
  if (code === "content_blocked") return t("refuse.blocked");
  if (code === "muted") {
    const slow = /slow mode\D*(\d+)/i.exec(message || "");
    if (slow) {
      const n = Number(slow[1]);
      return t("refuse.slow", { count: n });
    }
    return t("refuse.muted", { until: untilText(message, now, locale) });
  }
  if (code === "policy_forbidden") return t("refuse.policy");
  return null;
}

/** The reasons a report may give, with the catalogue key of the words the page shows for them. */
export const REPORT_REASONS = Object.freeze([
  ["bullying", "reason.bullying"],
  ["harassment", "reason.harassment"],
  ["self_harm", "reason.self_harm"],
  ["sexual_content", "reason.sexual_content"],
  ["violence", "reason.violence"],
  ["spam", "reason.spam"],
  ["other", "reason.other"],
]);

/** The plain words for a report reason (the key itself for one not known). */
export function reasonLabel(reason) {
  const hit = REPORT_REASONS.find(([key]) => key === reason);
  if (hit) return t(hit[1]);
  return reason === "filter" ? t("reason.filter") : String(reason || "");
}

/** The people I share a class with, as far as the page knows: the members of my class conversations. */
export function classmatesFrom(byId, meId) {
  const out = new Set();
  for (const c of Object.values(byId || {})) {
    if (c.type !== "class") continue;
    for (const p of c.participants || []) if (p.userId !== meId) out.add(p.userId);
  }
  return out;
}
