// The admin area of a school's admins (policy and quiet hours, retention, legal holds, the audit
// log, exports, oversight access, the roster import) and, for everyone, whether I may send now
// (quiet hours: the school policy's `sending`). Pure: the reducer of the `admin` slice and the
// formatting the admin views and the quiet-hours note use; no DOM, no network, no clock (the
// time travels in the arguments).
//
// Slice: {shown, tab, policy: the school's policy doc | null, retention | null, holds: [] | null,
//   audit: {filters, entries, hasMore, next, loaded}, exports: {jobs: {[id]: job}, order: [ids],
//   unavailable}, grants: [] | null, oversight: {grant, conversation, messages} | null,
//   roster: {preview, applied, sent: the text and type previewed}, notes: {[tab]: {text, error}}, sending: policy GET's
//   `sending` for me | null}.
import { currentLanguage, t } from "../i18n.js";

export const TABS = Object.freeze(["policy", "retention", "holds", "audit", "exports", "oversight", "roster"]);
/** A tab's name in the page's language. */
export const tabLabel = (tab) => t(`adm.tab.${tab}`);
export const DAYS = Object.freeze(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
export const AUDIT_ACTIONS = Object.freeze(["message.delete", "participant.add", "participant.remove", "roster.import",
  "oversight.grant", "oversight.read", "moderation.case_read", "moderation.action", "mute.set", "mute.clear",
  "policy.change", "filters.change", "retention.change", "quiet_hours.change", "hold.set", "hold.release",
  "export.create", "export.download", "user.erase", "retention.sweep"]);
export const MIN_REASON = 10;
export const MAX_REASON = 500;

const EMPTY_AUDIT = Object.freeze({ filters: Object.freeze({}), entries: Object.freeze([]), hasMore: false, next: null, loaded: false });
const INITIAL = Object.freeze({ shown: false, tab: "policy", policy: null, retention: null, holds: null, audit: EMPTY_AUDIT,
  exports: Object.freeze({ jobs: Object.freeze({}), order: Object.freeze([]), unavailable: false }), grants: null,
  oversight: null, roster: Object.freeze({ preview: null, applied: null, sent: null }), notes: Object.freeze({}),
  sending: null, firstRun: false });

/** Reducer for the admin slice. */
export function adminReducer(slice = INITIAL, action) {
  switch (action.type) {
    case "admin/show":
      if (slice.shown === action.shown && (!action.tab || action.tab === slice.tab)) return slice;
      return { ...slice, shown: action.shown, tab: action.tab || slice.tab, firstRun: action.firstRun || false };
    case "admin/tab":
      return action.tab === slice.tab || !TABS.includes(action.tab) ? slice : { ...slice, tab: action.tab };
    case "admin/note":
      return { ...slice, notes: { ...slice.notes, [action.tab]: { text: action.text || "", error: Boolean(action.error) } } };
    case "admin/policy":
      return { ...slice, policy: action.policy };
    case "admin/retention":
      return { ...slice, retention: action.retention };
    case "admin/holds":
      return { ...slice, holds: action.holds.slice() };
    case "admin/audit": {
      const entries = action.append ? slice.audit.entries.concat(action.entries) : action.entries.slice();
      return { ...slice, audit: { filters: action.filters, entries, hasMore: action.hasMore, next: action.next, loaded: true } };
    }
    case "admin/export": {
      const job = action.job;
      const known = Boolean(slice.exports.jobs[job.id]);
      return { ...slice, exports: { ...slice.exports, jobs: { ...slice.exports.jobs, [job.id]: { ...slice.exports.jobs[job.id], ...job } },
        order: known ? slice.exports.order : [job.id, ...slice.exports.order] } };
    }
    case "admin/exports-unavailable":
      return slice.exports.unavailable ? slice : { ...slice, exports: { ...slice.exports, unavailable: true } };
    case "admin/grants":
      return { ...slice, grants: action.grants.slice() };
    case "admin/oversight":
      return { ...slice, oversight: action.oversight };
    case "admin/roster-preview":
      return { ...slice, roster: { preview: action.preview, applied: null, sent: action.sent } };
    case "admin/roster-applied":
      return { ...slice, roster: { preview: action.result, applied: action.result.imported, sent: null } };
    case "admin/roster-clear":
      return slice.roster.preview || slice.roster.applied ? { ...slice, roster: { preview: null, applied: null, sent: null } } : slice;
    case "admin/sending":
      return JSON.stringify(slice.sending) === JSON.stringify(action.sending) ? slice : { ...slice, sending: action.sending };
    default:
      return slice;
  }
}

// ---------------------------------------------------------------- quiet hours
/** "HH:MM" of an ISO 8601 time as written (the school's own offset: its wall clock, no arithmetic). */
export function wallClock(iso) {
  const m = /T(\d\d):(\d\d)/.exec(iso || "");
  return m ? `${m[1]}:${m[2]}` : "";
}

/** The school-local date (YYYY-MM-DD) of an ISO time with offset. */
function wallDate(iso) {
  const m = /^(\d{4}-\d\d-\d\d)T/.exec(iso || "");
  return m ? m[1] : "";
}


/**
 * What shows instead of the composer while I may not send (null while I may): "Chat opens at
 * 07:30", or on a later day "Chat opens on Monday at 07:30", with the holiday's name on one.
 * `nowMs` decides "today"/"tomorrow" in the school's offset (the offset of `opensAt`).
 */
export function quietText(sending, nowMs) {
  if (!sending || sending.open !== false) return null;
  const when = wallClock(sending.opensAt);
  const prefix = sending.holiday ? `${t("quiet.holiday", { name: sending.holiday })} ` : "";
  if (!when) return prefix + t("quiet.closed");
  const offset = /([+-])(\d\d):(\d\d)$/.exec(sending.opensAt);
  const shift = offset ? (offset[1] === "-" ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60000 : 0;
  const today = new Date(nowMs + shift).toISOString().slice(0, 10);
  const tomorrow = new Date(nowMs + shift + 86400000).toISOString().slice(0, 10);
  const day = wallDate(sending.opensAt);
  if (!day || day === today) return prefix + t("quiet.opensAt", { when });
  if (day === tomorrow) return prefix + t("quiet.opensTomorrow", { when });
  const weekday = new Intl.DateTimeFormat(currentLanguage(), { weekday: "long", timeZone: "UTC" }).format(new Date(`${day}T12:00:00Z`));
  const soon = Date.parse(`${day}T00:00:00Z`) - Date.parse(`${today}T00:00:00Z`) < 7 * 86400000;
  return prefix + t("quiet.opensOn", { day: soon ? weekday : `${weekday} ${day}`, when });
}

/** When to ask for `sending` again (ms since epoch): when the window opens or closes, or null. */
export function nextSendingCheck(sending) {
  if (!sending) return null;
  const at = sending.open ? sending.closesAtMs : sending.opensAtMs;
  return typeof at === "number" ? at : null;
}

// ---------------------------------------------------------------- oversight
/** Whether a stated reason is long enough (10..500 characters once trimmed). */
export function reasonProblem(text) {
  const said = (text || "").trim();
  if (said.length < MIN_REASON) return t("adm.reasonShort", { min: MIN_REASON, count: said.length });
  if (said.length > MAX_REASON) return t("adm.reasonLong", { max: MAX_REASON });
  return null;
}

/** "Read-only oversight access until 14:05 (reason …)"; `clock(iso)` renders the reader's HH:MM. */
export function bannerText(grant, clock) {
  return t("adm.banner", { time: clock(grant.expiresAt), reason: grant.reason });
}

/** Whether a grant is still in force at `nowMs`. */
export function grantLive(grant, nowMs) {
  return Boolean(grant) && Date.parse(grant.expiresAt) > nowMs;
}

// ---------------------------------------------------------------- the audit log
/** The query string of GET /api/audit for these filters (datetime-local values read as local time by `toIso`). */
export function auditQuery(filters, toIso, limit, next) {
  const parts = [];
  if (filters.actor) parts.push(`actor=${encodeURIComponent(filters.actor.trim())}`);
  if (filters.action) parts.push(`action=${encodeURIComponent(filters.action)}`);
  if (filters.since) parts.push(`since=${encodeURIComponent(toIso(filters.since))}`);
  if (filters.until) parts.push(`until=${encodeURIComponent(toIso(filters.until))}`);
  if (limit) parts.push(`limit=${limit}`);
  if (next !== null && next !== undefined) parts.push(`next=${encodeURIComponent(next)}`);
  return parts.length ? `?${parts.join("&")}` : "";
}

function csvCell(value) {
  let text = value === null || value === undefined ? "" : typeof value === "object" ? JSON.stringify(value) : String(value);
  // a cell a spreadsheet would run as a formula is shown as text instead (as `audit export` does)
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export const AUDIT_COLUMNS = Object.freeze(["seq", "at", "actor", "action", "school", "target", "detail", "prev", "hash"]);

/** The entries as CSV, the columns of `school-chat audit export --format csv` (CRLF line ends). */
export function auditCsv(entries) {
  const lines = [AUDIT_COLUMNS.join(",")];
  for (const e of entries) lines.push(AUDIT_COLUMNS.map((k) => csvCell(e[k])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** One line about an entry's target: "conversation 65f…", "user st1". */
export function targetText(target) {
  return Object.entries(target || {}).map(([k, v]) => `${k.replace(/Id$/, "")} ${v}`).join(", ");
}

// ---------------------------------------------------------------- policy and retention forms
const TIME = /^([01]\d|2[0-3]):[0-5]\d$|^24:00$/;

/** A quiet-hours window as the form gives it, checked: {days, from, to} or an error text. */
export function windowFrom(days, from, to) {
  if (!days.length) return { error: t("adm.pickDay") };
  if (!TIME.test(from) || !TIME.test(to)) return { error: t("adm.timesFormat") };
  if (from === to) return { error: t("adm.sameTime") };
  return { window: { days: DAYS.filter((d) => days.includes(d)), from, to } };
}

/** A retention days field: "" is null (unless `required`), else a whole number in range, or an error. */
export function daysValue(raw, { min = 0, max = 36500, required = false } = {}) {
  const text = String(raw ?? "").trim();
  if (text === "") return required ? { error: t("adm.daysNeeded") } : { value: null };
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) return { error: t("adm.daysRange", { min, max }) };
  return { value: Number(text) };
}

/** The roster preview in a few plain lines. */
export function previewLines(p) {
  const u = p.users, c = p.classes;
  const lines = [
    t("adm.previewPeople", { count: u.added, changed: u.changed, unchanged: u.unchanged }),
    t("adm.previewClasses", { count: c.added, changed: c.changed, unchanged: c.unchanged })
      + (c.membersRemoved ? t("adm.previewRemoved", { count: c.membersRemoved }) : "."),
  ];
  if (p.unknownMembers.length) lines.push(t("adm.unknown", { ids: p.unknownMembers.join(", ") }));
  return lines;
}

/** A changed user's or class's changes in words: "name Sam → Samuel; students removed: st2". */
export function changeText(changes) {
  return Object.entries(changes).map(([k, v]) => {
    if (Array.isArray(v) && v.length === 2 && !/Added$|Removed$/.test(k)) return `${k}: ${v[0]} \u2192 ${v[1]}`;
    return `${k.replace(/(Added|Removed)$/, " $1").toLowerCase()}: ${v.join(", ")}`;
  }).join("; ");
}

/** An export job's progress (0..1) when the server gives a fraction, else null (a running bar). */
export function exportProgress(job) {
  if (job.status === "done") return 1;
  const p = job.progress;
  if (typeof p !== "number" || !Number.isFinite(p)) return null;
  return Math.max(0, Math.min(1, p > 1 ? p / 100 : p));
}

/** What an export wrote so far, in words ("1,204 messages, 3 files"), from its progress counts. */
export function exportCounts(job) {
  const p = job.progress;
  if (!p || typeof p !== "object") return "";
  const n = (x) => Number(x || 0).toLocaleString("en");
  return `${n(p.messages)} message${p.messages === 1 ? "" : "s"}, ${n(p.files)} file${p.files === 1 ? "" : "s"}`;
}

/** Whether an export job is finished one way or the other (queued and running are not). */
export function exportFinished(job) {
  return ["done", "failed"].includes(job.status) || Boolean(job.downloadUrl);
}
