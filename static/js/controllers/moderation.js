// The moderation page of a school's moderators (its admins and the users its roster marks
// safeguarding). Whether this user is one is the server's answer to GET /api/moderation/summary
// (200 or 403: neither /api/me nor the token says). The page lists the cases (a status filter,
// older pages on demand), shows one with its reports and the reported message in context, and
// acts on it with PATCH; moderation:case pushes bring new cases and changes live, and the open
// cases count of the header badge is read again after each.
import { takeNote } from "../views/moderation.js";
import { errorText, t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;

export class ModerationController {
  /**
   * @param {object} deps {store, session}
   */
  constructor(deps) {
    this.deps = deps;
    this.asked = 0;  // answers to an older case read are dropped
  }

  get state() { return this.deps.store.state; }

  get slice() { return this.state.moderation; }

  dispatch(action) { this.deps.store.dispatch(action); }

  get api() { return this.deps.session.api; }

  /** Whether I moderate (and the badge's counts); a 403 hides the page for good. */
  async probe() {
    try {
      this.dispatch({ type: "moderation/summary", summary: (await this.api.get("/api/moderation/summary")).data });
    } catch (err) {
      if (err.status === 403) this.dispatch({ type: "moderation/allowed", allowed: false });
    }
  }

  /** After a reconnect: what changed while away (pushes were missed). */
  async refresh() {
    if (!this.slice.allowed) return;
    await this.probe();
    if (this.slice.shown) await this.loadQueue();
    if (this.slice.selected) await this.loadCase(this.slice.selected);
  }

  /** Show or hide the page (hiding returns to the conversation on screen). */
  async show(on) {
    if (on === this.slice.shown) return;
    this.dispatch({ type: "moderation/show", shown: on });
    if (!on) { $("mod-open").focus(); return; }
    $("mod-heading").setAttribute("tabindex", "-1");
    $("mod-heading").focus();
    await this.loadQueue();
  }

  /** The first page of the queue for the filter. */
  async loadQueue() {
    const filter = this.slice.filter;
    try {
      const page = await this.api.get(`/api/moderation/cases?limit=${PAGE}${filter ? `&status=${filter}` : ""}`);
      this.dispatch({ type: "moderation/page", filter, cases: page.data, hasMore: page.hasMore, next: page.next });
    } catch (err) {
      this.dispatch({ type: "moderation/error", text: t("mod.errCases", { error: errorText(err) }) });
    }
  }

  /** The page after the last one read. */
  async more() {
    const { filter, next } = this.slice;
    if (!next) return;
    try {
      const page = await this.api.get(`/api/moderation/cases?limit=${PAGE}&next=${encodeURIComponent(next)}${filter ? `&status=${filter}` : ""}`);
      this.dispatch({ type: "moderation/page", filter, cases: page.data, hasMore: page.hasMore, next: page.next });
    } catch (err) {
      this.dispatch({ type: "moderation/error", text: t("mod.errCases", { error: errorText(err) }) });
    }
  }

  async setFilter(filter) {
    this.dispatch({ type: "moderation/filter", filter });
    await this.loadQueue();
  }

  /** Open a case: its reports, actions and the message's context (the server records the read). */
  async select(id) {
    this.dispatch({ type: "moderation/select", id });
    await this.loadCase(id);
    if (this.slice.selected === id && window.matchMedia("(max-width: 720px)").matches) $("mod-detail").focus();
  }

  async loadCase(id) {
    const ticket = ++this.asked;
    try {
      const detail = (await this.api.get(`/api/moderation/cases/${encodeURIComponent(id)}`)).data;
      if (ticket === this.asked) this.dispatch({ type: "moderation/detail", detail });
    } catch (err) {
      if (ticket === this.asked) this.dispatch({ type: "moderation/error", text: t("mod.errCase", { error: errorText(err) }) });
    }
  }

  /** An action on the case on screen (with the note typed, if any). */
  act(action, extra) {
    return this.change({ action, ...(extra || {}) });
  }

  setStatus(status) {
    return this.change({ status });
  }

  async change(body) {
    const id = this.slice.selected;
    if (!id || this.slice.busy) return;
    const note = takeNote();
    if (note) body.note = note;
    this.dispatch({ type: "moderation/busy", busy: true });
    this.dispatch({ type: "moderation/error", text: "" });
    try {
      const updated = (await this.api.patch(`/api/moderation/cases/${encodeURIComponent(id)}`, body)).data;
      const me = this.state.me;
      this.dispatch({ type: "moderation/case", case: updated });
      this.dispatch({ type: "moderation/acted", case: updated, record: { actorId: me.id, actorName: me.name,
        action: body.action || null, status: body.status || null, note: body.note || null,
        hours: body.action === "mute_author" ? body.hours || 24 : null, at: new Date().toISOString() } });
      $("mod-live").textContent = t("mod.done");
      await this.probe();
    } catch (err) {
      this.dispatch({ type: "moderation/error", text: t("mod.errAct", { error: errorText(err) }) });
    } finally {
      this.dispatch({ type: "moderation/busy", busy: false });
    }
  }

  /** A moderation:case push: a new case, a new report on one, or another moderator's change. */
  async pushed(c) {
    if (!this.slice.allowed) this.dispatch({ type: "moderation/allowed", allowed: true });
    const known = Boolean(this.slice.cases[c.id]);
    this.dispatch({ type: "moderation/case", case: c });
    if (this.slice.shown && !known) $("mod-live").textContent = t("mod.newCase", { name: c.subjectName });
    await this.probe();
    // a new report on the case on screen: read it again for the report (another moderator's
    // change shows in the case itself; each read of a case is an audited access)
    const d = this.slice.detail;
    if (d && d.case.id === c.id && c.reportCount > d.reports.length && !this.slice.busy) await this.loadCase(c.id);
  }

  wire() {
    $("mod-open").addEventListener("click", () => this.show(!this.slice.shown));
    $("mod-back").addEventListener("click", () => this.show(false));
    $("mod-filter").addEventListener("change", () => this.setFilter($("mod-filter").value));
    $("mod-more").addEventListener("click", () => this.more());
    $("moderation").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !ev.target.closest("select, textarea, input")) this.show(false);
    });
  }

  /** The handlers the page's view calls. */
  handlers() {
    return { select: (id) => this.select(id), act: (a, extra) => this.act(a, extra), setStatus: (s) => this.setStatus(s) };
  }
}
