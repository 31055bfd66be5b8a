// DOM helpers shared by the views. User text only ever reaches the page through textContent
// (or text nodes); links are built as elements, never from HTML.
import { currentLanguage, t } from "./i18n.js";

/** document.createElement with props ("class", "text", "dataset", on* listeners, attributes) and children. */
export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

/** "now", "5 min. ago", "3 hr. ago", "yesterday" or a date, relative to `now` (ms), in the page's language (Intl). */
export function relTime(iso, now) {
  if (!iso) return "";
  const at = new Date(iso), diff = (now - at) / 1000;
  // Intl in the page's language; the catalogue's words where this browser's Intl lacks it
  const lang = currentLanguage();
  const rel = Intl.RelativeTimeFormat.supportedLocalesOf([lang]).length
    ? new Intl.RelativeTimeFormat(lang, { numeric: "auto", style: "short" }) : null;
  const say = (n, unit) => (rel ? rel.format(-n, unit) : t(`rel.${unit}`, { count: n }));
  if (diff < 60) return say(0, "second");
  if (diff < 3600) return say(Math.floor(diff / 60), "minute");
  if (diff < 86400) return say(Math.floor(diff / 3600), "hour");
  if (diff < 172800) return say(1, "day");
  const dates = datesIn();
  return new Intl.DateTimeFormat(dates || "en-GB", dates ? { day: "numeric", month: "short", year: "numeric" }
    : { day: "2-digit", month: "2-digit", year: "numeric" }).format(at);
}

// The page's language when this browser's Intl has its dates and times (Debian chromium has
// none for Khmer); null: digits only (24-hour clock, day/month/year), never another language's words
function datesIn() {
  const lang = currentLanguage();
  return Intl.DateTimeFormat.supportedLocalesOf([lang]).length ? lang : null;
}

/** hh:mm in the reader's locale (24-hour digits where the browser lacks it). */
export function clock(iso) {
  if (!iso) return "";
  const lang = datesIn();
  return new Date(iso).toLocaleTimeString(lang || "en-GB", lang ? { hour: "2-digit", minute: "2-digit" }
    : { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/** Up to two initials of a name. */
export function initials(name) {
  return (name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
}

