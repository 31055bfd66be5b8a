// The open conversation's history: the newest page, older pages when scrolled to the top, newer
// pages after a jump into the past, the pages missed while away, and a reply's jump to the
// message it quotes. Which way a page is loading is kept in the view slice.
import { convMessages, maxSeq, minSeq } from "../state/messages.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
const CATCH_UP_PAGE = 100;
const EDGE_PX = 40;  // this close to the top (or bottom) of the list loads the next page that way

export class HistoryController {
  /**
   * @param {object} deps {store, session, messagesView, showError(err)}
   */
  constructor(deps) {
    this.deps = deps;
  }

  get state() { return this.deps.store.state; }

  dispatch(action) { this.deps.store.dispatch(action); }

  get(path) { return this.deps.session.api.get(`/api/conversations/${path}`); }

  /** Older pages on scroll to the top, newer ones (after a jump) at the bottom. */
  wire() {
    const box = $("messages");
    box.addEventListener("scroll", () => {
      const id = this.state && this.state.conversations.active;
      if (!id) return;
      if (box.scrollTop <= EDGE_PX) this.loadOlder(id);
      else if (box.scrollHeight - box.scrollTop - box.clientHeight <= EDGE_PX) this.loadNewer(id);
    });
  }

  /** The newest page of a conversation, replacing whatever window of it was held. */
  async loadNewest(id) {
    const page = await this.get(`${id}/messages?limit=${PAGE}`);
    this.dispatch({ type: "scroll/stick" });
    this.dispatch({ type: "messages/replace", conversationId: id, messages: page.data, hasOlder: page.hasMore, hasNewer: false });
    await this.catchUp(id);
  }

  /** A window of messages around `seq` (a search result not held); false when another conversation opened meanwhile. */
  async loadAround(id, seq) {
    const page = await this.get(`${id}/messages?around=${seq}&limit=${PAGE}`);
    if (this.state.conversations.active !== id) return false;
    this.dispatch({ type: "messages/replace", conversationId: id, messages: page.data, hasOlder: page.hasMore,
      hasNewer: Boolean(page.hasNewer) });
    return true;
  }

  // Pushes that came while a window was shown (and before the page that ended it) were not kept:
  // the conversation's lastSeq says whether any are missing.
  async catchUp(id) {
    const state = this.state;
    const conv = state.conversations.byId[id];
    if (conv && !convMessages(state.messages, id).hasNewer && (conv.lastSeq || 0) > maxSeq(state.messages, id)) await this.fetchAfter(id);
  }

  /** Every message after the newest held, page by page. */
  async fetchAfter(id) {
    for (;;) {
      const page = await this.get(`${id}/messages?after=${maxSeq(this.state.messages, id)}&limit=${CATCH_UP_PAGE}`);
      this.dispatch({ type: "messages/page", conversationId: id, messages: page.data });
      if (!page.hasMore) return;
    }
  }

  /** After a jump: the page after the newest message held (until the window reaches the newest). */
  async loadNewer(id) {
    if (this.state.view.paging.newer || !convMessages(this.state.messages, id).hasNewer) return;
    this.dispatch({ type: "paging/start", direction: "newer" });
    try {
      const page = await this.get(`${id}/messages?after=${maxSeq(this.state.messages, id)}&limit=${PAGE}`);
      this.dispatch({ type: "scroll/keep" });
      this.dispatch({ type: "messages/page", conversationId: id, messages: page.data, hasNewer: page.hasMore });
      await this.catchUp(id);
    } catch (err) {
      this.deps.showError(err);
    } finally {
      this.dispatch({ type: "paging/end", direction: "newer" });
    }
  }

  /** Load the page before the oldest message held; false when there is none (or one is loading). */
  async loadOlder(id) {
    if (this.state.view.paging.older || !convMessages(this.state.messages, id).hasOlder) return false;
    this.dispatch({ type: "paging/start", direction: "older" });
    const box = $("messages");
    const before = box.scrollHeight - box.scrollTop;
    try {
      const page = await this.get(`${id}/messages?before=${minSeq(this.state.messages, id)}&limit=${PAGE}`);
      this.dispatch({ type: "messages/page", conversationId: id, messages: page.data, hasOlder: page.hasMore });
      if (this.state.conversations.active === id) box.scrollTop = box.scrollHeight - before;  // keep the reader's place
      return true;
    } finally {
      this.dispatch({ type: "paging/end", direction: "older" });
    }
  }

  /** A reply's quote: jump to the message it answers, loading older pages until it is held. */
  async jumpTo(conversationId, messageId) {
    const find = () => Object.values(convMessages(this.state.messages, conversationId).bySeq).find((m) => m.id === messageId);
    let target = find();
    try {
      while (!target && this.state.conversations.active === conversationId && await this.loadOlder(conversationId)) target = find();
    } catch (err) {
      this.deps.showError(err);
      return;
    }
    if (this.state.conversations.active !== conversationId) return;
    if (!target) { this.deps.showError(Object.assign(new Error("original_gone"), { code: "original_gone" })); return; }
    this.dispatch({ type: "highlight/set", conversationId, seq: target.seq });
    this.deps.messagesView.reveal(target.seq);
  }
}
