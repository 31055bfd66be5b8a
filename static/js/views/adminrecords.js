// The admin area's record screens: the audit log (filters, older pages, CSV download), exports
// with their progress, oversight access (the grants in force and the read-only reader with its
// banner), and the roster import with its preview. Built from the admin slice; user text goes
// in through textContent only.
import { clock, el } from "../dom.js";
import { AUDIT_ACTIONS, bannerText, changeText, exportCounts, exportProgress, grantLive, previewLines, targetText } from "../state/admin.js";

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
  const action = el("select", {}, el("option", { value: "", text: "Any action" }), ...AUDIT_ACTIONS.map((a) => el("option", { value: a, text: a })));
  action.value = f.action || "";
  const actor = el("input", { maxlength: "200", autocomplete: "off" });
  actor.value = f.actor || "";
  const since = el("input", { type: "datetime-local" });
  since.value = f.since || "";
  const until = el("input", { type: "datetime-local" });
  until.value = f.until || "";
  for (const box of [action, actor, since, until]) box.dataset.keep = "1";
  const form = el("form", { class: "admin-form admin-inline", "data-testid": "audit-filters", onsubmit: (ev) => { ev.preventDefault(); on.auditSearch(); } },
    field("audit-actor", "Who (user id)", actor), field("audit-action", "Action", action),
    field("audit-since", "From", since), field("audit-until", "Until", until),
    el("button", { type: "submit", class: "primary", "data-testid": "audit-search", text: "Show" }),
    el("button", { type: "button", "data-testid": "audit-csv", text: "Download CSV", onclick: () => on.auditCsv() }));
  const body = audit.entries.map((e) => el("tr", { "data-testid": "audit-entry", dataset: { seq: String(e.seq), action: e.action } },
    el("td", { text: String(e.seq) }), el("td", { text: new Date(e.at).toLocaleString() }), el("td", { text: e.actor }),
    el("td", { text: e.action }), el("td", {}, targetText(e.target),
      e.target && e.target.conversationId ? el("button", { type: "button", class: "link", text: " Read",
        "aria-label": `Read conversation ${e.target.conversationId}`, onclick: () => on.askOversight(e.target.conversationId) }) : null),
    el("td", { class: "admin-detail", text: JSON.stringify(e.detail || {}) })));
  return el("div", {}, form,
    audit.loaded && !audit.entries.length ? el("p", { "data-testid": "audit-empty", text: "No entries match." }) : null,
    audit.entries.length ? el("div", { class: "admin-scroll", tabindex: "0", role: "region", "aria-label": "Audit entries" },
      el("table", { class: "admin-table", "data-testid": "audit-table" },
        el("caption", { class: "sr-only", text: "Audit log entries, newest first" }),
        el("thead", {}, el("tr", {}, ...["#", "When", "Who", "Action", "What", "Detail"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, ...body))) : null,
    audit.hasMore ? el("button", { type: "button", "data-testid": "audit-more", text: "Older entries", onclick: () => on.auditMore() }) : null);
}

/** The filters as typed. */
export function readAuditForm() {
  return { actor: $("audit-actor").value.trim(), action: $("audit-action").value, since: $("audit-since").value, until: $("audit-until").value };
}

// ------------------------------------------------------------------ exports
export function exportsScreen(exp, on) {
  const userId = el("input", { required: true, maxlength: "128", autocomplete: "off", "data-keep": true });
  const parts = [el("p", { class: "hint", text: "Everything one person wrote and received, for a data request. The file is ready to download when the export is done." })];
  if (exp.unavailable) {
    parts.push(el("p", { class: "admin-warn", role: "alert", "data-testid": "exports-unavailable",
      text: "Exports are not available on this server yet (it has no export route). Until they are, answer a data request from the audit log and a backup." }));
  }
  parts.push(el("form", { class: "admin-form admin-inline", "data-testid": "export-form", onsubmit: (ev) => { ev.preventDefault(); on.startExport(); } },
    field("export-user", "Person (user id)", userId),
    el("button", { type: "submit", class: "primary", "data-testid": "export-start", disabled: exp.unavailable ? true : null, text: "Export their data" })));
  const jobs = exp.order.map((id) => exp.jobs[id]);
  if (jobs.length) {
    parts.push(el("ul", { class: "admin-jobs", "data-testid": "export-jobs" }, ...jobs.map((job) => {
      const p = exportProgress(job);
      const bar = el("progress", { max: "1", "aria-label": `Export of ${job.userId || job.id}` });
      if (p !== null) bar.value = p;
      return el("li", { "data-testid": "export-job", dataset: { id: job.id, status: job.status || "" } },
        el("span", { text: [job.userId || "", job.status || "queued", p !== null && p < 1 ? `${Math.round(p * 100)}%` : "", exportCounts(job)]
          .filter(Boolean).join(" \u00b7 ") }), bar,
        job.downloadUrl ? el("a", { href: job.downloadUrl, rel: "noopener noreferrer", "data-testid": "export-download", text: "Download" }) : null,
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
    el("p", { class: "hint", text: "Read a conversation of your school you are not in, read-only, by saying why. The access lasts a limited time; the participants are not told, and your reason and every read go into the audit log." }),
    el("form", { class: "admin-form admin-inline", "data-testid": "oversight-form", onsubmit: (ev) => { ev.preventDefault(); on.askOversight($("oversight-conv").value.trim()); } },
      field("oversight-conv", "Conversation id", conv),
      el("button", { type: "submit", class: "primary", "data-testid": "oversight-ask", text: "Read it\u2026" })),
    el("h4", { text: "Your access in force" }),
    grants.length ? el("ul", { class: "admin-jobs", "data-testid": "grants" }, ...grants.map((g) => el("li", { "data-testid": "grant" },
      el("span", { text: `${g.conversationId} until ${clock(g.expiresAt)} \u2013 ${g.reason}` }),
      el("button", { type: "button", text: "Open", "aria-label": `Open conversation ${g.conversationId}`, onclick: () => on.openGrant(g) }))))
      : el("p", { "data-testid": "grants-empty", text: "None." }));
}

function readerEl(o, on, now) {
  const live = grantLive(o.grant, now);
  const c = o.conversation;
  return el("div", { class: "admin-reader", "data-testid": "oversight-reader" },
    el("p", { class: "oversight-banner", role: "status", "data-testid": "oversight-banner",
      text: live ? bannerText(o.grant, clock) : `Your oversight access ended at ${clock(o.grant.expiresAt)}.` }),
    el("h4", { "data-testid": "oversight-title", text: `${c.title || (c.participants || []).map((p) => p.name).join(", ")} (${c.type})` }),
    el("ol", { class: "mod-context", "data-testid": "oversight-messages", "aria-label": "Messages, read-only" },
      ...o.messages.map((m) => el("li", { class: "mod-msg" + ((m.deleted || m.deletedAt) ? " removed" : ""), "data-testid": "oversight-message", dataset: { seq: String(m.seq) } },
        el("strong", { text: m.type === "system" ? "" : `${m.senderName}: ` }),
        el("span", { class: "mod-text", text: m.deleted || m.deletedAt ? "(deleted)" : m.text || ((m.attachments || [])[0] || {}).name || "" }),
        el("span", { class: "mod-meta", text: ` ${clock(m.createdAt)}` })))),
    o.hasMore ? el("button", { type: "button", "data-testid": "oversight-older", text: "Older messages", onclick: () => on.oversightOlder() }) : null,
    el("button", { type: "button", "data-testid": "oversight-close", text: "Close", onclick: () => on.closeOversight() }));
}

// ------------------------------------------------------------------ roster
export function rosterScreen(slice, on) {
  const r = slice.roster;
  const file = el("input", { type: "file", accept: ".json,.csv,application/json,text/csv", "data-testid": "roster-file" });
  const text = el("textarea", { rows: "6", spellcheck: "false", "data-testid": "roster-text", "data-keep": true });
  const parts = [];
  if (slice.firstRun) {
    parts.push(el("div", { class: "admin-welcome", "data-testid": "first-run" },
      el("h4", { text: "Getting started" }),
      el("p", { text: "Your school has no classes here yet. Import your roster (from your LMS's export, or written by hand) so that people can find each other and teachers can open class conversations. People sign in with tokens your LMS gives them." })));
  }
  parts.push(el("p", { class: "hint" }, "The same JSON or CSV the import-roster command reads (see ",
    el("a", { href: "/start.html#roster", text: "the roster format" }), "): people and classes of your school only. Preview first: nothing changes until you apply it. An import never deletes anyone; a class's members become the file's."));
  parts.push(el("form", { class: "admin-form", "data-testid": "roster-form", onsubmit: (ev) => { ev.preventDefault(); on.previewRoster(); } },
    field("roster-file", "A roster file (.json, or one .csv of people or of classes)", file),
    field("roster-text", "Or paste it here", text),
    el("button", { type: "submit", class: "primary", "data-testid": "roster-preview", text: "Preview the changes" })));
  if (r.preview) parts.push(previewEl(r, on));
  return el("div", {}, ...parts);
}

function previewEl(r, on) {
  const p = r.preview;
  const lines = previewLines(p);
  const list = (items, fmt, testid) => (items.length ? el("ul", { "data-testid": testid }, ...items.map((x) => el("li", { text: fmt(x) }))) : null);
  return el("section", { class: "admin-preview", "data-testid": "roster-result", "aria-label": r.applied ? "Imported" : "Preview" },
    el("h4", { text: r.applied ? "Imported" : "What this import changes" }),
    ...lines.map((line) => el("p", { text: line })),
    list(p.users.addedUsers, (u) => `New: ${u.name} (${u.id}, ${u.role}${u.safeguarding ? ", safeguarding team" : ""})`, "roster-added"),
    list(p.users.changedUsers, (u) => `Changed: ${u.name} (${u.id}): ${changeText(u.changes)}`, "roster-changed"),
    list(p.classes.addedClasses, (c) => `New class: ${c.name} (${c.id}): ${c.teachers} teacher(s), ${c.students} student(s)`, "roster-classes-added"),
    list(p.classes.changedClasses, (c) => `Changed class: ${c.name} (${c.id}): ${changeText(c.changes)}`, "roster-classes-changed"),
    r.applied
      ? el("p", { class: "admin-ok", "data-testid": "roster-applied",
        text: `Done: ${r.applied.users} people (${r.applied.newUsers} new) and ${r.applied.classes} classes (${r.applied.newClasses} new) imported.` })
      : el("button", { type: "button", class: "primary", "data-testid": "roster-apply", text: "Apply this import", onclick: () => on.applyRoster() }));
}

/** The roster as typed or picked: {text, type} (a file wins over the text box). */
export async function readRosterForm() {
  const f = $("roster-file").files[0];
  if (f) return { text: await f.text(), type: /\.csv$/i.test(f.name) || f.type === "text/csv" ? "text/csv" : "application/json" };
  const text = $("roster-text").value;
  return { text, type: text.trim().startsWith("{") ? "application/json" : "text/csv" };
}
