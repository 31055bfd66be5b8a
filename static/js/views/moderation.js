// The moderation page, rendered from the moderation slice: the header button with its badge of
// open cases, the queue (one button per case) and the case on screen with its reports, the
// reported message in its context (earlier versions of edited messages too), the actions and
// what was done so far. Every piece of user text goes in through textContent.
import { clock, el, relTime } from "../dom.js";
import { reasonLabel } from "../policy.js";
import { openCount, queue, statusLabel } from "../state/moderation.js";

const $ = (id) => document.getElementById(id);

const ACTION_WORDS = { keep: "kept the message", remove_message: "removed the message", mute_author: "muted the author",
  escalate: "escalated the case" };

/** The header button and badge (moderators only). */
export function renderModButton(slice) {
  const btn = $("mod-open");
  btn.hidden = !slice.allowed;
  btn.setAttribute("aria-expanded", String(slice.shown));
  const open = openCount(slice);
  $("mod-badge").hidden = open === 0;
  $("mod-badge").textContent = String(open);
  $("mod-badge-sr").textContent = open ? `, ${open} open case${open === 1 ? "" : "s"}` : ", no open cases";
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
  el("span", { class: "mod-case-who", text: `${c.subjectName}${c.kind === "user" ? " (the person)" : ""}` }),
  el("span", { class: "mod-case-status " + c.status, text: statusLabel(c.status) }),
  el("span", { class: "mod-case-why", text: c.reasons.map(reasonLabel).join(", ") }),
  el("span", { class: "mod-case-when", text: `${c.reportCount} report${c.reportCount === 1 ? "" : "s"} \u00b7 ${relTime(c.updatedAt, now)}`
    + (c.escalatedAt ? " \u00b7 escalated" : "") })))));
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
    $("mod-detail-heading").textContent = slice.selected ? "Loading the case\u2026" : "Pick a case";
    body.replaceChildren(slice.error ? el("p", { class: "error", role: "alert", "data-testid": "mod-error", text: slice.error }) : "");
    return;
  }
  // what a moderator typed survives a rebuild (a push about this case)
  const note = $("mod-note") ? $("mod-note").value : "";
  const hours = $("mod-hours") ? $("mod-hours").value : "24";
  const held = $("mod-status");
  const picked = held && held.dataset.caseId === d.case.id && held.dataset.was === d.case.status ? held.value : null;
  const c = d.case;
  $("mod-detail-heading").textContent = c.kind === "message" ? `A message by ${c.subjectName}` : `${c.subjectName} (the person)`;
  const facts = el("p", { class: "case-facts", "data-testid": "mod-facts" },
    el("span", { "data-testid": "mod-status-now", dataset: { status: c.status }, text: statusLabel(c.status) }),
    ` \u00b7 ${c.reportCount} report${c.reportCount === 1 ? "" : "s"} \u00b7 ${c.reasons.map(reasonLabel).join(", ")}`
    + (c.escalatedAt ? ` \u00b7 escalated ${clock(c.escalatedAt)}` : ""));
  const reports = el("ul", { class: "mod-reports", "data-testid": "mod-reports" }, ...d.reports.map((r) => el("li", {},
    el("strong", { text: r.reporterName }), ` \u2013 ${reasonLabel(r.reason)} \u00b7 ${clock(r.createdAt)}`,
    r.note ? el("div", { class: "mod-report-note", text: r.note }) : null)));
  const parts = [facts, el("h4", { text: "Reports" }), reports];
  if (c.kind === "message") {
    parts.push(el("h4", { text: "The message and what was said around it" }));
    if (d.context.length) parts.push(contextEl(d));
    else parts.push(el("p", { class: "hint", text: "The message is no longer stored." }));
  }
  parts.push(actionsEl(c, on, slice.busy, note, hours, picked));
  parts.push(el("p", { class: "error", role: "alert", "data-testid": "mod-error", text: slice.error || "" }));
  if (d.actions.length) {
    parts.push(el("h4", { text: "What was done" }), el("ul", { class: "mod-history", "data-testid": "mod-history" },
      ...d.actions.map((a) => el("li", {}, `${a.actorName} `
        + [a.action ? ACTION_WORDS[a.action] + (a.action === "mute_author" && a.hours ? ` for ${a.hours} h` : "") : "",
          a.status ? `set it to ${statusLabel(a.status)}` : ""].filter(Boolean).join(" and ")
        + ` \u00b7 ${clock(a.at)}`, a.note ? el("div", { class: "mod-report-note", text: a.note }) : null))));
  }
  body.replaceChildren(...parts);
}

