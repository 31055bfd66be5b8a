// The moderation page of a school's moderators (its admins and its safeguarding users):
// {allowed: bool | null (the server answered the summary: 200 yes, 403 no; null not asked yet),
//  shown: bool (the page is on screen), filter: "open" | "in_review" | "resolved" | "" (all),
//  counts: {open, in_review, resolved} (the summary's, read again after each push),
//  cases: {[id]: case} (as listed or pushed), hasMore, next (the queue's cursor),
//  selected: id | null, detail: {case, reports, actions, message, context} | null,
//  busy: bool (an action is under way), error: text ("" none)}.
import { t } from "../i18n.js";

const STATUSES = ["open", "in_review", "resolved"];
const INITIAL = Object.freeze({ allowed: null, shown: false, filter: "open", counts: Object.freeze({ open: 0, in_review: 0, resolved: 0 }),
  cases: Object.freeze({}), hasMore: false, next: null, selected: null, detail: null, busy: false, error: "" });

/** Reducer for the moderation slice. */
export function moderationReducer(slice = INITIAL, action) {
  switch (action.type) {
    case "moderation/allowed":
      return slice.allowed === action.allowed ? slice : { ...slice, allowed: action.allowed };
    case "moderation/summary": {
      const counts = {};
      for (const s of STATUSES) counts[s] = (action.summary.byStatus || {})[s] || 0;
      return { ...slice, allowed: true, counts };
    }
    case "moderation/show":
      return slice.shown === action.shown ? slice : { ...slice, shown: action.shown };
    case "conversation/open":
      // picking a conversation in the list leaves the page
      return slice.shown ? { ...slice, shown: false } : slice;
    case "moderation/filter":
      return slice.filter === action.filter ? slice : { ...slice, filter: action.filter, cases: {}, hasMore: false, next: null };
    case "moderation/page": {
      // a page of the queue for the current filter, merged with what was held (a case pushed while
      // the page was being read is kept; the queue shows only the filter's status anyway)
      if (action.filter !== undefined && action.filter !== slice.filter) return slice;
      const cases = { ...slice.cases };
      for (const c of action.cases) cases[c.id] = c;
      return { ...slice, cases, hasMore: action.hasMore, next: action.next };
    }
    case "moderation/case": {
      // a pushed or changed case (the counts come with the summary read after it)
      const c = action.case;
      const detail = slice.detail && slice.detail.case.id === c.id ? { ...slice.detail, case: c } : slice.detail;
      return { ...slice, cases: { ...slice.cases, [c.id]: c }, detail };
    }
    case "moderation/select":
      return { ...slice, selected: action.id, detail: action.id === (slice.detail && slice.detail.case.id) ? slice.detail : null, error: "" };
    case "moderation/detail":
      if (slice.selected !== action.detail.case.id) return slice;
      return { ...slice, detail: action.detail, cases: { ...slice.cases, [action.detail.case.id]: action.detail.case } };
    case "moderation/acted": {
      // my change, answered: recorded on the case on screen without reading it again (each read
      // of a case is an audited access)
      const d = slice.detail;
      if (!d || d.case.id !== action.case.id) return slice;
      const a = action.record;
      const removed = a.action === "remove_message" && d.message;
      const context = removed ? d.context.map((m) => (m.id === d.message.id ? { ...m, deleted: true } : m)) : d.context;
      return { ...slice, detail: { ...d, case: action.case, context, actions: [...d.actions, a],
        message: removed ? { ...d.message, deleted: true } : d.message } };
    }
    case "moderation/busy":
      return slice.busy === action.busy ? slice : { ...slice, busy: action.busy };
    case "moderation/error":
      return slice.error === action.text ? slice : { ...slice, error: action.text };
    case "message/deleted": {
      // a message removed while its case is open shows as removed in the context
      if (!slice.detail) return slice;
      const hit = slice.detail.context.some((m) => m.conversationId === action.conversationId && m.seq === action.seq && !m.deleted);
      if (!hit) return slice;
      const context = slice.detail.context.map((m) => (m.conversationId === action.conversationId && m.seq === action.seq
        ? { ...m, deleted: true } : m));
      const message = slice.detail.message && context.find((m) => m.id === slice.detail.message.id);
      return { ...slice, detail: { ...slice.detail, context, message: message || slice.detail.message } };
    }
    default:
      return slice;
  }
}

/** The queue as shown: the held cases of the current filter, newest first. */
export function queue(slice) {
  return Object.values(slice.cases).filter((c) => !slice.filter || c.status === slice.filter)
    .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)) || String(b.id).localeCompare(String(a.id)));
}

/** The open cases count (the header badge). */
export function openCount(slice) {
  return slice.counts.open || 0;
}

/** Plain words for a case status. */
export function statusLabel(status) {
  return ["open", "in_review", "resolved"].includes(status) ? t(`mod.state.${status}`) : String(status || "");
}
