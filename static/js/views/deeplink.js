// A link into the chat (`/?c=<conversationId>`, as missed-message email writes them): once the
// signed-in user's conversation list holds that conversation, it is opened, once, and the query
// leaves the address bar (a reload then shows the chat as usual). An id the user is not in is
// simply not opened.
export function openLinkedConversation(store, open) {
  const params = new URLSearchParams(window.location.search);
  const wanted = params.get("c");
  if (!wanted) return;
  let done = false;
  store.subscribe(() => {
    const state = store.state;
    if (done || !state || !state.conversations || !state.conversations.byId[wanted]) return;
    done = true;
    params.delete("c");
    const query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : "") + window.location.hash);
    Promise.resolve().then(() => open(wanted));  // after this render, not inside it
  });
}
