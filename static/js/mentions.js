// @mentions in the composer and in messages. Pure, so node can test it.

const QUERY_RE = /(^|[\s(])@([^\s@]{0,40})$/u;

/** The "@query" being typed just before the caret: {start (index of "@"), query}, or null. */
export function mentionQuery(text, caret) {
  const match = QUERY_RE.exec(text.slice(0, caret));
  if (!match) return null;
  return { start: caret - match[2].length - 1, query: match[2] };
}

/** Participants (not me) whose name or id starts with the query, a word of the name first. */
export function matchPeople(participants, query, meId, limit = 8) {
  const q = query.toLowerCase();
  const scored = [];
  for (const p of participants) {
    if (p.userId === meId) continue;
    const name = String(p.name || p.userId).toLowerCase();
    const words = name.split(/\s+/);
    let score = null;
    if (name.startsWith(q)) score = 0;
    else if (words.some((w) => w.startsWith(q))) score = 1;
    else if (p.userId.toLowerCase().startsWith(q)) score = 2;
    if (score !== null) scored.push([score, name, p]);
  }
  scored.sort((a, b) => a[0] - b[0] || a[1].localeCompare(b[1]));
  return scored.slice(0, limit).map((x) => x[2]);
}

/** The text with "@query" (from `start` to `caret`) replaced by "@Name "; the new text and caret. */
export function insertMention(text, start, caret, name) {
  const inserted = `@${name} `;
  const rest = text.slice(caret).replace(/^ /, "");
  return { text: text.slice(0, start) + inserted + rest, caret: start + inserted.length };
}

/** The ids of the picked people whose "@Name" is still in the text (a deleted mention is dropped). */
export function mentionsInText(text, picked) {
  const ids = [];
  for (const [userId, name] of picked) if (text.includes(`@${name}`) && !ids.includes(userId)) ids.push(userId);
  return ids;
}

/** Split text into [{text}] and [{text, userId}] parts at "@Name" of the mentioned people
 * (longest names first, so "@Ann Lee" wins over "@Ann"); the parts' texts join back to the input. */
export function splitMentions(text, people) {
  const names = people.filter((p) => p.name).sort((a, b) => b.name.length - a.name.length);
  const parts = [];
  let plain = "";
  let i = 0;
  while (i < text.length) {
    const hit = text[i] === "@" ? names.find((p) => text.startsWith(`@${p.name}`, i)) : null;
    if (hit) {
      if (plain) parts.push({ text: plain });
      plain = "";
      parts.push({ text: `@${hit.name}`, userId: hit.userId });
      i += hit.name.length + 1;
    } else {
      plain += text[i];
      i += 1;
    }
  }
  if (plain) parts.push({ text: plain });
  return parts;
}
