// What this tab owes the server and what it knows about the socket between connections:
// {offlineSince: ms | null (when the socket dropped: the resync asks for what changed since),
//  delivered: {[conversationId]: seq} (delivery receipts waiting for the coalescing flush),
//  typingSentAt: ms (when typing:start was last sent; 0 after a stop or a send)}.
// Times travel in the actions (`at`), so the reducer stays pure.
const INITIAL = Object.freeze({ offlineSince: null, delivered: Object.freeze({}), typingSentAt: 0 });

/** Reducer for the link slice. */
export function linkReducer(slice = INITIAL, action) {
  switch (action.type) {
    case "conn/state":
      // the first drop counts: the retries after it do not move the time
      if (action.state !== "offline" || slice.offlineSince !== null || action.at === undefined) return slice;
      return { ...slice, offlineSince: action.at };
    case "sync/done":
      return slice.offlineSince === null ? slice : { ...slice, offlineSince: null };
    case "delivered/due": {
      const top = Math.max(action.seq, slice.delivered[action.conversationId] || 0);
      if (slice.delivered[action.conversationId] === top) return slice;
      return { ...slice, delivered: { ...slice.delivered, [action.conversationId]: top } };
    }
    case "delivered/sent":
      return Object.keys(slice.delivered).length ? { ...slice, delivered: {} } : slice;
    case "typing/sent":
      return slice.typingSentAt === action.at ? slice : { ...slice, typingSentAt: action.at };
    default:
      return slice;
  }
}
