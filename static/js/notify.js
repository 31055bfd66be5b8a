// Pure helpers of scheduled messages and forwarding (README "Scheduled messages", "Forwarding"):
// the attribution line of a forwarded message, the time a "Send later" picker means, and the
// plain words for a scheduled message's state.

/** "Forwarded from Maths 7A, Alan Turing, 2 Dec" (a direct conversation has no title: none is named). */
export function forwardedLabel(f, locale) {
  if (!f) return "";
  const parts = [];
  if (f.conversationTitle) parts.push(f.conversationTitle);
  if (f.authorName) parts.push(f.authorName);
  if (f.at) parts.push(new Date(f.at).toLocaleDateString(locale || [], { day: "numeric", month: "short" }));
  return parts.length ? `Forwarded from ${parts.join(", ")}` : "Forwarded";
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
  const when = new Date(item.sendAt).toLocaleString(locale || [], { weekday: "short", day: "numeric", month: "short",
    hour: "2-digit", minute: "2-digit" });
  if (item.status === "failed") {
    const code = item.error && item.error.code;
    const why = code === "quiet_hours" ? "it was during quiet hours"
      : code === "content_blocked" ? "it contains words your school does not allow"
        : code === "muted" ? "you were muted in this conversation"
          : code === "policy_forbidden" || code === "forbidden" ? "your school's rules didn't allow it"
            : "it could not be sent";
    return `Not sent at ${when}: ${why}.`;
  }
  if (item.status === "sending") return "Sending now\u2026";
  return `Will be sent ${when}`;
}

/** Plain words for a refused forward or schedule. */
export function notifyError(err) {
  if (!err) return "";
  if (err.code === "message_gone") return "This message was deleted, so it can't be forwarded.";
  if (err.code === "content_blocked") return "Not sent: this message contains words your school does not allow.";
  if (err.code === "quiet_hours") return "Not sent: it is quiet hours now.";
  if (err.code === "policy_forbidden") return "Not sent: your school's rules don't let you post there.";
  if (err.code === "forbidden") return "You can't post in that conversation.";
  if (err.code === "conflict") return err.message || "That can't be done now.";
  if (err.code === "bad_request") return err.message || "Check the time: it must be in the future.";
  return "That didn't work. Check your connection and try again.";
}
