// Unread counts per conversation: {[conversationId]: {unread, lastReadSeq, mentions}} (mentions:
// the unread messages that mention me). The server's numbers
// (conversation lists, unread:update pushes, read replies) win; between them a message from
// someone else that this tab is not showing counts one up.
import { isBehind } from "./conversations.js";
import { without } from "./keyed.js";
import { hasMessage } from "./messages.js";

/** Reducer for the unread slice; `root` is the whole state before the action. */
export function unreadReducer(slice = {}, action, root) {
  switch (action.type) {
    case "conversations/loaded": {
      const next = {};
      for (const c of action.conversations) {
        const stale = root && isBehind(c, root.conversations.byId[c.id]) && slice[c.id];
        next[c.id] = stale ? slice[c.id] : { unread: c.unread || 0, lastReadSeq: c.lastReadSeq || 0, mentions: c.mentions || 0 };
      }
      return next;
    }
    case "conversation/upsert": {
      const c = action.conversation;
      if (c.unread === undefined) return slice;
      return { ...slice, [c.id]: { unread: c.unread || 0, lastReadSeq: c.lastReadSeq || 0, mentions: c.mentions || 0 } };
    }
    case "unread/set": {
      // a server that does not send mention counts: nothing unread means no unread mention either
      const prev = slice[action.conversationId] || { mentions: 0 };
      const mentions = action.mentions !== undefined ? action.mentions : action.unread ? prev.mentions || 0 : 0;
      return { ...slice, [action.conversationId]: { unread: action.unread, lastReadSeq: action.lastReadSeq, mentions } };
    }
    case "message/new": {
      const m = action.message;
      const known = root && hasMessage(root.messages, m.conversationId, m.seq);
      if (known || m.senderId === action.me || m.type === "system" || action.reading) return slice;
      const prev = slice[m.conversationId] || { unread: 0, lastReadSeq: 0, mentions: 0 };
      const mentioned = (m.mentions || []).includes(action.me) ? 1 : 0;
      return { ...slice, [m.conversationId]: { ...prev, unread: prev.unread + 1, mentions: (prev.mentions || 0) + mentioned } };
    }
    case "conversation/removed":
      return without(slice, action.conversationId);
    default:
      return slice;
  }
}

/** The unread count of one conversation. */
export function unreadOf(slice, conversationId) {
  return (slice[conversationId] || { unread: 0 }).unread;
}

/** The unread messages of one conversation that mention me. */
export function mentionsOf(slice, conversationId) {
  return (slice[conversationId] || { mentions: 0 }).mentions || 0;
}

/** The unread count over every conversation (for the tab title); with `byId`, muted and
 * archived conversations are left out, as the server's own total does. */
export function unreadTotal(slice, byId) {
  let sum = 0;
  for (const [id, u] of Object.entries(slice)) {
    const conv = byId && byId[id];
    if (conv && (conv.muted || conv.archived)) continue;
    sum += u.unread || 0;
  }
  return sum;
}
