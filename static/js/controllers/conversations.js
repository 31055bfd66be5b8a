// The conversation list and the conversation on screen: loading the list, opening one (from the
// list, a search hit or a notification), closing it, its header buttons (people, pin, mute,
// archive, leave), the list filter and message search, and the New conversation dialog.
import { classmatesFrom } from "../policy.js";
import { hasMessage, convMessages } from "../state/messages.js";
import { armLeave, togglePeople } from "../views/chrome.js";
import { NewConversationDialog } from "../views/newdialog.js";
import { searchMessages } from "../views/search.js";
import { showToast } from "../views/toast.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const SEARCH_DEBOUNCE_MS = 250;

export class ConversationsController {
  /**
   * @param {object} deps {store, session, history, receipts, messagesView, showError(err)}
   */
  constructor(deps) {
    this.deps = deps;
    this.searchTimer = null;  // the debounce of the message search
    this.dialog = null;       // the New conversation dialog (built by wire)
  }

  get state() { return this.deps.store.state; }

  dispatch(action) { this.deps.store.dispatch(action); }

  /** The list, the archived ones too: the "Archived" filter shows them, and unarchiving is a flag away. */
  async load() {
    const api = this.deps.session.api;
    const [page, archived] = await Promise.all([api.get("/api/conversations?limit=100"),
      api.get("/api/conversations?archived=true&limit=100")]);
    this.dispatch({ type: "conversations/loaded", conversations: page.data.concat(archived.data) });
  }

  // The open conversation's composer text is kept as its draft (`fromList`: even when `id` is the
  // one open); `id`'s draft goes in the composer. From the list, the view starts at the newest.
  switchTo(id, fromList) {
    const previous = this.state.conversations.active;
    if (previous && (fromList || previous !== id)) {
      this.dispatch({ type: "draft/set", conversationId: previous, text: $("composer-input").value });
    }
    if (fromList) this.dispatch({ type: "scroll/stick" });
    this.dispatch({ type: "notice/clear" });
    this.dispatch({ type: "conversation/open", conversationId: id });
    $("composer-input").value = this.state.ui.drafts[id] || "";
  }

  /** Open a conversation at its newest messages and mark it read. */
  async open(id) {
    this.switchTo(id, true);
    const held = convMessages(this.state.messages, id);
    if (held.hasOlder === null || held.hasNewer) await this.deps.history.loadNewest(id);
    if (this.state.conversations.active !== id) return;
    this.deps.receipts.markRead(id);
    $("composer-input").focus();
  }

  /** A search result: the conversation opened at that message (a window around it when it is not
   * held), the message highlighted and focused. */
  async openAt(id, seq) {
    if (!this.state.conversations.byId[id]) return;
    this.switchTo(id, false);
    if (!hasMessage(this.state.messages, id, seq)) {
      try {
        if (!await this.deps.history.loadAround(id, seq)) return;
      } catch (err) {
        this.deps.showError(err);
        return;
      }
    }
    if (this.state.conversations.active !== id) return;
    this.dispatch({ type: "highlight/set", conversationId: id, seq });
    this.deps.messagesView.reveal(seq);
    this.deps.receipts.markRead(id);
  }

  /** Back to the list (narrow screens); focus returns to the conversation's row. */
  close() {
    const id = this.state.conversations.active;
    if (id) this.dispatch({ type: "draft/set", conversationId: id, text: $("composer-input").value });
    this.dispatch({ type: "conversation/close" });
    const row = document.querySelector(`[data-testid=conv-item][data-id="${CSS.escape(id || "")}"] button`);
    if (row) row.focus();
  }

  /** Pin, mute and archive are the caller's own flags (PATCH); the answer is the conversation as I see it. */
  async setFlag(flag, id = this.state.conversations.active, undoing = false) {
    const conv = id && this.state.conversations.byId[id];
    if (!conv) return;
    const value = !conv[flag];
    try {
      const updated = (await this.deps.session.api.patch(`/api/conversations/${id}`, { [flag]: value })).data;
      this.dispatch({ type: "conversation/upsert", conversation: updated });
      // archiving takes it out of the list: say so, with a way back
      if (flag === "archived" && !undoing) {
        showToast(value ? t("toast.archived") : t("toast.unarchived"), () => this.setFlag("archived", id, true));
      }
    } catch (err) {
      this.deps.showError(err);
    }
  }

