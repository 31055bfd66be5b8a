// Pure helpers of scheduled messages and forwarding (README "Scheduled messages", "Forwarding"):
// the attribution line of a forwarded message, the time a "Send later" picker means, and the
// plain words for a scheduled message's state.
import { currentLanguage, t } from "./i18n.js";

/** "Forwarded from Maths 7A, Alan Turing, 2 Dec" (a direct conversation has no title: none is named). */
export function forwardedLabel(f, locale) {
  if (!f) return "";
  const parts = [];
  if (f.conversationTitle) parts.push(f.conversationTitle);
  if (f.authorName) parts.push(f.authorName);
  if (f.at) parts.push(new Date(f.at).toLocaleDateString(locale || currentLanguage(), { day: "numeric", month: "short" }));
  return parts.length ? t("fwd.from", { from: parts.join(", ") }) : t("fwd.forwarded");
}

/** A `datetime-local` value ("2026-12-03T08:00", the reader's local time) as ISO 8601 UTC, or null. */
export function sendAtFromLocal(value) {
  if (!value) return null;
  const when = new Date(value);
  return Number.isNaN(when.getTime()) ? null : when.toISOString();
}

/** The `datetime-local` value of a time `ms` (epoch) in the reader's local time, to the minute. */
export function localValue(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** What the page says of one scheduled message of mine. */
export function scheduledText(item, locale) {
  const when = new Date(item.sendAt).toLocaleString(locale || currentLanguage(), { weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit" });
  if (item.status === "failed") {
    const code = item.error && item.error.code;
    const why = code === "quiet_hours" ? t("sched.whyQuiet")
      : code === "content_blocked" ? t("sched.whyBlocked")
        : code === "muted" ? t("sched.whyMuted")
          : code === "policy_forbidden" || code === "forbidden" ? t("sched.whyPolicy")
            : t("sched.whyOther");
    return t("sched.failed", { when, why });
  }
  if (item.status === "sending") return t("sched.sending");
  return t("sched.will", { when });
}

/** Plain words for a refused forward or schedule. */
export function notifyError(err) {
  if (!err) return "";
  if (err.code === "message_gone") return t("fwd.gone");
  if (err.code === "content_blocked") return t("refuse.blocked");
  if (err.code === "quiet_hours") return t("refuse.quiet");
  if (err.code === "policy_forbidden") return t("refuse.policyThere");
  if (err.code === "forbidden") return t("refuse.forbiddenThere");
  if (err.code === "conflict") return err.message || t("refuse.conflict");
  if (err.code === "bad_request") return err.message || t("later.noTime");
  return t("refuse.other");
}
