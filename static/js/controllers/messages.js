// Messages as they come and go: new, edited and deleted pushes, and what the person does to a
// message (edit, react, delete). A new message from someone else is also delivered, maybe read,
// announced and notified.
import { hasMessage } from "../state/messages.js";

export class MessagesController {
  /**
   * @param {object} deps {store, session, conversations, typing, receipts, notifications, showError(err)}
   */
  constructor(deps) {
    this.deps = deps;
  }

  get state() { return this.deps.store.state; }

  dispatch(action) { this.deps.store.dispatch(action); }

  /** A message:new push. */
  received(m) {
    const state = this.state;
    const me = state.me.id;
    const known = hasMessage(state.messages, m.conversationId, m.seq);
    const open = m.conversationId === state.conversations.active;
    const reading = open && document.visibilityState !== "hidden";
    // my own message from this tab (its stored copy replaces the optimistic one at the bottom)
    if (m.senderId === me && m.clientMsgId && state.outbox[m.clientMsgId]) this.dispatch({ type: "scroll/stick" });
    this.dispatch({ type: "message/new", message: m, me, reading });
    this.deps.typing.forget(m.conversationId, m.senderId);
    if (!this.state.conversations.byId[m.conversationId]) { this.deps.conversations.load(); return; }
    if (m.senderId !== me && !known) {
      this.deps.receipts.deliveredUpTo(m.conversationId, m.seq);
      if (reading) this.deps.receipts.markRead(m.conversationId);
      if (open && m.type !== "system") this.deps.notifications.announce(m);
      if (m.type !== "system") this.deps.notifications.notify(m);
    }
  }

  /** A message:deleted push. */
  deleted({ conversationId, seq }) {
    this.dispatch({ type: "message/deleted", conversationId, seq });
  }

  /** Save an edit (an empty or unchanged text just closes the box). */
  async saveEdit(m, value) {
    const text = value.trim();
    if (!text || text === m.text) { this.dispatch({ type: "edit/stop" }); return; }
    try {
      this.dispatch({ type: "message/stored", message: await this.deps.session.request("message:edit", { messageId: m.id, text }) });
      this.dispatch({ type: "edit/stop" });
    } catch (err) {
      this.deps.showError(err);  // the box stays open with the text, to fix or retry
    }
  }

  /** Toggle my reaction `emoji` on a message. */
  async react(m, emoji) {
    const on = !((m.reactions || {})[emoji] || []).includes(this.state.me.id);
    try { await this.deps.session.request("message:react", { messageId: m.id, emoji, on }); } catch (err) { this.deps.showError(err); }
  }

  /** Delete a message (the push that follows shows it deleted). */
  remove(m) {
    this.deps.session.request("message:delete", { messageId: m.id }).catch((err) => this.deps.showError(err));
  }
}
