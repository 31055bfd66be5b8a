// Turns each change of the state into the views that depend on what changed: only slices that
// changed are rendered again (typing comes every couple of seconds and must not rebuild the list
// under the pointer). The one-shot scroll request is consumed by the render that honours it.
import { renderConn, renderHeader, renderTitle, renderTyping } from "../views/chrome.js";
import { renderList } from "../views/list.js";
import { renderSearch } from "../views/search.js";
import { renderTray } from "../views/attachments.js";
import { renderModeration } from "../views/moderation.js";
import { renderClasses } from "../views/classes.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

export class Renderer {
  /**
   * @param {object} deps {store, messagesView, attachments, openConversation(id), openAt(id, seq),
   *   moderation: {select(id), act(action, extra), setStatus(status)} (the moderation page's handlers),
   *   renderBlocked() (the Blocked people dialog's list)}
   */
  constructor(deps) {
    this.deps = deps;
  }

  /** Render what changed since `prev` (everything when null). */
  render(prev) {
    const { store, messagesView, attachments } = this.deps;
    const state = store.state;
    const now = Date.now();
    const changed = (key) => !prev || prev[key] !== state[key];
    const sessionChanged = (key) => !prev || prev.session[key] !== state.session[key];
    const viewChanged = (key) => !prev || prev.view[key] !== state.view[key];
    if (changed("conversations") || changed("unread") || sessionChanged("online")) {
      renderList($("conv-list"), state, (id) => this.deps.openConversation(id), now);
    }
    if (changed("conversations") || sessionChanged("online") || changed("safety")) renderHeader(state);
    if (changed("classes") || changed("conversations")) {
      renderClasses($("my-classes"), state, { open: (classId, type) => this.deps.openClass(classId, type) });
    }
    if (changed("safety") && $("blocked-dialog").open) this.deps.renderBlocked();
    if (changed("moderation")) renderModeration(state.moderation, prev && prev.moderation, this.deps.moderation, now);
    if (sessionChanged("conn")) renderConn(state, now);
    // a notice shows at once; a cleared one goes with the line's next change
    if (sessionChanged("typing") || changed("conversations") || (viewChanged("notice") && state.view.notice)) {
      renderTyping(state, state.view.notice);
    }
    if (changed("unread") || changed("conversations")) renderTitle(state);
    if (changed("conversations") || changed("messages") || changed("outbox") || changed("ui") || changed("links")
      || changed("safety")) {
      messagesView.render(state, state.view.stick, state.view.keepScroll);
      store.update({ type: "scroll/done" });
      attachments.fetchLinks();
    }
    if (changed("ui") || changed("conversations")) this.renderReplyBar(state);
    if (changed("conversations")) renderSearch(state, (id, seq) => this.deps.openAt(id, seq));
    if (changed("uploads") || changed("conversations")) {
      renderTray($("attach-tray"), state, { remove: (id) => attachments.remove(id), retry: (id) => attachments.retry(id) });
    }
    if (viewChanged("announced") && state.view.announced) $("announcer").textContent = state.view.announced.text;
  }

  /** The connection line again (its retry countdown moves with the clock). */
  tick() {
    const state = this.deps.store.state;
    if (state && state.session.conn.state === "offline") renderConn(state, Date.now());
  }

  // "Replying to Name: text" above the composer while a reply is being written.
  renderReplyBar(state) {
    const r = state.ui.replyTo[state.conversations.active];
    $("reply-bar").hidden = !r;
    const text = r ? t("reply.bar", { name: r.senderName, text: r.text }).slice(0, 200) : "";
    if ($("reply-text").textContent !== text) $("reply-text").textContent = text;
  }
}
