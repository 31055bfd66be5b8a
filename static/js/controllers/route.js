// Each open conversation has its own address (`#c/<id>`), so the browser's Back goes from a
// conversation to the list instead of out of the app, Forward comes back to it, and a reload or
// a shared link opens it again. The address follows the store; popstate follows the address.
const PREFIX = "#c/";

/** The conversation id an address names, or null for the list. */
export function conversationFromHash(hash) {
  if (!hash || !hash.startsWith(PREFIX)) return null;
  try {
    return decodeURIComponent(hash.slice(PREFIX.length)) || null;
  } catch (_) {
    return null;
  }
}

export function hashFor(conversationId) {
  return conversationId ? PREFIX + encodeURIComponent(conversationId) : "";
}

export class RouteController {
  /**
   * @param {object} deps {store, open(id), close()}
   */
  constructor(deps) {
    this.deps = deps;
  }

  get state() { return this.deps.store.state; }

  /** After the first conversation list: open the conversation the address names (Back then goes to the list). */
  start() {
    const id = conversationFromHash(location.hash);
    if (!id || !this.state.conversations.byId[id]) {
      if (id) history.replaceState(null, "", location.pathname + location.search);
      return;
    }
    history.replaceState(null, "", location.pathname + location.search);
    history.pushState({ conversationId: id }, "", hashFor(id));
    this.deps.open(id);
  }

  /** The store changed: the address names the open conversation (a new entry when one opens from the list). */
  changed(prev) {
    const state = this.state;
    if (!prev || !state) return;
    const before = prev.conversations.active;
    const now = state.conversations.active;
    if (before === now) return;
    const shown = conversationFromHash(location.hash);
    if (shown === now) return;
    if (now && !before) history.pushState({ conversationId: now }, "", hashFor(now));
    else if (now) history.replaceState({ conversationId: now }, "", hashFor(now));
    else history.replaceState(null, "", location.pathname + location.search);  // left or removed
  }

  /** The page's own ‹ button: the same as the browser's Back when this page put the entry there. */
  back() {
    if (history.state && history.state.conversationId) history.back();
    else this.deps.close();
  }

  wire() {
    this.deps.store.subscribe((prev) => this.changed(prev));
    window.addEventListener("popstate", () => {
      if (!this.state) return;
      const id = conversationFromHash(location.hash);
      if (id && this.state.conversations.byId[id]) {
        if (this.state.conversations.active !== id) this.deps.open(id);
      } else if (this.state.conversations.active) this.deps.close();
    });
    document.getElementById("back").addEventListener("click", () => this.back());
  }
}
