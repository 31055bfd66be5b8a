// "Send later": a control next to the composer's Send that schedules what the box holds
// (POST .../messages with sendAt), and lists my scheduled messages of the open conversation
// (GET /api/scheduled) with Cancel, and why one was not sent. Built here, not in index.html.
import { el } from "../dom.js";
import { localValue, notifyError, scheduledText, sendAtFromLocal } from "../notify.js";
import { t } from "../i18n.js";

const HOUR_MS = 3600_000;

export class SendLater {
  /**
   * @param {object} deps {api(): Api, conversationId(): string|null, input: HTMLTextAreaElement,
   *   now(): number, scheduled(item)}
   */
  constructor(deps) {
    this.deps = deps;
    this.opener = null;
    this.button = el("button", { type: "button", class: "send-later", "data-testid": "send-later", title: t("later.title"),
      "aria-label": t("later.title"), "aria-haspopup": "dialog", text: "\u23F0", onclick: () => this.open() });
    this.when = el("input", { type: "datetime-local", id: "send-later-at", "data-testid": "send-later-at", required: true });
    this.error = el("p", { class: "error", role: "alert", "data-testid": "send-later-error" });
    this.list = el("ul", { class: "scheduled-list", "data-testid": "scheduled-list", "aria-label": t("later.list") });
    this.submit = el("button", { type: "button", class: "primary", "data-testid": "send-later-schedule", text: t("later.schedule"),
      onclick: () => this.schedule() });
    this.dialog = el("dialog", { id: "send-later-dialog", "data-testid": "send-later-dialog", "aria-labelledby": "send-later-heading" },
      el("form", { method: "dialog" },
        el("h2", { id: "send-later-heading", text: t("later.title") }),
        el("label", { for: "send-later-at", text: t("later.at") }), this.when, this.error,
        el("h3", { text: t("later.here") }), this.list,
        el("menu", {}, el("button", { value: "cancel", formnovalidate: true, "data-testid": "send-later-close", text: t("msg.close") }),
          this.submit)));
    this.dialog.addEventListener("close", () => {
      if (this.opener && this.opener.isConnected) this.opener.focus();
      this.opener = null;
    });
    document.body.append(this.dialog);
  }

  /** Put the control before the composer's Send button. */
  mount(composer) {
    const send = composer.querySelector("[data-testid=send]");
    send.before(this.button);
  }

  async open() {
    this.opener = document.activeElement;
    this.error.textContent = "";
    this.when.min = localValue(this.deps.now() + 60_000);
    this.when.value = localValue(this.deps.now() + HOUR_MS);
    this.dialog.showModal();
    this.when.focus();
    await this.refresh();
  }

  async refresh() {
    const cid = this.deps.conversationId();
    let items = [];
    try {
      items = (await this.deps.api().get("/api/scheduled")).data.filter((d) => d.conversationId === cid);
    } catch (err) {
      this.error.textContent = notifyError(err);
    }
    this.list.replaceChildren(...items.map((d) => el("li", { class: "scheduled " + d.status, "data-testid": "scheduled-item",
      dataset: { id: d.id, status: d.status } },
    el("span", { class: "scheduled-text", text: d.text }), " ",
    el("span", { class: "scheduled-when", "data-testid": "scheduled-when", text: scheduledText(d) }), " ",
    d.status === "sending" ? null : el("button", { type: "button", class: "link", "data-testid": "scheduled-cancel",
      text: d.status === "failed" ? t("later.dismiss") : t("dlg.cancel"), "aria-label": t("later.cancelLabel", { text: d.text }),
      onclick: () => this.cancel(d.id) }))));
    if (!items.length) this.list.append(el("li", { class: "empty", text: t("later.none") }));
  }

  async schedule() {
    const cid = this.deps.conversationId();
    const text = this.deps.input.value.trim();
    const sendAt = sendAtFromLocal(this.when.value);
    if (!text) { this.error.textContent = t("later.noText"); return; }
    if (!sendAt || !cid) { this.error.textContent = t("later.noTime"); return; }
    this.submit.disabled = true;
    try {
      const item = (await this.deps.api().post(`/api/conversations/${cid}/messages`, { text, sendAt })).data;
      this.deps.input.value = "";
      this.error.textContent = "";
      this.deps.scheduled(item);
      await this.refresh();
    } catch (err) {
      this.error.textContent = notifyError(err);
    } finally {
      this.submit.disabled = false;
    }
  }

  async cancel(id) {
    try {
      await this.deps.api().delete(`/api/scheduled/${id}`);
    } catch (err) {
      this.error.textContent = notifyError(err);
    }
    await this.refresh();
  }
}
