// Finding links in message text: pure, so node can test it. Only http(s) URLs become links;
// "javascript:", "data:" and the like stay plain text.
const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/** Split text into [{text}] and [{text, href}] parts, in order; the parts' texts join back to the input. */
export function splitLinks(text) {
  const parts = [];
  let last = 0;
  for (const match of String(text || "").matchAll(URL_RE)) {
    let url = match[0];
    // a sentence's closing punctuation is not part of the link
    const tail = url.match(TRAILING);
    if (tail) url = url.slice(0, url.length - tail[0].length);
    if (!isHttpUrl(url)) continue;
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: url, href: url });
    last = match.index + url.length;
  }
  if (last < String(text || "").length) parts.push({ text: String(text).slice(last) });
  return parts;
}

/** Whether a string parses as an absolute http: or https: URL. */
export function isHttpUrl(value) {
  try {
    const u = new URL(value);
    return (u.protocol === "http:" || u.protocol === "https:") && Boolean(u.host);
  } catch (_) {
    return false;
  }
}
