// The moderation page, rendered from the moderation slice: the header button with its badge of
// open cases, the queue (one button per case) and the case on screen with its reports, the
// reported message in its context (earlier versions of edited messages too), the actions and
// what was done so far. Every piece of user text goes in through textContent.
import { clock, el, relTime } from "../dom.js";
import { reasonLabel } from "../policy.js";
import { openCount, queue, statusLabel } from "../state/moderation.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

const ACTION_KEYS = ["keep", "remove_message", "mute_author", "escalate"];

/** The header button and badge (moderators only). */
export function renderModButton(slice) {
  const btn = $("mod-open");
  btn.hidden = !slice.allowed;
  btn.setAttribute("aria-expanded", String(slice.shown));
  const open = openCount(slice);
  $("mod-badge").hidden = open === 0;
  $("mod-badge").textContent = String(open);
  $("mod-badge-sr").textContent = open ? t("mod.badgeOpen", { count: open }) : t("mod.badgeNone");
}

/** The page (shown or not), its queue and the selected case; `on`: {select(id), act(action), setStatus(status)}. */
export function renderModeration(slice, prev, on, now) {
  renderModButton(slice);
  $("moderation").hidden = !slice.shown;
  $("chat").hidden = slice.shown;
  $("app").classList.toggle("in-mod", slice.shown);
  if (!slice.shown) return;
  if ($("mod-filter").value !== slice.filter) $("mod-filter").value = slice.filter;
  if (!prev || prev.cases !== slice.cases || prev.selected !== slice.selected || prev.filter !== slice.filter || !prev.shown) {
    renderQueue(slice, on, now);
  }
  $("mod-more").hidden = !slice.hasMore;
  if (!prev || prev.detail !== slice.detail || prev.selected !== slice.selected || prev.busy !== slice.busy
    || prev.error !== slice.error || !prev.shown) renderDetail(slice, on);
}

