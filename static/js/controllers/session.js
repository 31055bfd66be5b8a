// Sign-in and the socket. Each sign-in gets its own Api (REST with the token) and ChatClient (the
// socket); the socket's pushes go to the handlers given, its state into the store. Sign-out and
// an expired token go back to the sign-in card.
import { Api } from "../api.js";
import { ChatClient } from "../client.js";
import { initialState } from "../state/index.js";
import { showSignIn } from "../views/signin.js";
import { errorText, t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "chat.token";
const TICK_MS = 1000;

export class SessionController {
  /**
   * @param {object} deps {store, loaded(): Promise (the first conversation list), ready({reconnected}),
   *   pushes: {[event]: fn(data)} (the socket's pushes), tick() (every second, for relative times)}
   */
  constructor(deps) {
    this.deps = deps;
    this.api = null;     // this sign-in's REST client and socket (resources, not state)
    this.client = null;
    this.start = this.start.bind(this);
  }

  /** Sign in with the saved token, or show the sign-in card. */
  resume() {
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) this.start(saved); else showSignIn("", this.start);
  }

  /** Try a token: who it is, the first conversation list, then the socket. */
  async start(token) {
    this.api = new Api(token);
    let me;
    try {
      me = (await this.api.get("/api/me")).data;
    } catch (err) {
      sessionStorage.removeItem(TOKEN_KEY);
      return showSignIn(err.status === 401 ? t("err.invalid_token") : errorText(err), this.start);
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $("signin").hidden = true;
    $("app").hidden = false;
    $("me-name").textContent = `${me.name} · ${me.role}`;
    this.deps.store.start(initialState(me));
    await this.deps.loaded();
    this.connect(token);
    // relative times and the retry countdown move with the clock
    setInterval(() => this.deps.tick(), TICK_MS);
  }

  connect(token) {
    const { store } = this.deps;
    const client = new ChatClient(token);
    this.client = client;
    const on = (name, fn) => client.addEventListener(name, (ev) => fn(ev.detail));
    on("state", ({ state: conn, retryAt }) => store.dispatch({ type: "conn/state", state: conn, retryAt, at: Date.now() }));
    on("ready", (d) => this.deps.ready(d));
    on("expired", () => { sessionStorage.removeItem(TOKEN_KEY); showSignIn(t("err.expired"), this.start); });
    for (const [name, fn] of Object.entries(this.deps.pushes)) on(name, fn);
    client.connect();
  }

  /** A request over the socket (resolves with the reply's data). */
  request(event, data) {
    return this.client.request(event, data);
  }

  /** A fire-and-forget event over the socket. */
  notify(event, data) {
    this.client.notify(event, data);
  }

  /** Whether the socket is up (a read marker is only sent then). */
  online() {
    return Boolean(this.client) && this.client.state === "online";
  }

  /** Forget the token and start over. */
  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    if (this.client) this.client.stop();
    location.reload();
  }
}
