// The admin area's settings screens: the school policy with its quiet hours and holidays,
// retention, and legal holds. Each is built from the admin slice when it loads (what an admin
// types stays in the form until Save; rows are added and removed in the form itself) and read
// back by the read*Form functions. User text goes in through textContent and input values only.
import { clock, el } from "../dom.js";
import { DAYS, daysValue, windowFrom } from "../state/admin.js";

const $ = (id) => document.getElementById(id);
const DAY_NAMES = { mon: "Mon", tue: "Tue", wed: "Wed", thu: "Thu", fri: "Fri", sat: "Sat", sun: "Sun" };
const ROLES = [["student", "Students"], ["teacher", "Teachers"]];

function select(id, label, value, options, testid) {
  const box = el("select", { id, "data-testid": testid || id },
    ...options.map(([v, text]) => el("option", { value: v, text })));
  box.value = value;
  return el("div", { class: "admin-field" }, el("label", { for: id, text: label }), box);
}

function check(id, label, checked) {
  const box = el("input", { id, type: "checkbox", "data-testid": id });
  box.checked = Boolean(checked);
  return el("div", { class: "admin-field admin-check" }, box, el("label", { for: id, text: label }));
}

function input(id, label, value, extra) {
  const box = el("input", { id, "data-testid": id, ...(extra || {}) });
  box.value = value === null || value === undefined ? "" : String(value);
  return el("div", { class: "admin-field" }, el("label", { for: id, text: label }), box);
}

// ------------------------------------------------------------------ policy
/** A unique id prefix for a row's labelled inputs. */
function rowId() { return `aw${Math.random().toString(36).slice(2, 10)}`; }

/** One weekly window: day boxes, from, to, Remove. */
function windowRow(role, w) {
  const id = rowId();
  const days = el("fieldset", { class: "admin-days" }, el("legend", { class: "sr-only", text: "Days" }),
    ...DAYS.map((d) => {
      const box = el("input", { type: "checkbox", id: `${id}-${d}`, value: d, "data-testid": `qh-day-${d}` });
      box.checked = (w.days || []).includes(d);
      return el("span", { class: "admin-day" }, box, el("label", { for: `${id}-${d}`, text: DAY_NAMES[d] }));
    }));
  const from = el("input", { type: "time", id: `${id}-from`, "data-testid": "qh-from", value: w.from || "07:30" });
  const to = el("input", { type: "time", id: `${id}-to`, "data-testid": "qh-to", value: w.to || "16:00" });
  const row = el("li", { class: "admin-window", "data-testid": `qh-window-${role}` }, days,
    el("span", { class: "admin-times" }, el("label", { for: `${id}-from`, text: "From" }), from,
      el("label", { for: `${id}-to`, text: "to" }), to),
    el("button", { type: "button", class: "link", "data-testid": "qh-remove", text: "Remove",
      "aria-label": "Remove this window", onclick: () => row.remove() }));
  return row;
}

function holidayRow(h) {
  const id = rowId();
  const row = el("li", { class: "admin-window", "data-testid": "holiday" },
    el("label", { for: `${id}-name`, text: "Name" }), el("input", { id: `${id}-name`, "data-testid": "holiday-name", value: h.name || "", maxlength: "100" }),
    el("label", { for: `${id}-from`, text: "From" }), el("input", { id: `${id}-from`, type: "date", "data-testid": "holiday-from", value: h.from || "" }),
    el("label", { for: `${id}-to`, text: "to" }), el("input", { id: `${id}-to`, type: "date", "data-testid": "holiday-to", value: h.to || "" }),
    el("button", { type: "button", class: "link", text: "Remove", "aria-label": "Remove this holiday", onclick: () => row.remove() }));
  return row;
}

