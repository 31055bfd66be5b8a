// What happens when the socket is (back) up: presence, then catching up with what was missed
// (everything after the last seq held and what changed meanwhile), then the outbox.
import { maxSeq } from "../state/messages.js";

const SYNC_MARGIN_MS = 5000;  // an edit may have been stored just before the socket noticed the drop

export class SyncController {
  /**
   * @param {object} deps {store, session, history, conversations, composer, receipts}
   */
  constructor(deps) {
    this.deps = deps;
  }

  /** session:ready: the first one after sign-in, or a reconnect. */
  async ready({ reconnected }) {
    const { store, session } = this.deps;
    try {
      const people = await session.request("presence:list", {});
      store.dispatch({ type: "presence/list", userIds: people.map((p) => p.userId) });
    } catch (_) { /* presence is best effort */ }
    if (reconnected) await this.resync();
    // the list was read before the socket subscribed: read it again so nothing in between is missed
    else await this.deps.conversations.load();
    await this.deps.composer.flushOutbox();
    const active = store.state.conversations.active;
    if (active) this.deps.receipts.markRead(active);
  }

  /** After a drop (or a session:resync push): everything after the last seq held, and what changed meanwhile. */
  async resync() {
    const { store, session } = this.deps;
    const state = store.state;
    const seen = {};
    for (const id of Object.keys(state.messages)) if (state.conversations.byId[id]) seen[id] = maxSeq(state.messages, id);
    const offlineSince = state.link.offlineSince;
    const since = new Date((offlineSince === null ? Date.now() : offlineSince) - SYNC_MARGIN_MS).toISOString();
    try {
      const result = await session.request("sync", { conversations: seen, changedSince: since, limit: 200 });
      for (const m of result.messages) store.dispatch({ type: "message/stored", message: m });
      for (const m of result.changed) store.dispatch({ type: "message/updated", message: m });
      for (const [id, more] of Object.entries(result.hasMore)) if (more) await this.deps.history.fetchAfter(id);
    } catch (err) {
      console.warn("sync failed", err);
    }
    store.dispatch({ type: "sync/done" });
    await this.deps.conversations.load();
  }
}
