// The admin area of a school's admins (role admin in the token; the server decides every
// request): opening it, its tabs, and the settings screens: the school policy with quiet hours
// and holidays (GET/PUT /api/schools/{id}/policy), retention (GET/PUT .../retention), legal holds
// (GET /api/holds, PUT/DELETE /api/holds/{users|conversations}/{id}) and the roster import
// (POST /api/roster/import, a dry run first). The record screens (audit log, exports,
// oversight) are AdminRecordsController's. A first admin of a school with no classes yet lands
// on the roster import.
import { readHoldForm, readPolicyForm, readRetentionForm } from "../views/adminforms.js";
import { readRosterForm } from "../views/adminrecords.js";
import { renderAdmin } from "../views/admin.js";
import { t } from "../i18n.js";
import { TABS } from "../state/admin.js";

const OVERSIGHT_ONLY = Object.freeze(["oversight"]);

const $ = (id) => document.getElementById(id);

export class AdminController {
  /**
   * @param {object} deps {store, session, records (AdminRecordsController), quiet (QuietController),
   *   closeModeration() (the two pages do not show at once)}
   */
  constructor(deps) {
    this.deps = deps;
  }

  get state() { return this.deps.store.state; }

  get slice() { return this.state.admin; }

  get school() { return encodeURIComponent(this.state.me.school); }

  get api() { return this.deps.session.api; }

  dispatch(action) { this.deps.store.dispatch(action); }

  isAdmin() { return Boolean(this.state && this.state.me.role === "admin"); }

  /** The tabs I may open: all of them for an admin; oversight alone for the school's other
   * moderators (its safeguarding leads: the server answered the moderation summary); none else. */
  tabs() {
    if (!this.state) return [];
    if (this.isAdmin()) return TABS;
    return this.state.moderation && this.state.moderation.allowed ? OVERSIGHT_ONLY : [];
  }

  note(tab, text, error) { this.dispatch({ type: "admin/note", tab, text, error }); }

  /** After sign-in: an admin of a school with no classes yet starts on the roster import. */
  async load() {
    if (!this.isAdmin()) return;
    try {
      const mine = (await this.api.get("/api/classes/mine")).data;
      if (!mine.classes.length) await this.show(true, "roster", true);
    } catch (err) {
      console.warn("classes not read", err);
    }
  }

  /** Show or hide the area (at a tab). */
  async show(on, tab, firstRun) {
    if (on) this.deps.closeModeration();
    const allowed = this.tabs();
    if (on && !allowed.includes(tab || this.slice.tab)) tab = allowed[0];
    this.dispatch({ type: "admin/show", shown: on, tab, firstRun });
    if (!on) { $("admin-open").focus(); return; }
    $("admin-heading").focus();
    await this.loadTab(this.slice.tab);
  }

  async tab(t) {
    this.dispatch({ type: "admin/tab", tab: t });
    const btn = $(`admin-tab-${t}`);
    if (btn) btn.focus();
    await this.loadTab(t);
  }

  async loadTab(t) {
    const load = { policy: () => this.loadPolicy(), retention: () => this.loadRetention(), holds: () => this.loadHolds(),
      audit: () => this.deps.records.auditSearch(), exports: () => this.deps.records.loadExports(),
      oversight: () => this.deps.records.loadGrants() }[t];
    if (load) await load();
  }

  /** Run `work`, its failure said on the tab's status line (`busy`: said meanwhile). */
  async guarded(tab, work, busy) {
    if (busy) this.note(tab, busy);
    try {
      await work();
    } catch (err) {
      this.note(tab, t("adm.failed", { error: err.message }), true);
    }
  }

  // ------------------------------------------------------------------ policy
  loadPolicy() {
    return this.guarded("policy", async () => {
      const data = (await this.api.get(`/api/schools/${this.school}/policy`)).data;
      this.dispatch({ type: "admin/policy", policy: data.policy });
    });
  }

  savePolicy() {
    const read = readPolicyForm();
    if (read.error) return this.note("policy", read.error, true);
    return this.guarded("policy", async () => {
      const data = (await this.api.call("PUT", `/api/schools/${this.school}/policy`, read.body)).data;
      this.dispatch({ type: "admin/policy", policy: data.policy });
      this.note("policy", t("adm.savedPolicy"));
      this.deps.quiet.load();
    }, t("adm.saving"));
  }

  // ------------------------------------------------------------------ retention
  loadRetention() {
    return this.guarded("retention", async () => {
      this.dispatch({ type: "admin/retention", retention: (await this.api.get(`/api/schools/${this.school}/retention`)).data.retention });
    });
  }

