// Messages held per conversation: {[conversationId]: {bySeq: {[seq]: message}, hasOlder, hasNewer}}.
// The held messages are one run without gaps: the newest ones, or (after a jump to a search
// result) a window around a message with hasNewer set until the pages after it are loaded.
// Pure: (slice, action) -> new slice; an unchanged slice is returned as is, so views can skip work.
import { without } from "./keyed.js";

const EMPTY = Object.freeze({ bySeq: Object.freeze({}), hasOlder: null, hasNewer: false });

/** The messages held for one conversation (an empty, frozen record when none). */
export function convMessages(slice, conversationId) {
  return slice[conversationId] || EMPTY;
}

/** The highest seq held for a conversation (0 when none). */
export function maxSeq(slice, conversationId) {
  let top = 0;
  for (const seq of Object.keys(convMessages(slice, conversationId).bySeq)) top = Math.max(top, Number(seq));
  return top;
}

/** The lowest seq held for a conversation (null when none). */
export function minSeq(slice, conversationId) {
  const seqs = Object.keys(convMessages(slice, conversationId).bySeq).map(Number);
  return seqs.length ? Math.min(...seqs) : null;
}

/** Whether the message (conversation, seq) is held. */
export function hasMessage(slice, conversationId, seq) {
  return Object.prototype.hasOwnProperty.call(convMessages(slice, conversationId).bySeq, seq);
}

/** The held messages of a conversation in seq order. */
export function sortedMessages(slice, conversationId) {
  return Object.values(convMessages(slice, conversationId).bySeq).sort((a, b) => a.seq - b.seq);
}

function putAll(slice, conversationId, list, patch) {
  const prev = convMessages(slice, conversationId);
  const bySeq = { ...prev.bySeq };
  for (const m of list) bySeq[m.seq] = m;
  return { ...slice, [conversationId]: { ...prev, ...(patch || {}), bySeq } };
}

/** Reducer for the messages slice. */
export function messagesReducer(slice = {}, action) {
  switch (action.type) {
    case "messages/page": {
      // a history page: the first or an older one sets hasOlder; "after" pages set hasNewer
      const patch = {};
      if (action.hasOlder !== undefined) patch.hasOlder = action.hasOlder;
      if (action.hasNewer !== undefined) patch.hasNewer = action.hasNewer;
      return putAll(slice, action.conversationId, action.messages, patch);
    }
    case "messages/replace": {
      // a window around a message, or the newest page again: whatever was held goes
      const bySeq = {};
      for (const m of action.messages) bySeq[m.seq] = m;
      return { ...slice, [action.conversationId]: { bySeq, hasOlder: action.hasOlder, hasNewer: Boolean(action.hasNewer) } };
    }
    case "message/new":
    case "message/stored":
      // while a window of older messages is shown, a new one would leave a gap: it comes
      // with the pages after the window
      if (convMessages(slice, action.message.conversationId).hasNewer) return slice;
      return putAll(slice, action.message.conversationId, [action.message]);
    case "message/updated": {
      // an edit or reaction for a message we never loaded is not worth keeping
      const m = action.message;
      return hasMessage(slice, m.conversationId, m.seq) ? putAll(slice, m.conversationId, [m]) : slice;
    }
    case "message/deleted": {
      const prev = convMessages(slice, action.conversationId).bySeq[action.seq];
      if (!prev) return slice;
      const gone = { ...prev, deleted: true, text: null, attachments: [], reactions: {} };
      return putAll(slice, action.conversationId, [gone]);
    }
    case "conversation/removed":
      return without(slice, action.conversationId);
    default:
      return slice;
  }
}
