// Quiet hours as a user meets them: whether I may send now is the school policy's `sending`
// (GET /api/schools/{id}/policy, asked at sign-in, after each school:policy push and again when
// the window opens or closes). While I may not, the open conversation shows "Chat opens at
// 07:30" instead of the composer; the server refuses a send anyway (quiet_hours).
import { renderHeader } from "../views/chrome.js";
import { renderQuiet } from "../views/admin.js";
import { nextSendingCheck } from "../state/admin.js";

const MARGIN_MS = 1000;        // ask a moment after the change, so the server's clock is past it
const LONGEST_MS = 6 * 3600e3; // and at least this often (a laptop asleep over the change)

export class QuietController {
  /** @param {object} deps {store, session} */
  constructor(deps) {
    this.deps = deps;
    this.timer = null;
  }

  get state() { return this.deps.store.state; }

  async load() {
    const school = this.state.me.school;
    if (!school) return;
    try {
      const data = (await this.deps.session.api.get(`/api/schools/${encodeURIComponent(school)}/policy`)).data;
      this.dispatch(data.sending || null);
    } catch (err) {
      console.warn("sending not read", err);
    }
  }

  dispatch(sending) {
    const before = this.state.admin.sending;
    this.deps.store.dispatch({ type: "admin/sending", sending });
    if (this.state.admin.sending !== before) {
      renderHeader(this.state);  // the composer comes back when chat opens
      this.render();
    }
    clearTimeout(this.timer);
    const at = nextSendingCheck(sending);
    if (at !== null) this.timer = setTimeout(() => this.load(), Math.min(LONGEST_MS, Math.max(0, at - Date.now()) + MARGIN_MS));
  }

  /** A school:policy push: quiet hours may have changed. */
  policyPushed(d) {
    if (d && d.schoolId === this.state.me.school) this.load();
  }

  /** After every render: the note instead of the composer while closed. */
  render() {
    if (this.state) renderQuiet(this.state, Date.now());
  }
}