  saveRetention() {
    const read = readRetentionForm();
    if (read.error) return this.note("retention", read.error, true);
    return this.guarded("retention", async () => {
      const data = (await this.api.call("PUT", `/api/schools/${this.school}/retention`, read.body)).data;
      this.dispatch({ type: "admin/retention", retention: data.retention });
      this.note("retention", t("adm.savedRetention"));
    }, t("adm.saving"));
  }

  // ------------------------------------------------------------------ holds
  loadHolds() {
    return this.guarded("holds", async () => {
      this.dispatch({ type: "admin/holds", holds: (await this.api.get("/api/holds")).data });
    });
  }

  placeHold() {
    const { kind, targetId, reason } = readHoldForm();
    if (!targetId || !reason) return this.note("holds", t("adm.giveIdReason"), true);
    return this.guarded("holds", async () => {
      await this.api.call("PUT", `/api/holds/${kind === "user" ? "users" : "conversations"}/${encodeURIComponent(targetId)}`, { reason });
      await this.loadHolds();
      $("hold-target").value = "";  // done: the form starts again
      $("hold-reason").value = "";
      this.note("holds", t("adm.holdPlaced", { id: targetId }));
    }, t("adm.saving"));
  }

  releaseHold(kind, targetId) {
    return this.guarded("holds", async () => {
      await this.api.delete(`/api/holds/${kind === "user" ? "users" : "conversations"}/${encodeURIComponent(targetId)}`);
      await this.loadHolds();
      this.note("holds", t("adm.holdReleased", { id: targetId }));
    }, t("adm.saving"));
  }

  // ------------------------------------------------------------------ roster
  /** POST the roster as it is (JSON or CSV), with dryRun or not. */
  async postRoster(text, type, dryRun) {
    const resp = await fetch(`/api/roster/import${dryRun ? "?dryRun=true" : ""}`, { method: "POST", body: text,
      headers: { Authorization: `Bearer ${this.api.token}`, "Content-Type": type } });
    const payload = await resp.json().catch(() => ({}));
    if (!resp.ok) throw new Error((payload.error && payload.error.message) || resp.statusText);
    return payload.data;
  }

  async previewRoster() {
    const { text, type } = await readRosterForm();
    if (!text.trim()) return this.note("roster", t("adm.pickRoster"), true);
    this.dispatch({ type: "admin/roster-clear" });
    return this.guarded("roster", async () => {
      const preview = await this.postRoster(text, type, true);
      // Apply sends exactly what was previewed (kept in the slice with its preview)
      this.dispatch({ type: "admin/roster-preview", preview, sent: { text, type } });
      this.note("roster", t("adm.isPreview"));
    }, t("adm.readingFile"));
  }

  applyRoster() {
    const sent = this.slice.roster.sent;
    if (!sent) return this.note("roster", t("adm.previewFirst"), true);
    return this.guarded("roster", async () => {
      const result = await this.postRoster(sent.text, sent.type, false);
      this.dispatch({ type: "admin/roster-applied", result });
      this.note("roster", t("adm.importedDot"));
    }, t("adm.importing"));
  }

  /** Every change of the store: the area follows its slice. */
  render(prev) {
    const state = this.state;
    if (!state) return;
    renderAdmin(state.admin, prev && prev.admin, this.handlers(), Date.now(), this.tabs());
  }

  handlers() {
    if (!this.on) {
      const r = this.deps.records;
      this.on = { tab: (t) => this.tab(t), savePolicy: () => this.savePolicy(), saveRetention: () => this.saveRetention(),
        placeHold: () => this.placeHold(), releaseHold: (k, id) => this.releaseHold(k, id),
        previewRoster: () => this.previewRoster(), applyRoster: () => this.applyRoster(),
        auditSearch: () => r.auditSearch(true), auditMore: () => r.auditMore(), auditCsv: () => r.auditCsv(),
        startExport: () => r.startExport(), askOversight: (id) => r.askOversight(id), openGrant: (g) => r.openGrant(g),
        closeOversight: () => r.closeOversight(), oversightOlder: () => r.oversightOlder() };
    }
    return this.on;
  }

  wire() {
    $("admin-open").addEventListener("click", () => this.show(!this.slice.shown));
    $("admin-back").addEventListener("click", () => this.show(false));
    $("mod-open").addEventListener("click", () => { if (this.slice.shown) this.dispatch({ type: "admin/show", shown: false }); });
    $("admin-tabs").addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
      const tabs = [...$("admin-tabs").querySelectorAll("[role=tab]")];
      const at = tabs.indexOf(document.activeElement);
      if (at < 0) return;
      const next = tabs[(at + (ev.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      this.tab(next.id.replace("admin-tab-", ""));
    });
    $("admin").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !ev.target.closest("select, textarea, input")) this.show(false);
    });
  }
}
