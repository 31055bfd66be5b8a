// How the open conversation's messages are laid out: a separator at each new day, and runs of
// one sender's messages grouped (only the first shows the name and avatar). Pure: the reader's
// time zone is the local one of the Date functions, and "now" comes in as an argument.
import { currentLanguage, t } from "./i18n.js";

const GROUP_GAP_MS = 5 * 60 * 1000;  // a pause longer than this starts a new run

/** The local calendar day of an ISO time, as "YYYY-MM-DD". */
export function dayKey(iso) {
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

/** "Today", "Yesterday", a weekday within the week, or the date (with the year when not this year). */
export function dayLabel(iso, now) {
  const d = new Date(iso), today = new Date(now);
  const midnight = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((midnight(today) - midnight(d)) / 86400000);
  if (days === 0 || days === 1) return t(days === 0 ? "day.today" : "day.yesterday");
  if (days > 1 && days < 7) return d.toLocaleDateString(currentLanguage(), { weekday: "long" });
  const opts = { day: "numeric", month: "long" };
  if (d.getFullYear() !== today.getFullYear()) opts.year = "numeric";
  return d.toLocaleDateString(currentLanguage(), opts);
}

/**
 * Messages (in seq order) to rows: {kind: "day", key, label} before the first message of each
 * day, and {kind: "message", m, cont} where `cont` marks a message continuing its sender's run
 * (same sender, same day, within five minutes, neither a system message). A gap tombstone (a
 * seq handed out and never stored, PROTOCOL §5) holds its seq in the state but is not a row.
 */
export function layoutMessages(messages, now) {
  const rows = [];
  let prev = null;
  for (const m of messages) {
    if (m.type === "system" && m.meta && m.meta.event === "gap") continue;
    const day = dayKey(m.createdAt);
    if (!prev || dayKey(prev.createdAt) !== day) {
      rows.push({ kind: "day", key: `d${day}`, label: dayLabel(m.createdAt, now) });
      prev = null;
    }
    const cont = Boolean(prev) && prev.senderId === m.senderId && prev.type !== "system" && m.type !== "system"
      && Date.parse(m.createdAt) - Date.parse(prev.createdAt) <= GROUP_GAP_MS;
    rows.push({ kind: "message", m, cont });
    prev = m;
  }
  return rows;
}

/** "Seen by N of M" counts for one of my messages: the others whose read marker reached it. */
export function seenBy(conv, m, meId) {
  const rest = (conv.participants || []).filter((p) => p.userId !== meId);
  return { seen: rest.filter((p) => (p.lastReadSeq || 0) >= m.seq).length, of: rest.length };
}
