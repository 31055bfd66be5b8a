// The admin area's frame (the header button, the tabs, the screen of the tab on screen with its
// status line) and the quiet-hours note that stands in for the composer while I may not send.
// A screen is built again only when its own data changes or its tab opens, so what an admin is
// typing survives everything else.
import { el } from "../dom.js";
import { quietText, tabLabel } from "../state/admin.js";
import { holdsScreen, policyScreen, retentionScreen } from "./adminforms.js";
import { auditScreen, exportsScreen, oversightScreen, rosterScreen } from "./adminrecords.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

// which part of the slice each screen is built from
const SOURCES = { policy: ["policy"], retention: ["retention"], holds: ["holds"], audit: ["audit"], exports: ["exports"],
  oversight: ["grants", "oversight"], roster: ["roster", "firstRun"] };

function screen(slice, on, now) {
  switch (slice.tab) {
    case "policy": return slice.policy ? policyScreen(slice.policy, on) : loading();
    case "retention": return slice.retention ? retentionScreen(slice.retention, on) : loading();
    case "holds": return slice.holds ? holdsScreen(slice.holds, on) : loading();
    case "audit": return auditScreen(slice.audit, on);
    case "exports": return exportsScreen(slice.exports, on);
    case "oversight": return oversightScreen(slice, on, now);
    default: return rosterScreen(slice, on);
  }
}

function loading() {
  return el("p", { class: "hint", text: t("common.loading") });
}

/** The admin area from the admin slice; `tabs`: the tabs offered (none: no area at all; a
 * safeguarding lead who is not an admin gets oversight alone, and the button names it). */
export function renderAdmin(slice, prev, on, now, tabs) {
  const btn = $("admin-open");
  btn.hidden = !tabs.length;
  const label = tabs.length === 1 ? tabLabel(tabs[0]) : t("role.admin");
  if (btn.textContent !== label) btn.textContent = label;
  btn.setAttribute("aria-expanded", String(slice.shown));
  $("admin").hidden = !slice.shown;
  $("app").classList.toggle("in-admin", slice.shown);
  if (slice.shown) $("chat").hidden = true;
  else if (prev && prev.shown && $("moderation").hidden) $("chat").hidden = false;
  if (!slice.shown) return;
  const fresh = !prev || !prev.shown || prev.tab !== slice.tab;
  if (fresh) {
    $("admin-tabs").replaceChildren(...tabs.map((t) => el("button", {
      type: "button", role: "tab", id: `admin-tab-${t}`, "data-testid": `admin-tab-${t}`, "aria-controls": "admin-panel",
      "aria-selected": String(t === slice.tab), tabindex: t === slice.tab ? "0" : "-1", text: tabLabel(t),
      onclick: () => on.tab(t) })));
    $("admin-panel").setAttribute("aria-labelledby", `admin-tab-${slice.tab}`);
  }
  if (fresh || SOURCES[slice.tab].some((k) => prev[k] !== slice[k])) {
    const note = el("p", { id: "admin-note", class: "admin-note", role: "status", "data-testid": "admin-note" });
    const kept = fresh ? null : typed($("admin-panel"));
    $("admin-panel").replaceChildren(el("h3", { text: tabLabel(slice.tab) }), note, screen(slice, on, now));
    if (kept) retype(kept);
  }
  const n = slice.notes[slice.tab] || { text: "", error: false };
  const note = $("admin-note");
  if (note && (note.textContent !== n.text || note.classList.contains("error") !== n.error)) {
    note.textContent = n.text;
    note.classList.toggle("error", n.error);
  }
}

// What is being typed in a screen's entry fields (those marked data-keep) and where the focus is,
// so that a screen built again (a poll's answer, a list arriving) keeps them.
function typed(panel) {
  const values = {};
  for (const box of panel.querySelectorAll("[data-keep]")) values[box.id] = box.value;
  const active = document.activeElement;
  return { values, focus: active && panel.contains(active) && active.id ? active.id : null };
}

function retype(kept) {
  for (const [id, value] of Object.entries(kept.values)) {
    const box = $(id);
    if (box && box.value !== value) box.value = value;
  }
  if (kept.focus && $(kept.focus)) $(kept.focus).focus();
}

/**
 * The quiet-hours note: while `sending` says I may not send, "Chat opens at 07:30" instead of the
 * composer in an open conversation (the header view decides the composer otherwise).
 */
export function renderQuiet(state, now) {
  const text = quietText(state.admin.sending, now);
  const conv = state.conversations.byId[state.conversations.active];
  const on = Boolean(text && conv);
  const note = $("quiet-note");
  if (on) {
    $("composer").hidden = true;
    $("readonly-note").hidden = true;
  }
  note.hidden = !on;
  if (on && note.textContent !== text) note.textContent = text;
}
