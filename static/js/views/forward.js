// Forwarding in the message view: the attribution above a forwarded message, the Forward action,
// and the dialog that picks the conversation to forward to (built here, not in index.html).
import { el } from "../dom.js";
import { forwardedLabel, notifyError } from "../notify.js";
import { t } from "../i18n.js";

/** The "Forwarded from …" line a forwarded message shows. */
export function forwardedEl(f) {
  return el("div", { class: "forwarded", "data-testid": "forwarded", text: forwardedLabel(f) });
}

/** The Forward button of a message's action bar. */
export function forwardButton(m, onForward) {
  return el("button", { type: "button", title: t("msg.forward"), "aria-label": t("fwd.label"), "data-testid": "forward",
    text: "\u21AA", onclick: () => onForward(m) });
}

export class ForwardDialog {
  /**
   * @param {object} deps {targets(): [{id, title}] (conversations I may post in), send(m, conversationId): Promise,
   *   sent(conversationId)}
   */
  constructor(deps) {
    this.deps = deps;
    this.message = null;
    this.opener = null;
    this.list = el("ul", { class: "forward-list", "data-testid": "forward-targets", "aria-label": t("fwd.targets") });
    this.error = el("p", { class: "error", role: "alert", "data-testid": "forward-error" });
    this.heading = el("h2", { id: "forward-heading", text: t("fwd.heading") });
    this.dialog = el("dialog", { id: "forward-dialog", "data-testid": "forward-dialog", "aria-labelledby": "forward-heading" },
      el("form", { method: "dialog" }, this.heading, this.list, this.error,
        el("menu", {}, el("button", { value: "cancel", formnovalidate: true, "data-testid": "forward-cancel", text: t("dlg.cancel") }))));
    this.dialog.addEventListener("close", () => {
      if (this.opener && this.opener.isConnected) this.opener.focus();
      this.opener = null;
    });
    document.body.append(this.dialog);
  }

  open(m) {
    this.message = m;
    this.opener = document.activeElement;
    this.error.textContent = "";
    const targets = this.deps.targets().filter((c) => c.id !== m.conversationId);
    this.list.replaceChildren(...targets.map((c) => el("li", {}, el("button", { type: "button", class: "forward-target",
      "data-testid": "forward-target", dataset: { id: c.id }, text: c.title, onclick: () => this.pick(c.id) }))));
    if (!targets.length) this.list.append(el("li", { text: t("fwd.nowhere") }));
    this.dialog.showModal();
    const first = this.list.querySelector("button");
    if (first) first.focus();
  }

  async pick(conversationId) {
    for (const b of this.list.querySelectorAll("button")) b.disabled = true;
    try {
      await this.deps.send(this.message, conversationId);
      this.dialog.close();
      this.deps.sent(conversationId);
    } catch (err) {
      this.error.textContent = notifyError(err);
      for (const b of this.list.querySelectorAll("button")) b.disabled = false;
    }
  }
}
