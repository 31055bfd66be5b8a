// The Report dialog: what is wrong (one of the reasons, in plain words) and an optional note,
// for a message or for a person. It opens blank each time; focus returns to what opened it.
import { el } from "../dom.js";
import { REPORT_REASONS, reasonLabel } from "../policy.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

/** Plain words for a refused report. */
function reportError(err) {
  if (err.code === "rate_limited") return t("report.rateLimited");
  if (err.code === "conflict") return t("report.conflict");
  if (err.code === "not_found") return t("report.gone");
  if (err.code === "disconnected" || err.status === undefined) return t("report.offline");
  return t("report.failed");
}

export class ReportDialog {
  /**
   * @param {object} deps {send(target, reason, note): Promise (target: {messageId} or {userId})}
   */
  constructor(deps) {
    this.deps = deps;
    this.dialog = $("report-dialog");
    this.target = null;
    this.opener = null;  // the control focus returns to
    this.openerKey = null;  // ...or its message, rebuilt meanwhile (it now says "Reported")
    $("report-reasons").append(...REPORT_REASONS.map(([value]) => el("label", { class: "reason" },
      el("input", { type: "radio", name: "report-reason", value, "data-testid": "report-reason" }), ` ${reasonLabel(value)}`)));
    $("report-send").addEventListener("click", (ev) => { ev.preventDefault(); this.submit(); });
    this.dialog.addEventListener("close", () => {
      const again = this.openerKey && document.querySelector(`#message-list [data-key="${CSS.escape(this.openerKey)}"]`);
      if (this.opener && this.opener.isConnected) this.opener.focus();
      else if (again) again.focus();
      this.opener = null;
      this.openerKey = null;
    });
  }

  /** Open for a message ({messageId}, its sender's name) or a person ({userId}, the name). */
  open(target, name, kind) {
    this.target = target;
    this.opener = document.activeElement;
    const row = this.opener && this.opener.closest ? this.opener.closest("#message-list [data-key]") : null;
    this.openerKey = row ? row.dataset.key : null;
    $("report-heading").textContent = kind === "message" ? t("report.headingMessage", { name }) : t("people.reportLabel", { name });
    for (const r of document.querySelectorAll("input[name=report-reason]")) r.checked = false;
    $("report-note").value = "";
    $("report-error").textContent = "";
    $("report-send").disabled = false;
    this.dialog.showModal();
    document.querySelector("input[name=report-reason]").focus();
  }

  async submit() {
    const picked = document.querySelector("input[name=report-reason]:checked");
    if (!picked) {
      $("report-error").textContent = t("report.pick");
      document.querySelector("input[name=report-reason]").focus();
      return;
    }
    const note = $("report-note").value.trim().slice(0, 1000);
    $("report-send").disabled = true;
    try {
      await this.deps.send(this.target, picked.value, note);
      this.dialog.close();
    } catch (err) {
      $("report-error").textContent = reportError(err);
      $("report-send").disabled = false;
    }
  }
}
