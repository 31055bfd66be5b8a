// The composer: sending (optimistic, through the outbox: a message written offline is sent once
// the socket is back, or by Retry), my own typing notices (at most one typing:start every two
// seconds, a stop when the box is emptied), the reply bar, and attaching files by the picker or
// by pasting (the uploads themselves are the attachments controller's).
import { convMessages } from "../state/messages.js";
import { queuedInOrder } from "../state/outbox.js";
import { uploadsFor, uploadsReady } from "../state/uploads.js";
import { messageType } from "../files.js";
import { FINAL_SEND_ERRORS } from "../policy.js";
import { errorText, t } from "../i18n.js";

const $ = (id) => document.getElementById(id);
const TYPING_EVERY_MS = 2000;

export class ComposerController {
  /**
   * @param {object} deps {store, session, history, receipts, attachments, mentionPicker, newId(): string,
   *   showError(err), composerHidden(): bool, draftTyped(conversationId, text) (the saved draft)}
   */
  constructor(deps) {
    this.deps = deps;
    this.input = $("composer-input");
  }

  get state() { return this.deps.store.state; }

  dispatch(action) { this.deps.store.dispatch(action); }

  /** Send what the composer holds (text, files, the reply) in the open conversation. */
  sendCurrent() {
    const { input } = this;
    const text = input.value.trim();
    const id = this.state.conversations.active;
    const files = id ? uploadsFor(this.state.uploads, id) : [];
    if ((!text && !files.length) || !id) return;
    if (!uploadsReady(this.state.uploads, id)) {
      if (files.some(([, u]) => u.status === "failed")) {
        this.dispatch({ type: "notice/set", text: `\u26A0 ${t("composer.removeFailed")}` });
        return;
      }
      // Send during an upload: it goes once the files are there
      this.dispatch({ type: "send/afterUpload", conversationId: id, on: true });
      this.dispatch({ type: "notice/set", text: t("outbox.waitingUpload") });
      return;
    }
    if (this.state.ui.sendAfterUpload[id]) {
      this.dispatch({ type: "send/afterUpload", conversationId: id, on: false });
      this.dispatch({ type: "notice/clear" });
    }
    input.value = "";
    input.style.height = "auto";
    this.deps.store.update({ type: "typing/sent", at: 0 });
    this.dispatch({ type: "draft/set", conversationId: id, text: "" });
    this.deps.draftTyped(id, "");
    const clientMsgId = this.deps.newId();
    // optimistic: shown at once, reconciled with the stored message by clientMsgId
    this.dispatch({ type: "scroll/stick" });
    const reply = this.state.ui.replyTo[id];
    const mentions = this.deps.mentionPicker.mentions(id, text);
    this.deps.mentionPicker.forget(id);
    this.dispatch({ type: "outbox/queued", clientMsgId, conversationId: id, text, createdAt: Date.now(),
      attachments: files.map(([, u]) => u.upload), localIds: files.map(([localId]) => localId), replyTo: reply ? reply.id : null, mentions });
    if (reply) this.dispatch({ type: "reply/cancel", conversationId: id });
    for (const [localId] of files) this.deps.attachments.forget(localId);
    // from a window of older messages: back to the newest first, so the stored copy lands among them
    if (convMessages(this.state.messages, id).hasNewer) {
      this.deps.history.loadNewest(id).catch((err) => this.deps.showError(err)).finally(() => this.trySend(clientMsgId));
    } else this.trySend(clientMsgId);
  }

  /** Send an outbox entry (again); a drop keeps it queued, a refusal marks it failed. */
  async trySend(clientMsgId) {
    const p = this.state.outbox[clientMsgId];
    if (!p || p.status === "sending") return;
    this.dispatch({ type: "outbox/sending", clientMsgId });
    try {
      const data = { conversationId: p.conversationId, text: p.text, clientMsgId };
      if (p.replyTo) data.replyTo = p.replyTo;
      if (p.mentions.length) data.mentions = p.mentions;
      if (p.attachments.length) {
        data.attachments = p.attachments.map((a) => ({ uploadId: a.id }));
        data.type = messageType(p.attachments);
      }
      const stored = await this.deps.session.request("message:send", data);
      this.dispatch({ type: "message/stored", message: stored });
      // writing in a conversation means reading it: one's own count clears
      if (this.state.conversations.active === p.conversationId) this.deps.receipts.markRead(p.conversationId, true);
    } catch (err) {
      // a drop or a lost reply keeps it queued: resent with the same clientMsgId (the server
      // stores it once) after the reconnect, or at once by Retry
      if (err.code === "disconnected" || err.code === "timeout") this.dispatch({ type: "outbox/waiting", clientMsgId });
      else {
        this.dispatch({ type: "outbox/failed", clientMsgId, code: err.code,
          // the server's words only lend a refusal its time or seconds; anything else shows the page's own
          error: FINAL_SEND_ERRORS.includes(err.code) ? err.message : errorText(err) });
        // the policy (or a block) keeps me from posting here: the composer gives way to a note
        if (err.code === "policy_forbidden") {
          this.dispatch({ type: "send/refused", conversationId: p.conversationId,
            why: /no longer send messages/.test(err.message) ? "blocked" : "refused" });
        }
      }
    }
  }