/** The policy screen for the school's policy doc (`p`); `on.savePolicy()` saves it. */
export function policyScreen(p, on) {
  const quiet = p.quietHours || {};
  const roles = ROLES.map(([role, label]) => {
    const list = el("ul", { id: `qh-${role}`, class: "admin-windows", "data-testid": `qh-list-${role}` },
      ...(quiet[role] || []).map((w) => windowRow(role, w)));
    return el("fieldset", { class: "admin-group", "data-testid": `qh-${role}` },
      el("legend", { text: `${label}: when they may send` }),
      check(`qh-on-${role}`, `Limit ${label.toLowerCase()} to these hours (otherwise they may send at any time)`, Boolean(quiet[role])),
      list,
      el("button", { type: "button", "data-testid": `qh-add-${role}`, text: "Add a window",
        onclick: () => { $(`qh-on-${role}`).checked = true; list.append(windowRow(role, { days: ["mon", "tue", "wed", "thu", "fri"] })); } }));
  });
  const holidays = el("ul", { id: "qh-holidays", class: "admin-windows" }, ...(p.holidays || []).map(holidayRow));
  return el("form", { class: "admin-form", "data-testid": "policy-form", onsubmit: (ev) => { ev.preventDefault(); on.savePolicy(); } },
    el("fieldset", { class: "admin-group" }, el("legend", { text: "Who students may message" }),
      select("pol-direct", "Direct messages", p.studentDirect, [["any", "Anyone in the school"], ["classmates", "Classmates and staff"],
        ["staff_only", "Staff only"], ["none", "No one"]]),
      select("pol-groups", "Groups", p.studentGroups, [["allowed", "Students may start groups"],
        ["supervised", "Supervised: a member of staff stays in every group"], ["staff_only", "Only staff start groups"]]),
      check("pol-admins", "Students may message admins", p.studentsMayMessageAdmins),
      check("pol-notice", "Tell everyone \u201cThis school may review conversations.\u201d", p.reviewNotice)),
    el("fieldset", { class: "admin-group" }, el("legend", { text: "Quiet hours" }),
      input("pol-tz", "The school's time zone (IANA, e.g. Europe/London)", p.timeZone, { maxlength: "64", autocomplete: "off" }),
      ...roles,
      el("fieldset", { class: "admin-group" }, el("legend", { text: "Holidays (closed all day)" }), holidays,
        el("button", { type: "button", "data-testid": "holiday-add", text: "Add a holiday", onclick: () => holidays.append(holidayRow({})) }))),
    el("button", { type: "submit", class: "primary", "data-testid": "policy-save", text: "Save the policy" }));
}

/** The policy form as a PUT body, or {error}. */
export function readPolicyForm() {
  const body = { studentDirect: $("pol-direct").value, studentGroups: $("pol-groups").value,
    studentsMayMessageAdmins: $("pol-admins").checked, reviewNotice: $("pol-notice").checked,
    timeZone: $("pol-tz").value.trim(), quietHours: {}, holidays: [] };
  for (const [role] of ROLES) {
    if (!$(`qh-on-${role}`).checked) continue;
    const windows = [];
    for (const row of $(`qh-${role}`).querySelectorAll("li")) {
      const days = [...row.querySelectorAll("input[type=checkbox]:checked")].map((b) => b.value);
      const times = row.querySelectorAll("input[type=time]");
      const w = windowFrom(days, times[0].value, times[1].value);
      if (w.error) return { error: w.error };
      windows.push(w.window);
    }
    if (!windows.length) return { error: `Add at least one window for ${role}s, or untick the limit.` };
    body.quietHours[role] = windows;
  }
  for (const row of $("qh-holidays").querySelectorAll("li")) {
    const [name, from, to] = row.querySelectorAll("input");
    if (!from.value || !to.value) return { error: "A holiday needs a first and a last day." };
    body.holidays.push(name.value.trim() ? { from: from.value, to: to.value, name: name.value.trim() } : { from: from.value, to: to.value });
  }
  return { body };
}

// ------------------------------------------------------------------ retention
const TYPES = [["direct", "Direct messages"], ["group", "Groups"], ["class", "Classes"], ["announcement", "Announcements"]];

