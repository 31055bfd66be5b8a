// Keeps the browser's copy (js/persist.js, IndexedDB) in step with the outbox and the drafts, and
// puts them back after a reload: a message written offline waits there until the socket is up and
// then goes out once (its clientMsgId makes a second send of it store nothing).
import { LocalCopy, outboxDiff } from "../persist.js";

const DRAFT_SAVE_MS = 300;

export class PersistController {
  /**
   * @param {object} deps {store}
   */
  constructor(deps) {
    this.deps = deps;
    this.copy = new LocalCopy();   // the database (a resource)
    this.draftTimer = null;
    this.pendingDraft = null;      // {userId, conversationId, text} waiting for the timer
  }

  get state() { return this.deps.store.state; }

  /** After sign-in, before the socket: the saved outbox and drafts back in the store. */
  async restore() {
    if (!await this.copy.open()) return;
    const userId = this.state.me.id;
    try {
      const [entries, drafts] = await Promise.all([this.copy.outbox(userId), this.copy.drafts(userId)]);
      if (entries.length) this.deps.store.dispatch({ type: "outbox/restored", entries });
      if (Object.keys(drafts).length) this.deps.store.dispatch({ type: "drafts/restored", drafts });
    } catch (err) {
      console.warn("the saved outbox could not be read", err);
    }
  }

  /** Every change of the store: what changed in the outbox or the drafts is saved. */
  changed(prev) {
    const state = this.state;
    if (!prev || !state || prev.me !== state.me) return;
    const userId = state.me.id;
    if (prev.outbox !== state.outbox) {
      const { changed, removed } = outboxDiff(prev.outbox, state.outbox);
      if (changed.length || removed.length) this.copy.saveOutbox(userId, changed, removed);
    }
    if (prev.ui.drafts !== state.ui.drafts) {
      for (const [id, text] of Object.entries(state.ui.drafts)) {
        if (prev.ui.drafts[id] !== text) this.copy.saveDraft(userId, id, text);
      }
    }
  }

  /** The composer's text as it is typed (saved a moment later; a send saves "" at once). */
  draftTyped(conversationId, text) {
    const userId = this.state.me.id;
    if (this.pendingDraft && this.pendingDraft.conversationId !== conversationId) this.flushDraft();
    this.pendingDraft = { userId, conversationId, text };
    clearTimeout(this.draftTimer);
    if (!text) this.flushDraft();
    else this.draftTimer = setTimeout(() => this.flushDraft(), DRAFT_SAVE_MS);
  }

  flushDraft() {
    clearTimeout(this.draftTimer);
    const d = this.pendingDraft;
    this.pendingDraft = null;
    if (d) this.copy.saveDraft(d.userId, d.conversationId, d.text);
  }

  wire() {
    this.deps.store.subscribe((prev) => this.changed(prev));
    window.addEventListener("pagehide", () => this.flushDraft());
  }
}
