// The "New conversation" dialog: pick people (one for a direct message, one or more plus a
// title for a group), or, for teachers and admins, a class (its class or announcement
// conversation; the members come from the roster). It starts blank every time it opens, and
// refuses a group nobody is in. For students it offers only the kinds and people the school's
// policy allows (followed live), with a short note saying why others are missing.
import { el } from "../dom.js";
import { allowedKinds, mayPick, policyNote } from "../policy.js";
import { errorText, roleName, t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const SEARCH_DEBOUNCE_MS = 200;

export class NewConversationDialog {
  /**
   * @param {object} deps {api(): Api, me(): user, classes(): [{id, name}], created(conversation): Promise,
   *   policy(): policy | null, classmates(): Set of user ids (people I share a class conversation with)}
   */
  constructor(deps) {
    this.deps = deps;
    this.picked = new Map();  // userId -> name
    this.timer = null;
    this.asked = 0;           // answers to older searches are dropped
    this.dialog = $("new-dialog");
    for (const radio of document.querySelectorAll("input[name=kind]")) radio.addEventListener("change", () => this.onKind());
    $("user-search").addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.findUsers(), SEARCH_DEBOUNCE_MS);
    });
    $("new-create").addEventListener("click", (ev) => { ev.preventDefault(); this.create(); });
  }

  kind() {
    const picked = document.querySelector("input[name=kind]:checked");
    return picked ? picked.value : "";
  }

  // The Direct and Group choices the policy allows me (a checked one it no longer allows moves on).
  applyKinds() {
    const kinds = allowedKinds(this.deps.policy(), this.deps.me());
    for (const kind of ["direct", "group"]) {
      const radio = document.querySelector(`input[name=kind][value=${kind}]`);
      radio.parentElement.hidden = !kinds[kind];
      if (!kinds[kind] && radio.checked) radio.checked = false;
    }
    if (!this.kind()) {
      const first = [...document.querySelectorAll("input[name=kind]")].find((r) => !r.parentElement.hidden);
      if (first) first.checked = true;
    }
    const none = !this.kind();
    $("new-create").disabled = none;
    for (const id of ["user-search", "user-results", "picked"]) if (none) $(id).hidden = true;
  }

  /** The policy changed (a school:policy push): an open dialog offers what it allows now. */
  refresh() {
    if (!this.dialog.open) return;
    const before = this.kind();
    this.applyKinds();
    if (this.kind() !== before) this.onKind();
    else this.findUsers();
  }

  /** Open blank: direct message, no title, nobody picked, the people search focused. */
  open() {
    this.picked.clear();
    const teaching = ["teacher", "admin"].includes(this.deps.me().role);
    for (const label of document.querySelectorAll(".kinds .teaching")) label.hidden = !teaching;
    $("new-class").value = "";
    $("class-options").replaceChildren(...this.deps.classes().map((c) => el("option", { value: c.id, label: c.name || c.id })));
    document.querySelector("input[name=kind][value=direct]").checked = true;
    $("new-title").value = "";
    $("new-title").hidden = true;
    $("class-pick").hidden = true;
    for (const id of ["user-search", "user-results", "picked"]) $(id).hidden = false;
    this.applyKinds();
    if (this.kind() !== "direct") this.onKind();
    $("new-error").textContent = "";
    $("user-search").value = "";
    $("user-results").replaceChildren();
    this.showPicked();
    this.dialog.showModal();
    $("user-search").focus();
    this.findUsers();
  }

  onKind() {
    const kind = this.kind();
    const group = kind === "group";
    const forClass = kind === "class" || kind === "announcement";
    $("new-title").hidden = !group && !forClass;
    $("new-title").placeholder = forClass ? t("new.titleClass") : t("new.titleGroup");
    $("new-title").setAttribute("aria-label", forClass ? t("new.title") : t("new.titleGroup"));
    $("class-pick").hidden = !forClass;
    // nothing the policy lets me start: only the note stays
    for (const id of ["user-search", "user-results", "picked"]) $(id).hidden = forClass || !kind;
    if (!group && this.picked.size > 1) {
      // a direct message has one other person: keep the first picked
      const [first] = this.picked;
      this.picked = new Map([first]);
      this.showPicked();
    }
    $("new-error").textContent = "";
    this.findUsers();
  }

  showPicked() {
    $("picked").textContent = [...this.picked.values()].join(", ");
  }

  async findUsers() {
    const kind = this.kind();
    const note = kind === "class" || kind === "announcement" ? "" : policyNote(this.deps.policy(), this.deps.me(), kind);
    $("new-policy-note").textContent = note;
    $("new-policy-note").hidden = !note;
    if (!kind || $("user-results").hidden) return;
    const q = $("user-search").value.trim();
    const ticket = ++this.asked;
    let page;
    try {
      page = await this.deps.api().get(`/api/users?q=${encodeURIComponent(q)}&limit=30`);
    } catch (err) {
      $("new-error").textContent = errorText(err);
      return;
    }
    if (ticket !== this.asked) return;
    const me = this.deps.me();
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.user : null;
    const policy = this.deps.policy();
    const classmates = this.deps.classmates();
    // people the policy does not let me start this kind with are left out (the note says why)
    const allowed = page.data.filter((u) => u.id !== me.id && mayPick(policy, me, u, this.kind(), classmates));
    for (const u of page.data) if (this.picked.has(u.id) && !allowed.includes(u)) this.picked.delete(u.id);
    this.showPicked();
    const items = allowed.map((u) => el("li", {},
      el("button", { type: "button", class: "user" + (this.picked.has(u.id) ? " picked" : ""), dataset: { user: u.id },
        "aria-pressed": String(this.picked.has(u.id)), onclick: () => this.toggle(u) },
      el("span", { text: u.name }), el("span", { class: "role", text: roleName(u.role) }))));
    $("user-results").replaceChildren(...items);
    if (focused) {
      const again = $("user-results").querySelector(`button[data-user="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
  }

  toggle(u) {
    if (this.kind() === "direct" && !this.picked.has(u.id)) this.picked.clear();
    if (this.picked.has(u.id)) this.picked.delete(u.id); else this.picked.set(u.id, u.name);
    $("new-error").textContent = "";
    this.showPicked();
    for (const b of $("user-results").querySelectorAll("button[data-user]")) {
      const on = this.picked.has(b.dataset.user);
      b.classList.toggle("picked", on);
      b.setAttribute("aria-pressed", String(on));
    }
  }

  async create() {
    const type = this.kind();
    if (type === "class" || type === "announcement") {
      const classId = $("new-class").value.trim();
      if (!classId) {
        $("new-error").textContent = t("new.pickClass");
        $("new-class").focus();
        return;
      }
      const body = { type, classId, participantIds: [] };
      const title = $("new-title").value.trim();
      // a class keeps one conversation of each kind (asking again opens it); one given its own
      // name is another, beside it
      if (title) Object.assign(body, { title, separate: true });
      return this.post(body);
    }
    if (this.picked.size === 0) {
      $("new-error").textContent = type === "group" ? t("new.pickGroup") : t("new.pickPerson");
      $("user-search").focus();
      return;
    }
    const body = { type, participantIds: [...this.picked.keys()] };
    if (type === "group") body.title = $("new-title").value.trim();
    return this.post(body);
  }

  async post(body) {
    try {
      const conv = (await this.deps.api().post("/api/conversations", body)).data;
      this.dialog.close();
      await this.deps.created(conv);
    } catch (err) {
      $("new-error").textContent = errorText(err);
    }
  }
}
