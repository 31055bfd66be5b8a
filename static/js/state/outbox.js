// Messages written here and not yet stored by the server, keyed by clientMsgId:
// {conversationId, text, attachments (uploads' server data), replyTo, createdAt,
// status: "sending" | "queued" | "failed", error, code (the refusal's error code)}.
// "queued" waits for a socket (resent by the outbox flush after a reconnect, or by Retry);
// "failed" was refused by the server and is only resent by Retry. The slice is saved in IndexedDB
// (js/persist.js) and restored after a reload ("outbox/restored").
import { without } from "./keyed.js";

/** Reducer for the outbox slice. */
export function outboxReducer(slice = {}, action) {
  switch (action.type) {
    case "outbox/queued": {
      const { clientMsgId, conversationId, text, createdAt } = action;
      return { ...slice, [clientMsgId]: { conversationId, text, attachments: action.attachments || [],
        replyTo: action.replyTo || null, mentions: action.mentions || [], createdAt, status: "queued", error: null } };
    }
    case "outbox/restored": {
      // saved by an earlier page (IndexedDB): waiting again, unless this page already has them
      const fresh = (action.entries || []).filter(({ clientMsgId }) => !slice[clientMsgId]);
      if (!fresh.length) return slice;
      const next = { ...slice };
      for (const { clientMsgId, entry } of fresh) {
        next[clientMsgId] = { attachments: [], replyTo: null, mentions: [], error: null, code: null, ...entry,
          status: entry.status === "failed" ? "failed" : "queued" };
      }
      return next;
    }
    case "outbox/sending":
      return setStatus(slice, action.clientMsgId, "sending", null);
    case "outbox/waiting":
      return setStatus(slice, action.clientMsgId, "queued", null);
    case "outbox/failed":
      return setStatus(slice, action.clientMsgId, "failed", action.error || null, action.code || null);
    case "outbox/discard":
      // a refused message the writer took back (to edit it, or to drop it)
      return without(slice, action.clientMsgId);
    case "message/new":
    case "message/stored": {
      // the stored copy replaces the optimistic one (clientMsgIds are random per browser tab)
      const id = action.message.clientMsgId;
      if (!id || !slice[id] || slice[id].conversationId !== action.message.conversationId) return slice;
      return without(slice, id);
    }
    case "conversation/removed": {
      const next = {};
      for (const [id, p] of Object.entries(slice)) if (p.conversationId !== action.conversationId) next[id] = p;
      return Object.keys(next).length === Object.keys(slice).length ? slice : next;
    }
    default:
      return slice;
  }
}

function setStatus(slice, clientMsgId, status, error, code = null) {
  const p = slice[clientMsgId];
  if (!p || (p.status === status && p.error === error && (p.code || null) === code)) return slice;
  return { ...slice, [clientMsgId]: { ...p, status, error, code } };
}

/** Entries waiting for a socket, oldest first (the order they were written). */
export function queuedInOrder(slice) {
  return Object.entries(slice).filter(([, p]) => p.status === "queued")
    .sort((a, b) => a[1].createdAt - b[1].createdAt).map(([id]) => id);
}

/** The outbox entries of one conversation, oldest first, as [clientMsgId, entry] pairs. */
export function pendingFor(slice, conversationId) {
  return Object.entries(slice).filter(([, p]) => p.conversationId === conversationId)
    .sort((a, b) => a[1].createdAt - b[1].createdAt);
}
