// The markers this tab sends: read (when a conversation is opened, shown while the tab is
// visible, or written in) and delivered (coalesced: at most one per conversation every 500 ms,
// carrying the highest seq, so a burst of messages costs the server one marker write, not one
// per message). What is due waits in the link slice; only the flush timer lives here.
import { maxSeq } from "../state/messages.js";

const DELIVERED_EVERY_MS = 500;

export class ReceiptsController {
  /**
   * @param {object} deps {store, session}
   */
  constructor(deps) {
    this.deps = deps;
    this.deliveredTimer = null;
  }

  /** Coming back to the tab reads the open conversation. */
  wire() {
    document.addEventListener("visibilitychange", () => {
      const state = this.deps.store.state;
      if (state && state.conversations.active) this.markRead(state.conversations.active);
    });
  }

  // `sent`: one's own send was just acknowledged, so what is shown has been seen whatever the page's
  // visibility says, and only up to the newest seq shown (not messages still on their way).
  /** Mark a conversation read up to its newest message (when there is anything to mark). */
  async markRead(id, sent = false) {
    const { store, session } = this.deps;
    const state = store.state;
    const conv = state.conversations.byId[id];
    if (!conv || (!sent && document.visibilityState === "hidden") || !session.online()) return;
    const top = sent ? maxSeq(state.messages, id) : Math.max(maxSeq(state.messages, id), conv.lastSeq || 0);
    const mine = state.unread[id] || { unread: 0, lastReadSeq: 0 };
    if (top <= mine.lastReadSeq && !mine.unread) return;
    try {
      const r = await session.request("message:read", { conversationId: id, seq: top });
      store.dispatch({ type: "unread/set", conversationId: id, unread: r.unread, lastReadSeq: r.lastReadSeq, mentions: r.mentions });
    } catch (_) { /* retried on the next open or reconnect */ }
  }

  /** A message up to `seq` reached this tab: say so (with the next flush). */
  deliveredUpTo(conversationId, seq) {
    this.deps.store.update({ type: "delivered/due", conversationId, seq });  // nothing on screen shows it
    if (this.deliveredTimer) return;
    this.deliveredTimer = setTimeout(() => {
      this.deliveredTimer = null;
      const { store, session } = this.deps;
      for (const [id, top] of Object.entries(store.state.link.delivered)) {
        session.notify("message:delivered", { conversationId: id, seq: top });
      }
      store.update({ type: "delivered/sent" });
    }, DELIVERED_EVERY_MS);
  }
}