  /** Leave the open conversation (the first press arms the button, the second leaves). */
  async leave() {
    const id = this.state.conversations.active;
    if (!id) return;
    if ($("conv-leave").dataset.armed !== "1") { armLeave(true); return; }
    armLeave(false);
    try {
      await this.deps.session.api.delete(`/api/conversations/${id}/participants/${encodeURIComponent(this.state.me.id)}`);
      this.dispatch({ type: "conversation/removed", conversationId: id });
      $("conv-search").focus();
    } catch (err) {
      this.deps.showError(err);
    }
  }

  // The classes a teacher can start a conversation for without typing an id: "My classes" from the
  // roster (those I may open), else those of the class and announcement conversations I am in.
  knownClasses() {
    const roster = this.state.classes.list.filter((c) => c.mayOpen).map((c) => ({ id: c.id, name: c.name }));
    if (roster.length) return roster;
    const seen = new Map();
    for (const c of Object.values(this.state.conversations.byId)) {
      if (c.classId && !seen.has(c.classId)) seen.set(c.classId, c.type === "class" ? c.title : null);
    }
    return [...seen].map(([id, name]) => ({ id, name }));
  }

  /** Open or close the header's overflow menu (phones: pin, mute, archive and leave live in it). */
  toggleMenu(open) {
    const box = $("conv-actions");
    const show = open === undefined ? !box.classList.contains("menu-open") : open;
    if (show === box.classList.contains("menu-open")) return;
    box.classList.toggle("menu-open", show);
    $("conv-more").setAttribute("aria-expanded", String(show));
    if (show) { const first = $("conv-menu").querySelector("button:not([hidden])"); if (first) first.focus(); }
  }

  /** The school's policy changed: an open New dialog follows it. */
  policyChanged() {
    if (this.dialog) this.dialog.refresh();
  }

  wire() {
    $("conv-people").addEventListener("click", () => { this.toggleMenu(false); togglePeople(); });
    $("conv-more").addEventListener("click", () => { togglePeople(false); this.toggleMenu(); });
    // a choice in the overflow menu closes it (Leave's first press only arms it)
    $("conv-menu").addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (b && b.id !== "conv-leave") this.toggleMenu(false);
    });
    document.addEventListener("click", (ev) => {
      if (!ev.target.closest("#conv-actions")) this.toggleMenu(false);
    });
    // Escape closes what floats over the conversation, wherever focus is, and focus goes back to its button
    document.addEventListener("keydown", (ev) => {
      // (a dialog's own Escape closes only the dialog)
      if (ev.key !== "Escape" || ev.defaultPrevented || document.querySelector("dialog[open]")) return;
      if (!$("people-panel").hidden) { ev.preventDefault(); togglePeople(false); $("conv-people").focus(); }
      else if ($("conv-actions").classList.contains("menu-open")) { ev.preventDefault(); this.toggleMenu(false); $("conv-more").focus(); }
    });
    $("conv-pin").addEventListener("click", () => this.setFlag("pinned"));
    $("conv-mute").addEventListener("click", () => this.setFlag("muted"));
    $("conv-archive").addEventListener("click", () => this.setFlag("archived"));
    $("conv-leave").addEventListener("click", () => this.leave());
    $("conv-leave").addEventListener("blur", () => armLeave(false));
    $("conv-search").addEventListener("input", () => {
      this.dispatch({ type: "filter/set", filter: { q: $("conv-search").value.trim() } });
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => searchMessages(this.deps.session.api, () => this.state,
        (action) => this.dispatch(action)), SEARCH_DEBOUNCE_MS);
    });
    $("type-filter").addEventListener("change", () => this.dispatch({ type: "filter/set", filter: { type: $("type-filter").value } }));
    const dialog = new NewConversationDialog({
      api: () => this.deps.session.api, me: () => this.state.me,
      classes: () => this.knownClasses(),
      policy: () => this.state.safety.policy,
      classmates: () => classmatesFrom(this.state.conversations.byId, this.state.me.id),
      created: async (conv) => { this.dispatch({ type: "conversation/upsert", conversation: conv }); await this.open(conv.id); },
    });
    this.dialog = dialog;
    $("new-conv").addEventListener("click", () => dialog.open());
  }
}
