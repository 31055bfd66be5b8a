// Who else is typing: typing:start and typing:stop pushes into the session slice. A typist whose
// stop never comes (a dropped socket) is forgotten after a while; those timers live here.
const TYPING_FORGET_MS = 8000;

export class TypingController {
  /**
   * @param {object} deps {store}
   */
  constructor(deps) {
    this.deps = deps;
    this.timers = new Map();  // "conversationId/userId" -> timer forgetting a silent typist
  }

  /** A typing:start (`on`) or typing:stop push. */
  set({ conversationId, userId, name }, on) {
    const { store } = this.deps;
    if (userId === store.state.me.id) return;
    store.dispatch({ type: "notice/clear" });
    this.forget(conversationId, userId);
    if (on) {
      this.timers.set(`${conversationId}/${userId}`,
        setTimeout(() => store.dispatch({ type: "typing/stop", conversationId, userId }), TYPING_FORGET_MS));
      store.dispatch({ type: "typing/start", conversationId, userId, name });
    } else store.dispatch({ type: "typing/stop", conversationId, userId });
  }

  /** Drop the forget timer of a typist (their message came, or their stop). */
  forget(conversationId, userId) {
    const key = `${conversationId}/${userId}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }
}
