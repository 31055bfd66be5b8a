// The admin area's record screens: the audit log (filters, older pages, CSV download), exports
// with their progress, oversight access (the grants in force and the read-only reader with its
// banner), and the roster import with its preview. Built from the admin slice; user text goes
// in through textContent only.
import { clock, el } from "../dom.js";
import { AUDIT_ACTIONS, bannerText, changeText, exportCounts, exportProgress, grantLive, previewLines, targetText } from "../state/admin.js";
import { currentLanguage, t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

function field(id, label, control) {
  control.id = id;
  if (!control.dataset.testid) control.dataset.testid = id;
  return el("div", { class: "admin-field" }, el("label", { for: id, text: label }), control);
}

// ------------------------------------------------------------------ audit
/** The filter form (kept across pages) and the entries. */
export function auditScreen(audit, on) {
  const f = audit.filters || {};
  const action = el("select", {}, el("option", { value: "", text: t("adm.anyAction") }), ...AUDIT_ACTIONS.map((a) => el("option", { value: a, text: a })));
  action.value = f.action || "";
  const actor = el("input", { maxlength: "200", autocomplete: "off" });
  actor.value = f.actor || "";
  const since = el("input", { type: "datetime-local" });
  since.value = f.since || "";
  const until = el("input", { type: "datetime-local" });
  until.value = f.until || "";
  for (const box of [action, actor, since, until]) box.dataset.keep = "1";
  const form = el("form", { class: "admin-form admin-inline", "data-testid": "audit-filters", onsubmit: (ev) => { ev.preventDefault(); on.auditSearch(); } },
    field("audit-actor", t("adm.whoId"), actor), field("audit-action", t("adm.action"), action),
    field("audit-since", t("adm.from"), since), field("audit-until", t("adm.until"), until),
    el("button", { type: "submit", class: "primary", "data-testid": "audit-search", text: t("adm.show") }),
    el("button", { type: "button", "data-testid": "audit-csv", text: t("adm.csv"), onclick: () => on.auditCsv() }));
  const body = audit.entries.map((e) => el("tr", { "data-testid": "audit-entry", dataset: { seq: String(e.seq), action: e.action } },
    el("td", { text: String(e.seq) }), el("td", { text: new Date(e.at).toLocaleString(currentLanguage()) }), el("td", { text: e.actor }),
    el("td", { text: e.action }), el("td", {}, targetText(e.target),
      e.target && e.target.conversationId ? el("button", { type: "button", class: "link", text: ` ${t("adm.read")}`,
        "aria-label": t("adm.readLabel", { id: e.target.conversationId }), onclick: () => on.askOversight(e.target.conversationId) }) : null),
    el("td", { class: "admin-detail", text: JSON.stringify(e.detail || {}) })));
  return el("div", {}, form,
    audit.loaded && !audit.entries.length ? el("p", { "data-testid": "audit-empty", text: t("adm.noEntries") }) : null,
    audit.entries.length ? el("div", { class: "admin-scroll", tabindex: "0", role: "region", "aria-label": t("adm.auditEntries") },
      el("table", { class: "admin-table", "data-testid": "audit-table" },
        el("caption", { class: "sr-only", text: t("adm.auditCaption") }),
        el("thead", {}, el("tr", {}, ...["#", "adm.when", "adm.who", "adm.action", "adm.what", "adm.detail"].map((h) => el("th", { scope: "col", text: h === "#" ? h : t(h) })))),
        el("tbody", {}, ...body))) : null,
    audit.hasMore ? el("button", { type: "button", "data-testid": "audit-more", text: t("adm.older"), onclick: () => on.auditMore() }) : null);
}

/** The filters as typed. */
export function readAuditForm() {
  return { actor: $("audit-actor").value.trim(), action: $("audit-action").value, since: $("audit-since").value, until: $("audit-until").value };
}

// ------------------------------------------------------------------ exports
export function exportsScreen(exp, on) {
  const userId = el("input", { required: true, maxlength: "128", autocomplete: "off", "data-keep": true });
  const parts = [el("p", { class: "hint", text: t("adm.exportHint") })];
  if (exp.unavailable) {
    parts.push(el("p", { class: "admin-warn", role: "alert", "data-testid": "exports-unavailable",
      text: t("adm.exportsUnavailable") }));
  }
  parts.push(el("form", { class: "admin-form admin-inline", "data-testid": "export-form", onsubmit: (ev) => { ev.preventDefault(); on.startExport(); } },
    field("export-user", t("adm.personId"), userId),
    el("button", { type: "submit", class: "primary", "data-testid": "export-start", disabled: exp.unavailable ? true : null, text: t("adm.exportStart") })));
  const jobs = exp.order.map((id) => exp.jobs[id]);
  if (jobs.length) {
    parts.push(el("ul", { class: "admin-jobs", "data-testid": "export-jobs" }, ...jobs.map((job) => {
      const p = exportProgress(job);
      const bar = el("progress", { max: "1", "aria-label": t("adm.exportOf", { id: job.userId || job.id }) });
      if (p !== null) bar.value = p;
      return el("li", { "data-testid": "export-job", dataset: { id: job.id, status: job.status || "" } },
        el("span", { text: [job.userId || "", job.status || t("adm.queued"), p !== null && p < 1 ? `${Math.round(p * 100)}%` : "", exportCounts(job)]
          .filter(Boolean).join(" \u00b7 ") }), bar,
        job.downloadUrl ? el("a", { href: job.downloadUrl, rel: "noopener noreferrer", "data-testid": "export-download", text: t("adm.download") }) : null,
        job.error ? el("span", { class: "error", text: job.error }) : null);
    })));
  }
  return el("div", {}, ...parts);
}

export function readExportForm() {
  return { userId: $("export-user").value.trim() };
}

// ------------------------------------------------------------------ oversight
/** The grants in force and the conversation open under one (read-only: no composer). */
export function oversightScreen(slice, on, now) {
  const o = slice.oversight;
  if (o && o.conversation) return readerEl(o, on, now);
  const conv = el("input", { required: true, maxlength: "128", autocomplete: "off", "data-keep": true });
  const grants = (slice.grants || []).filter((g) => grantLive(g, now));
  return el("div", {},
    el("p", { class: "hint", text: t("adm.overHint") }),
    el("form", { class: "admin-form admin-inline", "data-testid": "oversight-form", onsubmit: (ev) => { ev.preventDefault(); on.askOversight($("oversight-conv").value.trim()); } },
      field("oversight-conv", t("adm.convId"), conv),
      el("button", { type: "submit", class: "primary", "data-testid": "oversight-ask", text: t("adm.readIt") })),
    el("h4", { text: t("adm.access") }),
    grants.length ? el("ul", { class: "admin-jobs", "data-testid": "grants" }, ...grants.map((g) => el("li", { "data-testid": "grant" },
      el("span", { text: t("adm.grantLine", { id: g.conversationId, time: clock(g.expiresAt), reason: g.reason }) }),
      el("button", { type: "button", text: t("adm.open"), "aria-label": t("adm.openLabel", { id: g.conversationId }), onclick: () => on.openGrant(g) }))))
      : el("p", { "data-testid": "grants-empty", text: t("adm.none") }));
}

function readerEl(o, on, now) {
  const live = grantLive(o.grant, now);
  const c = o.conversation;
  return el("div", { class: "admin-reader", "data-testid": "oversight-reader" },
    el("p", { class: "oversight-banner", role: "status", "data-testid": "oversight-banner",
      text: live ? bannerText(o.grant, clock) : t("adm.accessEnded", { time: clock(o.grant.expiresAt) }) }),
    el("h4", { "data-testid": "oversight-title", text: `${c.title || (c.participants || []).map((p) => p.name).join(", ")} (${c.type})` }),
    el("ol", { class: "mod-context", "data-testid": "oversight-messages", "aria-label": t("adm.readOnlyMessages") },
      ...o.messages.map((m) => el("li", { class: "mod-msg" + ((m.deleted || m.deletedAt) ? " removed" : ""), "data-testid": "oversight-message", dataset: { seq: String(m.seq) } },
        el("strong", { text: m.type === "system" ? "" : `${m.senderName}: ` }),
        el("span", { class: "mod-text", text: m.deleted || m.deletedAt ? t("adm.deleted") : m.text || ((m.attachments || [])[0] || {}).name || "" }),
        el("span", { class: "mod-meta", text: ` ${clock(m.createdAt)}` })))),
    o.hasMore ? el("button", { type: "button", "data-testid": "oversight-older", text: t("adm.olderMessages"), onclick: () => on.oversightOlder() }) : null,
    el("button", { type: "button", "data-testid": "oversight-close", text: t("msg.close"), onclick: () => on.closeOversight() }));
}

// ------------------------------------------------------------------ roster
export function rosterScreen(slice, on) {
  const r = slice.roster;
  const file = el("input", { type: "file", accept: ".json,.csv,application/json,text/csv", "data-testid": "roster-file" });
  const text = el("textarea", { rows: "6", spellcheck: "false", "data-testid": "roster-text", "data-keep": true });
  const parts = [];
  if (slice.firstRun) {
    parts.push(el("div", { class: "admin-welcome", "data-testid": "first-run" },
      el("h4", { text: t("adm.gettingStarted") }),
      el("p", { text: t("adm.firstRun") })));
  }
  parts.push(el("p", { class: "hint" }, t("adm.rosterHint1"),
    el("a", { href: "/start.html#roster", text: t("adm.rosterFormat") }), t("adm.rosterHint2")));
  parts.push(el("form", { class: "admin-form", "data-testid": "roster-form", onsubmit: (ev) => { ev.preventDefault(); on.previewRoster(); } },
    field("roster-file", t("adm.rosterFile"), file),
    field("roster-text", t("adm.paste"), text),
    el("button", { type: "submit", class: "primary", "data-testid": "roster-preview", text: t("adm.previewButton") })));
  if (r.preview) parts.push(previewEl(r, on));
  return el("div", {}, ...parts);
}

function previewEl(r, on) {
  const p = r.preview;
  const lines = previewLines(p);
  const list = (items, fmt, testid) => (items.length ? el("ul", { "data-testid": testid }, ...items.map((x) => el("li", { text: fmt(x) }))) : null);
  return el("section", { class: "admin-preview", "data-testid": "roster-result", "aria-label": r.applied ? t("adm.imported") : t("adm.preview") },
    el("h4", { text: r.applied ? t("adm.imported") : t("adm.whatChanges") }),
    ...lines.map((line) => el("p", { text: line })),
    list(p.users.addedUsers, (u) => t("adm.newUser", { name: u.name, id: u.id, role: u.role + (u.safeguarding ? t("adm.safeguarding") : "") }), "roster-added"),
    list(p.users.changedUsers, (u) => t("adm.changedUser", { name: u.name, id: u.id, changes: changeText(u.changes) }), "roster-changed"),
    list(p.classes.addedClasses, (c) => t("adm.newClass", { name: c.name, id: c.id, teachers: c.teachers, students: c.students }), "roster-classes-added"),
    list(p.classes.changedClasses, (c) => t("adm.changedClass", { name: c.name, id: c.id, changes: changeText(c.changes) }), "roster-classes-changed"),
    r.applied
      ? el("p", { class: "admin-ok", "data-testid": "roster-applied",
        text: t("adm.applied", { users: r.applied.users, newUsers: r.applied.newUsers, classes: r.applied.classes, newClasses: r.applied.newClasses }) })
      : el("button", { type: "button", class: "primary", "data-testid": "roster-apply", text: t("adm.apply"), onclick: () => on.applyRoster() }));
}

/** The roster as typed or picked: {text, type} (a file wins over the text box). */
export async function readRosterForm() {
  const f = $("roster-file").files[0];
  if (f) return { text: await f.text(), type: /\.csv$/i.test(f.name) || f.type === "text/csv" ? "text/csv" : "application/json" };
  const text = $("roster-text").value;
  return { text, type: text.trim().startsWith("{") ? "application/json" : "text/csv" };
}
