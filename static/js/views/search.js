// Message search under the conversation list: results for the list filter's text (2+ characters),
// each opening its conversation.
import { el } from "../dom.js";
import { convTitle } from "../state/conversations.js";

const $ = (id) => document.getElementById(id);

/** Ask the server for messages matching the current filter text and list them. */
export async function searchMessages(api, getState, openConversation) {
  const q = getState().conversations.filter.q;
  const box = $("search-results");
  if (q.length < 2) { box.hidden = true; return; }
  const page = await api.get(`/api/search?q=${encodeURIComponent(q)}&limit=20`).catch(() => ({ data: [] }));
  const state = getState();
  if (q !== state.conversations.filter.q) return;  // an answer to an older query
  $("search-list").replaceChildren(...page.data.map((m) => {
    const conv = state.conversations.byId[m.conversationId];
    const title = conv ? convTitle(conv, state.me.id) : "Conversation";
    return el("li", {}, el("button", { type: "button", class: "search-hit", onclick: () => openConversation(m.conversationId) },
      el("strong", { text: `${title} · ${m.senderName}: ` }), el("span", { text: m.text || "" })));
  }));
  box.hidden = page.data.length === 0;
}
