// Who is in a conversation, changed from its 👥 panel by its owner or admins (a teacher in a class
// conversation): find people in the school and add them (POST …/participants), remove one (two
// presses; DELETE …/participants/{userId}). Each change reads the conversation again.
import { el } from "../dom.js";
import { errorText, t } from "../i18n.js";
import { mayManage } from "../views/chrome.js";
import { showToast } from "../views/toast.js";

const $ = (id) => document.getElementById(id);
const SEARCH_DEBOUNCE_MS = 200;

export class PeopleController {
  /**
   * @param {object} deps {store, session, showError(err)}
   */
  constructor(deps) {
    this.deps = deps;
    this.searchTimer = null;
    this.asked = 0;   // the newest search asked (an older answer is dropped)
  }

  get state() { return this.deps.store.state; }

  active() {
    const conv = this.state.conversations.byId[this.state.conversations.active];
    return mayManage(conv) ? conv : null;
  }

  async search() {
    const conv = this.active();
    const q = $("people-add-input").value.trim();
    const list = $("people-add-results");
    if (!conv || !q) { list.replaceChildren(); return; }
    const ticket = ++this.asked;
    let page;
    try {
      page = await this.deps.session.api.get(`/api/users?q=${encodeURIComponent(q)}&limit=20`);
    } catch (err) {
      this.deps.showError(err);
      return;
    }
    if (ticket !== this.asked) return;
    const inside = new Set((conv.participants || []).map((p) => p.userId));
    list.replaceChildren(...page.data.filter((u) => !inside.has(u.id)).map((u) => el("li", {},
      el("button", { type: "button", class: "add-person", "data-testid": "add-person", dataset: { user: u.id },
        onclick: () => this.add(u) },
      el("span", {}, el("span", { class: "sr-only", text: `${t("people.addButton")} ` }), u.name), el("span", { class: "role", text: t(`role.${u.role}`) })))));
  }

  async add(user) {
    const conv = this.active();
    if (!conv) return;
    try {
      const updated = (await this.deps.session.api.post(`/api/conversations/${conv.id}/participants`, { userIds: [user.id] })).data;
      this.deps.store.dispatch({ type: "conversation/upsert", conversation: updated });
      $("people-add-input").value = "";
      $("people-add-results").replaceChildren();
      $("people-add-input").focus();
      showToast(t("toast.addedPeople", { count: 1 }));
    } catch (err) {
      this.deps.showError(err);
    }
  }

  async remove(btn) {
    const conv = this.active();
    if (!conv) return;
    if (btn.dataset.armed !== "1") {
      btn.dataset.armed = "1";
      btn.textContent = t("people.confirmRemove");
      return;
    }
    const { person, name } = btn.dataset;
    try {
      await this.deps.session.api.delete(`/api/conversations/${conv.id}/participants/${encodeURIComponent(person)}`);
      const fresh = (await this.deps.session.api.get(`/api/conversations/${conv.id}`)).data;
      this.deps.store.dispatch({ type: "conversation/upsert", conversation: { ...conv, ...fresh } });
      showToast(t("toast.removedPerson", { name }));
      $("people-add-input").focus();
    } catch (err) {
      this.deps.showError(err);
    }
  }

  wire() {
    $("people-add").addEventListener("submit", (ev) => ev.preventDefault());
    $("people-add-input").addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(), SEARCH_DEBOUNCE_MS);
    });
    $("people-list").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button[data-action=remove-person]");
      if (btn) this.remove(btn);
    });
  }
}
