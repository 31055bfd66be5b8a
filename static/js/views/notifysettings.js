// The "Email settings" panel: whether missed-message email reaches me, and (staff whose school
// allows it) whether it quotes the messages. Built here in full (its button joins the sidebar's
// links, its dialog the page), so the page's markup does not change; each change is one PATCH of
// /api/me/notifications, and a refused one is put back with the reason in plain words.
import { el } from "../dom.js";
import { t } from "../i18n.js";

function settingsError(err) {
  if (err.code === "forbidden") return t("email.noPreviews");
  if (err.status === undefined) return t("email.offline");
  return t("email.notSaved");
}

export class NotifySettings {
  /** @param {object} deps {api(): the signed-in Api, or null before sign-in} */
  constructor(deps) {
    this.deps = deps;
    this.prefs = null;
  }

  mount() {
    const status = el("p", { id: "email-status", class: "email-status", "data-testid": "email-status", role: "status" });
    this.enabled = el("input", { type: "checkbox", id: "email-enabled", "data-testid": "email-enabled",
      onchange: () => this.save({ enabled: this.enabled.checked }, this.enabled) });
    this.previews = el("input", { type: "checkbox", id: "email-previews", "data-testid": "email-previews",
      onchange: () => this.save({ previews: this.previews.checked }, this.previews) });
    this.previewsRow = el("label", { class: "reason", hidden: true }, this.previews,
      ` ${t("email.previews")}`);
    this.status = status;
    this.dialog = el("dialog", { id: "email-dialog", "data-testid": "email-dialog", "aria-labelledby": "email-heading" },
      el("form", { method: "dialog" },
        el("h2", { id: "email-heading", text: t("email.heading") }),
        el("p", { text: t("email.explain") }),
        el("label", { class: "reason" }, this.enabled, ` ${t("email.enabled")}`),
        this.previewsRow, status,
        el("menu", {}, el("button", { value: "close", "data-testid": "email-close" }, t("msg.close")))));
    this.opener = el("button", { id: "email-open", type: "button", class: "link", "data-testid": "email-open",
      "aria-haspopup": "dialog", onclick: () => this.open() }, t("email.open"));
    document.querySelector(".me-links").append(this.opener);
    document.body.append(this.dialog);
    this.dialog.addEventListener("close", () => this.opener.focus());
  }

  render() {
    const email = this.prefs.email;
    this.enabled.checked = email.enabled && email.available && email.addressKnown;
    this.enabled.disabled = !email.available || !email.addressKnown;
    this.previews.checked = email.previews;
    this.previewsRow.hidden = !email.previewsAllowed;
    this.status.textContent = !email.available ? t("email.unavailable")
      : !email.addressKnown ? t("email.noAddress")
      : email.enabled ? t("email.on") : t("email.off");
  }

  async open() {
    const api = this.deps.api();
    if (!api) return;
    this.status.textContent = t("common.loading");
    this.dialog.showModal();
    try {
      this.prefs = (await api.get("/api/me/notifications")).data;
      this.render();
      this.enabled.focus();
    } catch (err) {
      this.status.textContent = t("email.loadFailed");
    }
  }

  async save(change, box) {
    box.disabled = true;
    try {
      this.prefs = (await this.deps.api().patch("/api/me/notifications", { email: change })).data;
      this.render();
    } catch (err) {
      box.checked = !box.checked;
      this.status.textContent = settingsError(err);
    } finally {
      box.disabled = box === this.enabled ? !this.prefs.email.available || !this.prefs.email.addressKnown : false;
    }
  }
}
