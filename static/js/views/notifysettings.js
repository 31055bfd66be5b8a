// The "Email settings" panel: whether missed-message email reaches me, and (staff whose school
// allows it) whether it quotes the messages. Built here in full (its button joins the sidebar's
// links, its dialog the page), so the page's markup does not change; each change is one PATCH of
// /api/me/notifications, and a refused one is put back with the reason in plain words.
import { el } from "../dom.js";

function settingsError(err) {
  if (err.code === "forbidden") return "Your school does not allow message text in email.";
  if (err.status === undefined) return "Not saved: check your connection and try again.";
  return "Not saved. Please try again.";
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
      " Quote the messages in the email (staff only)");
    this.status = status;
    this.dialog = el("dialog", { id: "email-dialog", "data-testid": "email-dialog", "aria-labelledby": "email-heading" },
      el("form", { method: "dialog" },
        el("h2", { id: "email-heading", text: "Email about unread messages" }),
        el("p", { text: "When direct messages, mentions of you or announcements stay unread for a while and you " +
          "are not signed in, one email tells you who wrote and how many. Students' emails never include the messages." }),
        el("label", { class: "reason" }, this.enabled, " Email me about unread messages"),
        this.previewsRow, status,
        el("menu", {}, el("button", { value: "close", "data-testid": "email-close" }, "Close"))));
    this.opener = el("button", { id: "email-open", type: "button", class: "link", "data-testid": "email-open",
      "aria-haspopup": "dialog", onclick: () => this.open() }, "Email settings");
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
    this.status.textContent = !email.available ? "This school's chat server sends no email."
      : !email.addressKnown ? "Your school has not given the chat an email address for you."
      : email.enabled ? "On." : "Off: you get no email about unread messages.";
  }

  async open() {
    const api = this.deps.api();
    if (!api) return;
    this.status.textContent = "Loading…";
    this.dialog.showModal();
    try {
      this.prefs = (await api.get("/api/me/notifications")).data;
      this.render();
      this.enabled.focus();
    } catch (err) {
      this.status.textContent = "Your settings could not be loaded. Please try again.";
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