function renderQueue(slice, on, now) {
  const list = $("mod-queue");
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  const cases = queue(slice);
  list.replaceChildren(...cases.map((c) => el("li", {}, el("button", {
    type: "button", class: "mod-case" + (c.id === slice.selected ? " selected" : ""), "data-testid": "mod-case",
    "aria-current": c.id === slice.selected ? "true" : null, dataset: { id: c.id, status: c.status },
    onclick: () => on.select(c.id) },
  el("span", { class: "mod-case-who", text: c.kind === "user" ? t("mod.person", { name: c.subjectName }) : c.subjectName }),
  el("span", { class: "mod-case-status " + c.status, text: statusLabel(c.status) }),
  el("span", { class: "mod-case-why", text: c.reasons.map(reasonLabel).join(", ") }),
  el("span", { class: "mod-case-when", text: `${t("mod.reports", { count: c.reportCount })} \u00b7 ${relTime(c.updatedAt, now)}`
    + (c.escalatedAt ? ` \u00b7 ${t("mod.escalatedShort")}` : "") })))));
  $("mod-empty").hidden = cases.length > 0;
  if (focused) {
    const again = list.querySelector(`button[data-id="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

function renderDetail(slice, on) {
  const body = $("mod-detail-body");
  const d = slice.detail;
  if (!slice.selected || !d) {
    $("mod-detail-heading").textContent = slice.selected ? t("mod.loadingCase") : t("mod.pick");
    body.replaceChildren(slice.error ? el("p", { class: "error", role: "alert", "data-testid": "mod-error", text: slice.error }) : "");
    return;
  }
  // what a moderator typed survives a rebuild (a push about this case)
  const note = $("mod-note") ? $("mod-note").value : "";
  const hours = $("mod-hours") ? $("mod-hours").value : "24";
  const held = $("mod-status");
  const picked = held && held.dataset.caseId === d.case.id && held.dataset.was === d.case.status ? held.value : null;
  const c = d.case;
  $("mod-detail-heading").textContent = c.kind === "message" ? t("mod.messageBy", { name: c.subjectName }) : t("mod.person", { name: c.subjectName });
  const facts = el("p", { class: "case-facts", "data-testid": "mod-facts" },
    el("span", { "data-testid": "mod-status-now", dataset: { status: c.status }, text: statusLabel(c.status) }),
    ` \u00b7 ${t("mod.reports", { count: c.reportCount })} \u00b7 ${c.reasons.map(reasonLabel).join(", ")}`
    + (c.escalatedAt ? ` \u00b7 ${t("mod.escalatedAt", { time: clock(c.escalatedAt) })}` : ""));
  const reports = el("ul", { class: "mod-reports", "data-testid": "mod-reports" }, ...d.reports.map((r) => el("li", {},
    el("strong", { text: r.reporterName }), ` \u2013 ${reasonLabel(r.reason)} \u00b7 ${clock(r.createdAt)}`,
    r.note ? el("div", { class: "mod-report-note", text: r.note }) : null)));
  const parts = [facts, el("h4", { text: t("mod.reportsHeading") }), reports];
  if (c.kind === "message") {
    parts.push(el("h4", { text: t("mod.contextHeading") }));
    if (d.context.length) parts.push(contextEl(d));
    else parts.push(el("p", { class: "hint", text: t("mod.gone") }));
  }
  parts.push(actionsEl(c, on, slice.busy, note, hours, picked));
  parts.push(el("p", { class: "error", role: "alert", "data-testid": "mod-error", text: slice.error || "" }));
  if (d.actions.length) {
    parts.push(el("h4", { text: t("mod.historyHeading") }), el("ul", { class: "mod-history", "data-testid": "mod-history" },
      ...d.actions.map((a) => el("li", {}, historyLine(a) + ` \u00b7 ${clock(a.at)}`, a.note ? el("div", { class: "mod-report-note", text: a.note }) : null))));
  }
  body.replaceChildren(...parts);
}

// The reported message among the ~10 either side, each as a moderator reads it (removed ones keep their text).
function contextEl(d) {
  const reportedId = d.message ? d.message.id : null;
  return el("ol", { class: "mod-context", "data-testid": "mod-context", "aria-label": t("mod.contextLabel") },
    ...d.context.map((m) => {
      const reported = m.id === reportedId;
      const li = el("li", { class: "mod-msg" + (reported ? " reported" : "") + (m.deleted ? " removed" : ""),
        "data-testid": "mod-context-message", dataset: { id: m.id, reported: reported ? "1" : "0", deleted: m.deleted ? "1" : "0" } },
      reported ? el("span", { class: "mod-flag", text: `${t("mod.reportedFlag")} ` }) : null,
      el("strong", { text: m.type === "system" ? "" : `${m.senderName}: ` }),
      el("span", { class: "mod-text", text: m.text || ((m.attachments || [])[0] || {}).name || "" }),
      el("span", { class: "mod-meta", text: " " + [clock(m.createdAt), m.editedAt ? t("mod.edited") : "", m.deleted ? t("mod.removed") : ""].filter(Boolean).join(" \u00b7 ") }));
      if ((m.edits || []).length) {
        li.append(el("details", {}, el("summary", { text: t("mod.earlier") }),
          el("ul", {}, ...m.edits.map((e) => el("li", { text: `${e.text || ""} (${clock(e.editedAt)})` })))));
      }
      return li;
    }));
}

function actionsEl(c, on, busy, note, hours, picked) {
  const dis = busy ? true : null;
  const noteBox = el("textarea", { id: "mod-note", rows: "2", maxlength: "1000", "data-testid": "mod-note" });
  noteBox.value = note;
  const box = el("div", { class: "mod-actions", role: "group", "aria-labelledby": "mod-act-heading" },
    el("h4", { id: "mod-act-heading", text: t("mod.act") }),
    el("label", { for: "mod-note", text: t("mod.note") }), noteBox);
  const row = el("div", { class: "mod-buttons" },
    el("button", { type: "button", "data-testid": "mod-keep", disabled: dis, onclick: () => on.act("keep", { status: "resolved" }),
      text: t("mod.keep") }));
  if (c.kind === "message") {
    row.append(el("button", { type: "button", "data-testid": "mod-remove", disabled: dis, onclick: () => on.act("remove_message"),
      text: t("mod.remove") }));
  }
  row.append(el("button", { type: "button", "data-testid": "mod-escalate", disabled: dis || (c.escalatedAt ? true : null),
    onclick: () => on.act("escalate"), text: c.escalatedAt ? t("mod.escalated") : t("mod.escalate") }));
  box.append(row);
  if (c.kind === "message") {
    const hoursBox = el("input", { id: "mod-hours", type: "number", min: "1", max: "720", "data-testid": "mod-hours" });
    hoursBox.value = hours;
    box.append(el("div", { class: "mod-mute" },
      el("label", { for: "mod-hours", text: t("mod.muteHours") }), hoursBox,
      el("button", { type: "button", "data-testid": "mod-mute", disabled: dis,
        onclick: () => on.act("mute_author", { hours: Number($("mod-hours").value) || 24 }), text: t("mod.mute") })));
  }
  // a status picked and not yet set survives a rebuild (unless the case's status moved meanwhile)
  const select = el("select", { id: "mod-status", "data-testid": "mod-status", dataset: { caseId: c.id, was: c.status } },
    ...["open", "in_review", "resolved"].map((s) => el("option", { value: s, text: statusLabel(s), selected: s === c.status ? true : null })));
  if (picked) select.value = picked;
  box.append(el("div", { class: "mod-status-row" }, el("label", { for: "mod-status", text: t("mod.status") }), select,
    el("button", { type: "button", "data-testid": "mod-set-status", disabled: dis, onclick: () => on.setStatus(select.value),
      text: t("mod.setStatus") })));
  return box;
}

// One line of what was done: who, the action (and for how long), the status set.
function historyLine(a) {
  const did = ACTION_KEYS.includes(a.action) ? t(`mod.did.${a.action}`) + (a.action === "mute_author" && a.hours ? ` ${t("mod.forHours", { hours: a.hours })}` : "") : "";
  const set = a.status ? t("mod.setTo", { status: statusLabel(a.status) }) : "";
  return t("mod.historyLine", { name: a.actorName, what: [did, set].filter(Boolean).join(t("mod.and")) });
}

/** What the note box holds (sent with an action, then cleared). */
export function takeNote() {
  const box = $("mod-note");
  const text = box ? box.value.trim() : "";
  if (box) box.value = "";
  return text;
}
