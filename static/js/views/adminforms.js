// The admin area's settings screens: the school policy with its quiet hours and holidays,
// retention, and legal holds. Each is built from the admin slice when it loads (what an admin
// types stays in the form until Save; rows are added and removed in the form itself) and read
// back by the read*Form functions. User text goes in through textContent and input values only.
import { clock, el } from "../dom.js";
import { DAYS, daysValue, windowFrom } from "../state/admin.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
// a day's short name in the page's language
const dayName = (d) => t(`day.${d}`);
const ROLES = [["student", "adm.students"], ["teacher", "adm.teachers"]];

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
  const days = el("fieldset", { class: "admin-days" }, el("legend", { class: "sr-only", text: t("adm.days") }),
    ...DAYS.map((d) => {
      const box = el("input", { type: "checkbox", id: `${id}-${d}`, value: d, "data-testid": `qh-day-${d}` });
      box.checked = (w.days || []).includes(d);
      return el("span", { class: "admin-day" }, box, el("label", { for: `${id}-${d}`, text: dayName(d) }));
    }));
  const from = el("input", { type: "time", id: `${id}-from`, "data-testid": "qh-from", value: w.from || "07:30" });
  const to = el("input", { type: "time", id: `${id}-to`, "data-testid": "qh-to", value: w.to || "16:00" });
  const row = el("li", { class: "admin-window", "data-testid": `qh-window-${role}` }, days,
    el("span", { class: "admin-times" }, el("label", { for: `${id}-from`, text: t("adm.from") }), from,
      el("label", { for: `${id}-to`, text: t("adm.to") }), to),
    el("button", { type: "button", class: "link", "data-testid": "qh-remove", text: t("outbox.remove"),
      "aria-label": t("adm.removeWindow"), onclick: () => row.remove() }));
  return row;
}

function holidayRow(h) {
  const id = rowId();
  const row = el("li", { class: "admin-window", "data-testid": "holiday" },
    el("label", { for: `${id}-name`, text: t("adm.name") }), el("input", { id: `${id}-name`, "data-testid": "holiday-name", value: h.name || "", maxlength: "100" }),
    el("label", { for: `${id}-from`, text: t("adm.from") }), el("input", { id: `${id}-from`, type: "date", "data-testid": "holiday-from", value: h.from || "" }),
    el("label", { for: `${id}-to`, text: t("adm.to") }), el("input", { id: `${id}-to`, type: "date", "data-testid": "holiday-to", value: h.to || "" }),
    el("button", { type: "button", class: "link", text: t("outbox.remove"), "aria-label": t("adm.removeHoliday"), onclick: () => row.remove() }));
  return row;
}

/** The policy screen for the school's policy doc (`p`); `on.savePolicy()` saves it. */
export function policyScreen(p, on) {
  const quiet = p.quietHours || {};
  const roles = ROLES.map(([role, key]) => {
    const label = t(key);
    const list = el("ul", { id: `qh-${role}`, class: "admin-windows", "data-testid": `qh-list-${role}` },
      ...(quiet[role] || []).map((w) => windowRow(role, w)));
    return el("fieldset", { class: "admin-group", "data-testid": `qh-${role}` },
      el("legend", { text: t("adm.whenSend", { who: label }) }),
      check(`qh-on-${role}`, t("adm.limit", { who: label.toLowerCase() }), Boolean(quiet[role])),
      list,
      el("button", { type: "button", "data-testid": `qh-add-${role}`, text: t("adm.addWindow"),
        onclick: () => { $(`qh-on-${role}`).checked = true; list.append(windowRow(role, { days: ["mon", "tue", "wed", "thu", "fri"] })); } }));
  });
  const holidays = el("ul", { id: "qh-holidays", class: "admin-windows" }, ...(p.holidays || []).map(holidayRow));
  return el("form", { class: "admin-form", "data-testid": "policy-form", onsubmit: (ev) => { ev.preventDefault(); on.savePolicy(); } },
    el("fieldset", { class: "admin-group" }, el("legend", { text: t("adm.whoMessage") }),
      select("pol-direct", t("adm.direct"), p.studentDirect, [["any", t("adm.anyone")], ["classmates", t("adm.classmates")],
        ["staff_only", t("adm.staffOnly")], ["none", t("adm.noOne")]]),
      select("pol-groups", t("adm.groups"), p.studentGroups, [["allowed", t("adm.groupsAllowed")],
        ["supervised", t("adm.groupsSupervised")], ["staff_only", t("adm.groupsStaff")]]),
      check("pol-admins", t("adm.mayAdmins"), p.studentsMayMessageAdmins),
      check("pol-notice", t("adm.reviewNotice"), p.reviewNotice)),
    el("fieldset", { class: "admin-group" }, el("legend", { text: t("adm.quiet") }),
      input("pol-tz", t("adm.tz"), p.timeZone, { maxlength: "64", autocomplete: "off" }),
      ...roles,
      el("fieldset", { class: "admin-group" }, el("legend", { text: t("adm.holidays") }), holidays,
        el("button", { type: "button", "data-testid": "holiday-add", text: t("adm.addHoliday"), onclick: () => holidays.append(holidayRow({})) }))),
    el("button", { type: "submit", class: "primary", "data-testid": "policy-save", text: t("adm.savePolicy") }));
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
    if (!windows.length) return { error: t("adm.needWindow", { who: t(ROLES.find(([r]) => r === role)[1]).toLowerCase() }) };
    body.quietHours[role] = windows;
  }
  for (const row of $("qh-holidays").querySelectorAll("li")) {
    const [name, from, to] = row.querySelectorAll("input");
    if (!from.value || !to.value) return { error: t("adm.holidayDays") };
    body.holidays.push(name.value.trim() ? { from: from.value, to: to.value, name: name.value.trim() } : { from: from.value, to: to.value });
  }
  return { body };
}