/** The retention screen for `r` ({messages: {retentionDays, byType}, uploads, caseRetentionDays}). */
export function retentionScreen(r, on) {
  return el("form", { class: "admin-form", "data-testid": "retention-form", onsubmit: (ev) => { ev.preventDefault(); on.saveRetention(); } },
    el("fieldset", { class: "admin-group" }, el("legend", { text: "Messages" }),
      input("ret-messages", "Keep message content for (days; 0 keeps it forever)", r.messages.retentionDays,
        { inputmode: "numeric", "aria-describedby": "ret-hint" }),
      ...TYPES.map(([t, label]) => input(`ret-${t}`, `${label} (days; empty: as above)`, r.messages.byType[t], { inputmode: "numeric" })),
      el("p", { id: "ret-hint", class: "hint", text: "After that a message shows as deleted; legal holds and open cases keep it." })),
    input("ret-uploads", "Keep the files of deleted messages for (days)", r.uploads.retentionDays, { inputmode: "numeric" }),
    input("ret-cases", "Keep a resolved case's evidence for (days; 0 forever)", r.caseRetentionDays, { inputmode: "numeric" }),
    el("button", { type: "submit", class: "primary", "data-testid": "retention-save", text: "Save retention" }));
}

/** The retention form as a PUT body, or {error}. */
export function readRetentionForm() {
  const messages = daysValue($("ret-messages").value, { required: true });
  const uploads = daysValue($("ret-uploads").value, { min: 1, required: true });
  const cases = daysValue($("ret-cases").value, { required: true });
  const byType = {};
  for (const [t] of TYPES) {
    const v = daysValue($(`ret-${t}`).value);
    if (v.error) return { error: v.error };
    byType[t] = v.value;
  }
  const bad = [messages, uploads, cases].find((v) => v.error);
  if (bad) return { error: bad.error };
  return { body: { messages: { retentionDays: messages.value, byType }, uploads: { retentionDays: uploads.value },
    caseRetentionDays: cases.value } };
}

// ------------------------------------------------------------------ holds
/** The holds screen: the list with Release, and the form that places one. */
export function holdsScreen(holds, on) {
  const rows = holds.map((h) => el("tr", { "data-testid": "hold", dataset: { kind: h.kind, target: h.targetId } },
    el("td", { text: h.kind === "user" ? "Person" : "Conversation" }), el("td", { class: "admin-id", text: h.targetId }),
    el("td", { text: h.reason }), el("td", { text: `${h.setBy || ""} ${h.setAt ? clock(h.setAt) : ""}`.trim() }),
    el("td", {}, el("button", { type: "button", "data-testid": "hold-release", text: "Release",
      "aria-label": `Release the hold on ${h.targetId}`, onclick: () => on.releaseHold(h.kind, h.targetId) }),
    h.kind === "conversation" ? el("button", { type: "button", class: "link", text: "Read", "aria-label": `Read conversation ${h.targetId}`,
      onclick: () => on.askOversight(h.targetId) }) : null)));
  return el("div", {},
    el("p", { class: "hint", text: "A hold keeps everything a person wrote, or everything in a conversation, whatever retention or a delete would remove." }),
    holds.length ? el("table", { class: "admin-table", "data-testid": "holds-table" },
      el("caption", { class: "sr-only", text: "Legal holds in force" }),
      el("thead", {}, el("tr", {}, ...["Kind", "Id", "Reason", "Set by", ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows)) : el("p", { "data-testid": "holds-empty", text: "No holds are in force." }),
    el("form", { class: "admin-form admin-inline", "data-testid": "hold-form", onsubmit: (ev) => { ev.preventDefault(); on.placeHold(); } },
      el("h4", { text: "Place a hold" }),
      select("hold-kind", "On", "user", [["user", "A person (user id)"], ["conversation", "A conversation (id)"]]),
      input("hold-target", "Id", "", { required: true, maxlength: "128", autocomplete: "off", "data-keep": true }),
      input("hold-reason", "Reason", "", { required: true, maxlength: "500", "data-keep": true }),
      el("button", { type: "submit", class: "primary", "data-testid": "hold-place", text: "Place the hold" })));
}

/** The hold form's values. */
export function readHoldForm() {
  return { kind: $("hold-kind").value, targetId: $("hold-target").value.trim(), reason: $("hold-reason").value.trim() };
}