  /** A refused message back in the composer (to change it), out of the list. */
  takeBack(clientMsgId) {
    const p = this.state.outbox[clientMsgId];
    if (!p) return;
    this.dispatch({ type: "outbox/discard", clientMsgId });
    if (this.state.conversations.active !== p.conversationId || this.deps.composerHidden()) return;
    this.input.value = p.text;
    this.input.focus();
  }

  /** Drop a refused message. */
  discard(clientMsgId) {
    this.dispatch({ type: "outbox/discard", clientMsgId });
    if (!this.deps.composerHidden()) this.input.focus();
  }

  /** Send what waited for the socket, oldest first. */
  async flushOutbox() {
    for (const clientMsgId of queuedInOrder(this.state.outbox)) await this.trySend(clientMsgId);
  }

  /** Start a reply to `m` in the composer. */
  reply(m) {
    this.dispatch({ type: "reply/start", message: m });
    this.input.focus();
  }

  /** Files finished uploading after Send was pressed: send now (a failed one cancels the wait). */
  uploadsSettled() {
    const state = this.state;
    const id = state && state.conversations.active;
    if (!id || !state.ui.sendAfterUpload[id]) return;
    const files = uploadsFor(state.uploads, id);
    if (files.some(([, u]) => u.status === "failed")) {
      this.dispatch({ type: "send/afterUpload", conversationId: id, on: false });
      this.dispatch({ type: "notice/set", text: `\u26A0 ${t("composer.removeFailed")}` });
    } else if (uploadsReady(state.uploads, id)) this.sendCurrent();
  }

  // The box grows with its text; typing:start at most every TYPING_EVERY_MS, typing:stop when emptied.
  onInput() {
    const { input } = this;
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight}px`;
    const id = this.state.conversations.active;
    if (!id) return;
    this.deps.draftTyped(id, input.value);
    const { store, session } = this.deps;
    if (!input.value.trim()) {
      session.notify("typing:stop", { conversationId: id });
      store.update({ type: "typing/sent", at: 0 });
    } else if (Date.now() - this.state.link.typingSentAt > TYPING_EVERY_MS) {
      store.update({ type: "typing/sent", at: Date.now() });
      session.notify("typing:start", { conversationId: id });
    }
  }

  /** Built after the mention picker: its keydown listener must run first (Enter picks, not sends). */
  wire() {
    const { input } = this;
    const { attachments } = this.deps;
    this.deps.store.subscribe(() => this.uploadsSettled());
    $("composer").addEventListener("submit", (ev) => { ev.preventDefault(); this.sendCurrent(); });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); this.sendCurrent(); }
      if (ev.key === "Escape" && this.state.ui.replyTo[this.state.conversations.active]) {
        ev.preventDefault();
        this.dispatch({ type: "reply/cancel", conversationId: this.state.conversations.active });
      }
    });
    $("reply-cancel").addEventListener("click", () => {
      this.dispatch({ type: "reply/cancel", conversationId: this.state.conversations.active });
      input.focus();
    });
    input.addEventListener("input", () => this.onInput());
    $("attach").addEventListener("click", () => $("attach-input").click());
    $("attach-input").addEventListener("change", () => {
      attachments.addFiles([...$("attach-input").files]);
      $("attach-input").value = "";
      input.focus();
    });
    input.addEventListener("paste", (ev) => {
      const files = [...((ev.clipboardData && ev.clipboardData.files) || [])];
      if (!files.length) return;
      ev.preventDefault();  // a pasted picture is attached, not pasted as its file name
      attachments.addFiles(files);
    });
    attachments.wireDrop($("chat"), () => !$("composer").hidden, (on) => { $("drop-hint").hidden = !on; });
    $("viewer-close").addEventListener("click", () => $("viewer").close());
  }
}