// ------------------------------------------------------------------ retention
const TYPES = [["direct", "adm.direct"], ["group", "adm.groups"], ["class", "adm.classes"], ["announcement", "adm.announcements"]];

/** The retention screen for `r` ({messages: {retentionDays, byType}, uploads, caseRetentionDays}). */
export function retentionScreen(r, on) {
  return el("form", { class: "admin-form", "data-testid": "retention-form", onsubmit: (ev) => { ev.preventDefault(); on.saveRetention(); } },
    el("fieldset", { class: "admin-group" }, el("legend", { text: t("adm.messages") }),
      input("ret-messages", t("adm.keepMessages"), r.messages.retentionDays,
        { inputmode: "numeric", "aria-describedby": "ret-hint" }),
      ...TYPES.map(([ty, key]) => input(`ret-${ty}`, t("adm.typeDays", { type: t(key) }), r.messages.byType[ty], { inputmode: "numeric" })),
      el("p", { id: "ret-hint", class: "hint", text: t("adm.retHint") })),
    input("ret-uploads", t("adm.keepUploads"), r.uploads.retentionDays, { inputmode: "numeric" }),
    input("ret-cases", t("adm.keepCases"), r.caseRetentionDays, { inputmode: "numeric" }),
    el("button", { type: "submit", class: "primary", "data-testid": "retention-save", text: t("adm.saveRetention") }));
}

/** The retention form as a PUT body, or {error}. */
export function readRetentionForm() {
  const messages = daysValue($("ret-messages").value, { required: true });
  const uploads = daysValue($("ret-uploads").value, { min: 1, required: true });
  const cases = daysValue($("ret-cases").value, { required: true });
  const byType = {};
  for (const [ty] of TYPES) {
    const v = daysValue($(`ret-${ty}`).value);
    if (v.error) return { error: v.error };
    byType[ty] = v.value;
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
    el("td", { text: h.kind === "user" ? t("adm.person") : t("adm.conversation") }), el("td", { class: "admin-id", text: h.targetId }),
    el("td", { text: h.reason }), el("td", { text: `${h.setBy || ""} ${h.setAt ? clock(h.setAt) : ""}`.trim() }),
    el("td", {}, el("button", { type: "button", "data-testid": "hold-release", text: t("adm.release"),
      "aria-label": t("adm.releaseLabel", { id: h.targetId }), onclick: () => on.releaseHold(h.kind, h.targetId) }),
    h.kind === "conversation" ? el("button", { type: "button", class: "link", text: t("adm.read"), "aria-label": t("adm.readLabel", { id: h.targetId }),
      onclick: () => on.askOversight(h.targetId) }) : null)));
  return el("div", {},
    el("p", { class: "hint", text: t("adm.holdHint") }),
    holds.length ? el("table", { class: "admin-table", "data-testid": "holds-table" },
      el("caption", { class: "sr-only", text: t("adm.holdsCaption") }),
      el("thead", {}, el("tr", {}, ...["adm.kind", "adm.id", "adm.reason", "adm.setBy", ""].map((h) => el("th", { scope: "col", text: h ? t(h) : "" })))),
      el("tbody", {}, ...rows)) : el("p", { "data-testid": "holds-empty", text: t("adm.noHolds") }),
    el("form", { class: "admin-form admin-inline", "data-testid": "hold-form", onsubmit: (ev) => { ev.preventDefault(); on.placeHold(); } },
      el("h4", { text: t("adm.placeHold") }),
      select("hold-kind", t("adm.on"), "user", [["user", t("adm.holdUser")], ["conversation", t("adm.holdConv")]]),
      input("hold-target", t("adm.id"), "", { required: true, maxlength: "128", autocomplete: "off", "data-keep": true }),
      input("hold-reason", t("adm.reason"), "", { required: true, maxlength: "500", "data-keep": true }),
      el("button", { type: "submit", class: "primary", "data-testid": "hold-place", text: t("adm.placeTheHold") })));
}

/** The hold form's values. */
export function readHoldForm() {
  return { kind: $("hold-kind").value, targetId: $("hold-target").value.trim(), reason: $("hold-reason").value.trim() };
}
