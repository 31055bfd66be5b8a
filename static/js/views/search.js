// Message search, right under the search box: results for the list filter's text (2+
// characters), each opening its conversation at the message. The answer goes into state (the
// conversation list also keeps the conversations the hits are in).
import { el } from "../dom.js";
import { convTitle } from "../state/conversations.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

/** Ask the server for messages matching the current filter text; `dispatch` gets the answer. */
export async function searchMessages(api, getState, dispatch) {
  const q = getState().conversations.filter.q;
  if (q.length < 2) { dispatch({ type: "search/results", q: "", hits: [] }); return; }
  const page = await api.get(`/api/search?q=${encodeURIComponent(q)}&limit=20`).catch(() => ({ data: [] }));
  if (q !== getState().conversations.filter.q) return;  // an answer to an older query
  dispatch({ type: "search/results", q, hits: page.data });
}

/** The hits of the current query; `openAt(conversationId, seq)` opens one. */
export function renderSearch(state, openAt) {
  const { q, list } = state.conversations.hits;
  const box = $("search-results");
  const current = q && q === state.conversations.filter.q;
  box.hidden = !current || list.length === 0;
  if (box.hidden) { $("search-list").replaceChildren(); return; }
  $("search-list").replaceChildren(...list.map((m) => {
    const conv = state.conversations.byId[m.conversationId];
    const title = conv ? convTitle(conv, state.me.id) : t("adm.conversation");
    return el("li", {}, el("button", { type: "button", class: "search-hit", "data-testid": "search-hit",
      dataset: { conversationId: m.conversationId, seq: String(m.seq) }, onclick: () => openAt(m.conversationId, m.seq) },
    el("strong", { text: `${title} \u00b7 ${m.senderName}: ` }), marked(m.text || "", q)));
  }));
}

// The text with each occurrence of the query in <mark> (text nodes only, never HTML).
function marked(text, q) {
  const span = el("span", {});
  const lower = text.toLowerCase(), needle = q.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(needle); i !== -1 && needle; i = lower.indexOf(needle, at)) {
    span.append(text.slice(at, i), el("mark", { text: text.slice(i, i + needle.length) }));
    at = i + needle.length;
  }
  span.append(text.slice(at));
  return span;
}
