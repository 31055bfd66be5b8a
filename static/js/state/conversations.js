// The conversation list as the server renders it for me, which one is open, and the list filter:
// {byId: {[id]: conversation}, active: id | null, filter: {type, q}, hits: {q, list: [message]}}
// (hits: the message search's answer for the query q).
import { t } from "../i18n.js";

/** Reducer for the conversations slice. */
export function conversationsReducer(slice = { byId: {}, active: null, filter: { type: "", q: "" }, hits: { q: "", list: [] } },
  action) {
  switch (action.type) {
    case "search/results":
      // message search hits for a query (the list also shows the conversations they are in)
      return { ...slice, hits: { q: action.q, list: action.hits } };
    case "conversations/loaded": {
      // a list read before a push arrived can be answered after it: an entry that is behind
      // what this tab already holds (a lower lastSeq) keeps the newer one
      const byId = {};
      for (const c of action.conversations) byId[c.id] = isBehind(c, slice.byId[c.id]) ? slice.byId[c.id] : c;
      const active = slice.active && byId[slice.active] ? slice.active : null;
      return { ...slice, byId, active, loaded: true };
    }
    case "conversation/upsert":
      return { ...slice, byId: { ...slice.byId, [action.conversation.id]: action.conversation } };
    case "conversation/removed": {
      if (!slice.byId[action.conversationId]) return slice;
      const byId = { ...slice.byId };
      delete byId[action.conversationId];
      return { ...slice, byId, active: slice.active === action.conversationId ? null : slice.active };
    }
    case "conversation/open":
      return slice.byId[action.conversationId] ? { ...slice, active: action.conversationId } : slice;
    case "conversation/close":
      return slice.active === null ? slice : { ...slice, active: null };
    case "filter/set":
      return { ...slice, filter: { ...slice.filter, ...action.filter } };
    case "message/new": {
      const m = action.message;
      const conv = slice.byId[m.conversationId];
      if (!conv || (conv.lastMessage && conv.lastMessage.seq > m.seq)) return slice;
      const lastMessage = { id: m.id, seq: m.seq, senderId: m.senderId, senderName: m.senderName,
        preview: (m.text || "").slice(0, 120), createdAt: m.createdAt, deleted: false };
      return patchConv(slice, conv, { lastSeq: Math.max(conv.lastSeq || 0, m.seq), lastActivityAt: m.createdAt,
        lastMessage });
    }
    case "message/deleted": {
      const conv = slice.byId[action.conversationId];
      if (!conv || !conv.lastMessage || conv.lastMessage.seq !== action.seq) return slice;
      return patchConv(slice, conv, { lastMessage: { ...conv.lastMessage, deleted: true, preview: "" } });
    }
    case "receipt": {
      // someone's delivery/read marker moved: the ticks of my messages derive from these
      const conv = slice.byId[action.conversationId];
      const p = conv && (conv.participants || []).find((x) => x.userId === action.userId);
      if (!p) return slice;
      const next = { ...p, lastDeliveredSeq: Math.max(p.lastDeliveredSeq || 0, action.seq) };
      if (action.status === "read") next.lastReadSeq = Math.max(p.lastReadSeq || 0, action.seq);
      const participants = conv.participants.map((x) => (x === p ? next : x));
      return patchConv(slice, conv, { participants });
    }
    default:
      return slice;
  }
}

/** Whether a listed conversation is older news than the one held (fewer messages seen). */
export function isBehind(listed, held) {
  return Boolean(held) && (listed.lastSeq || 0) < (held.lastSeq || 0);
}

function patchConv(slice, conv, patch) {
  return { ...slice, byId: { ...slice.byId, [conv.id]: { ...conv, ...patch } } };
}

/** The other participants of a conversation. */
export function others(conv, meId) {
  return (conv.participants || []).filter((p) => p.userId !== meId);
}

/** A conversation's display title: its own, or the other people's names. */
export function convTitle(conv, meId) {
  if (conv.title) return conv.title;
  const rest = others(conv, meId);
  return rest.length ? rest.map((p) => p.name).join(", ") : t("conv.justYou");
}

/** The conversations the list shows: filtered by type and text (the "archived" filter shows only
 * archived ones, every other filter leaves them out), pinned first, then newest. */
export function visibleConvs(slice, meId) {
  const q = slice.filter.q.toLowerCase();
  const archived = slice.filter.type === "archived";
  // a conversation whose messages match stays listed, though its title does not
  const hits = slice.hits || { q: "", list: [] };
  const withHits = new Set(hits.q && hits.q.toLowerCase() === q ? hits.list.map((m) => m.conversationId) : []);
  return Object.values(slice.byId)
    .filter((c) => Boolean(c.archived) === archived)
    .filter((c) => archived || !slice.filter.type || c.type === slice.filter.type)
    .filter((c) => !q || convTitle(c, meId).toLowerCase().includes(q)
      || (c.participants || []).some((p) => p.name.toLowerCase().includes(q)) || withHits.has(c.id))
    .sort((a, b) => (b.pinned - a.pinned) || String(b.lastActivityAt).localeCompare(String(a.lastActivityAt)));
}

/** "sent", "delivered" or "read" for one of my messages, from the others' markers. */
export function tickStatus(conv, m, meId) {
  const rest = others(conv, meId);
  if (!rest.length) return "sent";
  if (rest.every((p) => (p.lastReadSeq || 0) >= m.seq)) return "read";
  if (rest.every((p) => Math.max(p.lastDeliveredSeq || 0, p.lastReadSeq || 0) >= m.seq)) return "delivered";
  return "sent";
}

/** "1 person", "3 people". */
export function peopleCount(n) {
  return `${n} ${n === 1 ? "person" : "people"}`;
}
