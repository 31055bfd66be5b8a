// Telling the person about a new message when they are not looking at it: a desktop notification
// while the tab is hidden (direct messages unless muted, and mentions of me even in muted
// conversations; permission is only asked for by the Notifications button), and the aria-live
// announcement of a new message in the open conversation (its text is in the view slice, so a
// deletion takes it back).
import { convTitle } from "../state/conversations.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

export class NotificationsController {
  /**
   * @param {object} deps {store, openConversation(id)}
   */
  constructor(deps) {
    this.deps = deps;
  }

  wire() {
    this.renderButton();
    $("notify").addEventListener("click", async () => {
      await Notification.requestPermission();
      this.renderButton();
    });
  }

  renderButton() {
    $("notify").hidden = typeof Notification === "undefined" || Notification.permission !== "default";
  }

  /** A screen reader hears a new message of the open conversation. */
  announce(m) {
    this.deps.store.dispatch({ type: "announce", message: m });
  }

  /** A desktop notification for `m`, when the tab is hidden and it is one to notify. */
  notify(m) {
    if (document.visibilityState !== "hidden" || typeof Notification === "undefined" || Notification.permission !== "granted") return;
    const state = this.deps.store.state;
    const conv = state.conversations.byId[m.conversationId];
    if (!conv) return;
    const mentionsMe = (m.mentions || []).includes(state.me.id);
    if (!mentionsMe && (conv.type !== "direct" || conv.muted)) return;
    const title = mentionsMe ? t("notify.mentioned", { name: m.senderName, title: convTitle(conv, state.me.id) }) : m.senderName;
    const body = m.text || ((m.attachments || [])[0] || {}).name || "";
    const note = new Notification(title, { body: body.slice(0, 200), tag: m.conversationId });
    note.onclick = () => { window.focus(); this.deps.openConversation(m.conversationId); note.close(); };
  }
}