// The reported message among the ~10 either side, each as a moderator reads it (removed ones keep their text).
function contextEl(d) {
  const reportedId = d.message ? d.message.id : null;
  return el("ol", { class: "mod-context", "data-testid": "mod-context", "aria-label": "Messages around the reported one" },
    ...d.context.map((m) => {
      const reported = m.id === reportedId;
      const li = el("li", { class: "mod-msg" + (reported ? " reported" : "") + (m.deleted ? " removed" : ""),
        "data-testid": "mod-context-message", dataset: { id: m.id, reported: reported ? "1" : "0", deleted: m.deleted ? "1" : "0" } },
      reported ? el("span", { class: "mod-flag", text: "Reported message: " }) : null,
      el("strong", { text: m.type === "system" ? "" : `${m.senderName}: ` }),
      el("span", { class: "mod-text", text: m.text || ((m.attachments || [])[0] || {}).name || "" }),
      el("span", { class: "mod-meta", text: ` ${clock(m.createdAt)}${m.editedAt ? " \u00b7 edited" : ""}${m.deleted ? " \u00b7 removed" : ""}` }));
      if ((m.edits || []).length) {
        li.append(el("details", {}, el("summary", { text: "Earlier versions" }),
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
    el("h4", { id: "mod-act-heading", text: "Act on it" }),
    el("label", { for: "mod-note", text: "Note for the record (optional)" }), noteBox);
  const row = el("div", { class: "mod-buttons" },
    el("button", { type: "button", "data-testid": "mod-keep", disabled: dis, onclick: () => on.act("keep", { status: "resolved" }),
      text: "Keep it and close the case" }));
  if (c.kind === "message") {
    row.append(el("button", { type: "button", "data-testid": "mod-remove", disabled: dis, onclick: () => on.act("remove_message"),
      text: "Remove the message" }));
  }
  row.append(el("button", { type: "button", "data-testid": "mod-escalate", disabled: dis || (c.escalatedAt ? true : null),
    onclick: () => on.act("escalate"), text: c.escalatedAt ? "Escalated" : "Escalate" }));
  box.append(row);
  if (c.kind === "message") {
    const hoursBox = el("input", { id: "mod-hours", type: "number", min: "1", max: "720", "data-testid": "mod-hours" });
    hoursBox.value = hours;
    box.append(el("div", { class: "mod-mute" },
      el("label", { for: "mod-hours", text: "Mute the author here for (hours)" }), hoursBox,
      el("button", { type: "button", "data-testid": "mod-mute", disabled: dis,
        onclick: () => on.act("mute_author", { hours: Number($("mod-hours").value) || 24 }), text: "Mute" })));
  }
  // a status picked and not yet set survives a rebuild (unless the case's status moved meanwhile)
  const select = el("select", { id: "mod-status", "data-testid": "mod-status", dataset: { caseId: c.id, was: c.status } },
    ...["open", "in_review", "resolved"].map((s) => el("option", { value: s, text: statusLabel(s), selected: s === c.status ? true : null })));
  if (picked) select.value = picked;
  box.append(el("div", { class: "mod-status-row" }, el("label", { for: "mod-status", text: "Status" }), select,
    el("button", { type: "button", "data-testid": "mod-set-status", disabled: dis, onclick: () => on.setStatus(select.value),
      text: "Set status" })));
  return box;
}

/** What the note box holds (sent with an action, then cleared). */
export function takeNote() {
  const box = $("mod-note");
  const text = box ? box.value.trim() : "";
  if (box) box.value = "";
  return text;
}
