// "My classes": the roster's classes of the signed-in user (GET /api/classes/mine) and opening a
// class's conversation in one step: the one I am in, or (a teacher of the class, an admin) the
// class's own conversation found or started by POST /api/conversations.
import { classConversation } from "../state/classes.js";

export class ClassesController {
  /**
   * @param {object} deps {store, session, open(conversationId), showError(err)}
   */
  constructor(deps) {
    this.deps = deps;
  }

  get state() { return this.deps.store.state; }

  async load() {
    try {
      const data = (await this.deps.session.api.get("/api/classes/mine")).data;
      this.deps.store.dispatch({ type: "classes/loaded", classes: data.classes || [] });
    } catch (err) {
      console.warn("my classes could not be read", err);
    }
  }

  /** The class's conversation of `type` opened, started first when needed. */
  async open(classId, type) {
    const klass = this.state.classes.list.find((c) => c.id === classId);
    if (!klass) return;
    const known = classConversation(klass, type, this.state.conversations.byId);
    if (known) { await this.deps.open(known); return; }
    if (!klass.mayOpen) return;
    this.deps.store.dispatch({ type: "classes/opening", classId });
    try {
      const conv = (await this.deps.session.api.post("/api/conversations", { type, classId, participantIds: [] })).data;
      this.deps.store.dispatch({ type: "conversation/upsert", conversation: conv });
      await this.load();
      await this.deps.open(conv.id);
    } catch (err) {
      this.deps.showError(err);
    } finally {
      this.deps.store.dispatch({ type: "classes/opening", classId: null });
    }
  }
}
