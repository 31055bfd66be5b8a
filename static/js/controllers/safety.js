// Safeguarding for every user: the school's policy (read at sign-in, followed through
// school:policy pushes: the New dialog offers only what it allows, conversations it made
// read-only lose their composer), reporting a message or a person (the Report dialog; the
// message then says "Reported" to me, and this browser remembers what I reported), and blocking
// (from the people panel; the Blocked people dialog lists and unblocks). The server decides:
// a refusal it gives is shown next to what was refused.
import { el } from "../dom.js";
import { blockList } from "../state/safety.js";
import { ReportDialog } from "../views/report.js";
import { roleName, t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const REPORTED_KEY = "chat.reported.";
const REPORTED_KEPT = 500;  // message ids remembered per user (the newest)

export class SafetyController {
  /**
   * @param {object} deps {store, session, policyChanged() (the New dialog follows it)}
   */
  constructor(deps) {
    this.deps = deps;
    this.reportDialog = new ReportDialog({ send: (target, reason, note) => this.sendReport(target, reason, note) });
  }

  get state() { return this.deps.store.state; }

  dispatch(action) { this.deps.store.dispatch(action); }

  get api() { return this.deps.session.api; }

  /** At sign-in: the policy, my blocks and what I reported before (none of it stops the page loading). */
  async load() {
    const kept = this.remembered();
    if (kept.messageIds.length || kept.userIds.length) this.dispatch({ type: "reported/restore", ...kept });
    await Promise.all([this.loadPolicy(), this.loadBlocks()]);
  }

  async loadPolicy() {
    const school = this.state.me.school;
    if (!school) return;
    try {
      const data = (await this.api.get(`/api/schools/${encodeURIComponent(school)}/policy`)).data;
      this.dispatch({ type: "policy/loaded", policy: data.policy });
    } catch (err) {
      console.warn("policy not read", err);
    }
  }

  async loadBlocks() {
    try {
      this.dispatch({ type: "blocks/loaded", blocks: (await this.api.get("/api/blocks")).data });
    } catch (err) {
      console.warn("blocks not read", err);
    }
  }

  /** A school:policy push (an admin changed it): applies at once. */
  policyPushed(d) {
    if (!d || d.schoolId !== this.state.me.school) return;
    this.dispatch({ type: "policy/loaded", policy: d.policy });
    this.deps.policyChanged();
  }

  // ------------------------------------------------------------------ reports
  /** Open the Report dialog for a message of someone else. */
  reportMessage(m) {
    this.reportDialog.open({ messageId: m.id }, m.senderName, "message");
  }

  /** Open the Report dialog for a person. */
  reportUser(userId, name) {
    this.reportDialog.open({ userId }, name, "user");
  }

  async sendReport(target, reason, note) {
    const body = { reason };
    if (note) body.note = note;
    const path = target.messageId ? `/api/messages/${encodeURIComponent(target.messageId)}/report`
      : `/api/users/${encodeURIComponent(target.userId)}/report`;
    await this.api.post(path, body);
    this.dispatch({ type: "report/done", ...target });
    this.remember();
    this.dispatch({ type: "notice/set", text: t("report.thanks") });
  }

  remembered() {
    try {
      const raw = JSON.parse(localStorage.getItem(REPORTED_KEY + this.state.me.id) || "{}");
      return { messageIds: Array.isArray(raw.m) ? raw.m : [], userIds: Array.isArray(raw.u) ? raw.u : [] };
    } catch (_) {
      return { messageIds: [], userIds: [] };
    }
  }

  remember() {
    const s = this.state.safety;
    const value = { m: Object.keys(s.reported).slice(-REPORTED_KEPT), u: Object.keys(s.reportedUsers).slice(-REPORTED_KEPT) };
    try { localStorage.setItem(REPORTED_KEY + this.state.me.id, JSON.stringify(value)); } catch (_) { /* private mode: this tab only */ }
  }

  // ------------------------------------------------------------------ blocks
  async block(userId) {
    try {
      const b = (await this.api.call("PUT", `/api/blocks/${encodeURIComponent(userId)}`)).data;
      this.dispatch({ type: "block/added", block: b });
    } catch (err) {
      // the server's own words here (students cannot block staff, a school rule)
      this.dispatch({ type: "person/error", userId, text: t("block.failed", { error: err.message }) });
    }
  }

  async unblock(userId) {
    try {
      await this.api.delete(`/api/blocks/${encodeURIComponent(userId)}`);
      this.dispatch({ type: "block/removed", userId });
      $("blocked-error").textContent = "";
    } catch (err) {
      this.dispatch({ type: "person/error", userId, text: t("block.unblockFailed", { error: err.message }) });
      $("blocked-error").textContent = t("block.unblockFailed", { error: err.message });
    }
  }

  /** The Blocked people dialog's list (rendered when the safety slice changes). */
  renderBlocked() {
    const list = blockList(this.state.safety);
    $("blocked-empty").hidden = list.length > 0;
    $("blocked-list").replaceChildren(...list.map((b) => el("li", { class: "blocked", "data-testid": "blocked-person", dataset: { user: b.userId } },
      el("span", { class: "name", text: b.name || b.userId }), el("span", { class: "role", text: roleName(b.role) }),
      el("button", { type: "button", "data-testid": "unblock", dataset: { action: "unblock", person: b.userId },
        "aria-label": t("people.unblockLabel", { name: b.name || b.userId }), text: t("people.unblock") }))));
  }

  wire() {
    // the people panel's buttons (built by the header view) say what they do in data-action
    $("people-list").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button[data-action]");
      if (!btn) return;
      const { action, person, name } = btn.dataset;
      if (action === "report-user") this.reportUser(person, name);
      else if (action === "block") this.block(person);
      else if (action === "unblock") this.unblock(person);
    });
    $("blocked-list").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button[data-action=unblock]");
      if (btn) this.unblock(btn.dataset.person);
    });
    $("blocked-open").addEventListener("click", () => {
      $("blocked-error").textContent = "";
      this.renderBlocked();
      $("blocked-dialog").showModal();
      this.loadBlocks();
    });
  }
}
