// The message action sheet: a long-press or a tap on a message (touch screens), or ⋯ in its
// action bar, opens a modal sheet with large targets (at least 44 px): reactions (the quick three
// and more), then the message's actions. Escape, Close or a choice closes it; focus returns to the
// message.
import { el } from "../dom.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

export const MORE_REACTIONS = Object.freeze(["\u{1F44D}", "\u2764\uFE0F", "\u{1F602}", "\u{1F62E}", "\u{1F622}", "\u{1F44F}",
  "\u{1F389}", "\u{1F914}", "\u{1F64F}", "\u{1F525}", "\u2705", "\u{1F440}", "\u{1F4AF}", "\u{1F60A}", "\u{1F44B}", "\u2B50"]);

/**
 * Open the sheet for one message.
 * @param {object} spec {heading, reactions: {emoji: mine?}, react(emoji), actions: [{label, testid, run, confirm?}]}
 * @param {HTMLElement} back what gets focus when the sheet closes
 */
export function openSheet(spec, back) {
  const sheet = $("msg-sheet");
  $("sheet-heading").textContent = spec.heading;
  const done = (fn) => () => { sheet.close(); fn(); };
  $("sheet-reactions").replaceChildren(...MORE_REACTIONS.map((emoji) => el("button", { type: "button", class: "sheet-react",
    "data-testid": "sheet-react", "aria-pressed": String(Boolean(spec.reactions[emoji])), "aria-label": t("msg.react", { emoji }),
    text: emoji, onclick: done(() => spec.react(emoji)) })));
  $("sheet-actions").replaceChildren(...spec.actions.map((a) => {
    const b = el("button", { type: "button", class: "sheet-action", "data-testid": `sheet-${a.testid}`, text: a.label,
      dataset: { armed: "0" } });
    b.addEventListener("click", () => {
      // a destructive choice asks once more in place
      if (a.confirm && b.dataset.armed !== "1") { b.dataset.armed = "1"; b.textContent = a.confirm; return; }
      sheet.close();
      a.run();
    });
    return b;
  }));
  // after the browser's own focus restore: the message (or the ⋯ that opened the sheet)
  // (the ⋯ shows only while its message has focus: the message first)
  sheet.onclose = () => setTimeout(() => {
    if (!back || !back.isConnected) return;
    const li = back.closest("li[tabindex]");
    if (li && li !== back) li.focus({ preventScroll: true });
    back.focus({ preventScroll: true });
  }, 0);
  if (!sheet.open) sheet.showModal();
  const first = $("sheet-actions").querySelector("button") || $("sheet-close");
  first.focus();
}

export function wireSheet() {
  $("sheet-close").addEventListener("click", () => $("msg-sheet").close());
  // a tap on the backdrop (outside the sheet's box) closes it
  $("msg-sheet").addEventListener("click", (ev) => { if (ev.target === $("msg-sheet")) $("msg-sheet").close(); });
}
