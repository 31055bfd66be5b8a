// The admin area's record screens: the audit log (GET /api/audit with filters, older pages, a
// CSV of every matching entry built here from the JSON pages), exports of one person's data
// (POST /api/exports, GET /api/exports/{id} polled until done; a server without the route is
// said so), and oversight access: a reason (10+ characters) in a dialog, POST
// /api/oversight/grants, then the conversation read-only under a banner naming the grant's
// expiry, with no composer (reads under a grant are REST only).
import { auditCsv, auditQuery, exportFinished, grantLive, reasonProblem } from "../state/admin.js";
import { readAuditForm, readExportForm } from "../views/adminrecords.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const CSV_PAGE = 100;
const CSV_MAX = 20000;  // entries in one download (the server scans at most 20,000 per filtered request anyway)
const POLL_MS = 1000;

/** A datetime-local value ("2026-12-02T08:00") as RFC 3339 in UTC. */
function toIso(local) {
  return new Date(local).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A 404 of the router itself (this server has no such route), not of a missing user or export. */
function missingRoute(err) {
  return (err.status === 404 && /no such route/.test(err.message)) || err.status === 405;
}

export class AdminRecordsController {
  /** @param {object} deps {store, session} */
  constructor(deps) {
    this.deps = deps;
    this.polls = {};      // export id -> its poll timer
    this.expiry = null;   // the open grant's end
  }

  get state() { return this.deps.store.state; }

  get slice() { return this.state.admin; }

  get api() { return this.deps.session.api; }

  dispatch(action) { this.deps.store.dispatch(action); }

  note(tab, text, error) { this.dispatch({ type: "admin/note", tab, text, error }); }

  // ------------------------------------------------------------------ audit
  /** The first page for the filters (as typed when `fromForm`, else as last shown). */
  async auditSearch(fromForm) {
    const filters = fromForm && $("audit-actor") ? readAuditForm() : this.slice.audit.filters;
    try {
      const page = await this.api.get(`/api/audit${auditQuery(filters, toIso, PAGE)}`);
      this.dispatch({ type: "admin/audit", filters, entries: page.data, hasMore: page.hasMore, next: page.next });
      const n = page.data.length;
      this.note("audit", page.hasMore ? t("adm.entriesMore", { count: n }) : t("adm.entries", { count: n }));
    } catch (err) {
      this.note("audit", t("adm.auditFailed", { error: err.message }), true);
    }
  }

  async auditMore() {
    const { filters, next } = this.slice.audit;
    try {
      const page = await this.api.get(`/api/audit${auditQuery(filters, toIso, PAGE, next)}`);
      this.dispatch({ type: "admin/audit", filters, entries: page.data, hasMore: page.hasMore, next: page.next, append: true });
    } catch (err) {
      this.note("audit", t("adm.olderFailed", { error: err.message }), true);
    }
  }

  /** Every entry matching the filters on screen (page by page), downloaded as a CSV file. */
  async auditCsv() {
    const filters = $("audit-actor") ? readAuditForm() : this.slice.audit.filters;
    const entries = [];
    let next = null;
    try {
      do {
        const page = await this.api.get(`/api/audit${auditQuery(filters, toIso, CSV_PAGE, next)}`);
        entries.push(...page.data);
        next = page.hasMore ? page.next : null;
      } while (next !== null && entries.length < CSV_MAX);
    } catch (err) {
      return this.note("audit", t("adm.auditFailed", { error: err.message }), true);
    }
    const blob = new Blob([auditCsv(entries)], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `audit-${this.state.me.school}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    this.note("audit", next !== null ? t("adm.downloadedFirst", { count: entries.length, max: CSV_MAX }) : t("adm.downloaded", { count: entries.length }));
  }

  // ------------------------------------------------------------------ exports
  /** The school's exports (GET /api/exports), the unfinished ones followed; a server without the route says so. */
  async loadExports() {
    try {
      const jobs = (await this.api.get("/api/exports")).data;
      for (const job of jobs.slice().reverse()) this.dispatch({ type: "admin/export", job });
      for (const job of jobs) if (!this.polls[job.id]) this.poll(job.id);
    } catch (err) {
      if (missingRoute(err)) this.dispatch({ type: "admin/exports-unavailable" });
      else this.note("exports", t("adm.exportsFailed", { error: err.message }), true);
    }
  }

  async startExport() {
    const { userId } = readExportForm();
    if (!userId) return this.note("exports", t("adm.giveUser"), true);
    try {
      const job = (await this.api.post("/api/exports", { userId })).data;  // 202: queued
      this.dispatch({ type: "admin/export", job: { userId, ...job } });
      this.note("exports", t("adm.exportStarted", { id: userId }));
      this.poll(job.id);
    } catch (err) {
      if (missingRoute(err)) return this.dispatch({ type: "admin/exports-unavailable" });
      this.note("exports", t("adm.notStarted", { error: err.message }), true);
    }
  }

  poll(id) {
    const job = this.slice.exports.jobs[id];
    if (!job || exportFinished(job)) { delete this.polls[id]; return; }
    this.polls[id] = setTimeout(async () => {
      try {
        const fresh = (await this.api.get(`/api/exports/${encodeURIComponent(id)}`)).data;
        this.dispatch({ type: "admin/export", job: fresh });
        if (exportFinished(fresh)) {
          this.note("exports", fresh.downloadUrl ? t("adm.exportReady") : t("adm.exportEnded", { why: fresh.error || fresh.status }),
            !fresh.downloadUrl);
        }
      } catch (err) {
        this.dispatch({ type: "admin/export", job: { id, status: "failed", error: err.message } });
      }
      this.poll(id);
    }, POLL_MS);
  }

  // ------------------------------------------------------------------ oversight
  async loadGrants() {
    try {
      this.dispatch({ type: "admin/grants", grants: (await this.api.get("/api/oversight/grants")).data });
    } catch (err) {
      this.note("oversight", t("adm.accessFailed", { error: err.message }), true);
    }
  }

  /** The reason dialog for a conversation id. */
  askOversight(conversationId) {
    if (!conversationId) return this.note(this.slice.tab, t("adm.giveConv"), true);
    const dialog = $("oversight-dialog");
    dialog.dataset.conversation = conversationId;
    $("oversight-reason").value = "";
    $("oversight-error").textContent = "";
    dialog.showModal();
    $("oversight-reason").focus();
  }

  async submitReason() {
    const dialog = $("oversight-dialog");
    const reason = $("oversight-reason").value;
    const problem = reasonProblem(reason);
    if (problem) { $("oversight-error").textContent = problem; $("oversight-reason").focus(); return; }
    try {
      const grant = (await this.api.post("/api/oversight/grants", { conversationId: dialog.dataset.conversation, reason: reason.trim() })).data;
      dialog.close();
      await this.openGrant(grant);
    } catch (err) {
      $("oversight-error").textContent = err.status === 404 ? t("adm.noSuchConv") : t("adm.notOpened", { error: err.message });
    }
  }

  /** Read the conversation under a grant in force (REST only, read-only). */
  async openGrant(grant) {
    this.dispatch({ type: "admin/show", shown: true, tab: "oversight" });
    const id = encodeURIComponent(grant.conversationId);
    try {
      const [conv, page] = await Promise.all([this.api.get(`/api/conversations/${id}`), this.api.get(`/api/conversations/${id}/messages?limit=${PAGE}`)]);
      this.dispatch({ type: "admin/oversight", oversight: { grant, conversation: conv.data, messages: page.data, hasMore: page.hasMore, next: page.next } });
      this.note("oversight", "");
      clearTimeout(this.expiry);
      // when the grant ends the banner says so (the server refuses every read after it)
      this.expiry = setTimeout(() => this.dispatch({ type: "admin/oversight", oversight: { ...this.slice.oversight } }),
        Math.max(0, Date.parse(grant.expiresAt) - Date.now()) + 500);
      $("admin-panel").focus();
    } catch (err) {
      this.note("oversight", t("adm.convFailed", { error: err.message }), true);
    }
  }

  async oversightOlder() {
    const o = this.slice.oversight;
    if (!o || !o.next || !grantLive(o.grant, Date.now())) return;
    try {
      const page = await this.api.get(`/api/conversations/${encodeURIComponent(o.grant.conversationId)}/messages?limit=${PAGE}&before=${o.next}`);
      this.dispatch({ type: "admin/oversight", oversight: { ...o, messages: page.data.concat(o.messages), hasMore: page.hasMore, next: page.next } });
    } catch (err) {
      this.note("oversight", t("adm.olderMsgFailed", { error: err.message }), true);
    }
  }

  closeOversight() {
    clearTimeout(this.expiry);
    this.dispatch({ type: "admin/oversight", oversight: null });
    this.loadGrants();
  }

  wire() {
    $("oversight-form").addEventListener("submit", (ev) => {
      if (ev.submitter && ev.submitter.value === "cancel") return;
      ev.preventDefault();
      this.submitReason();
    });
  }
}
