// The open conversation's messages, rendered from state with keyed reconciliation: a message's
// <li> is rebuilt only when what it shows changed, and nodes already in order are never moved.
// So an open edit box (its text, caret and focus) and the reader's scroll position survive
// whatever arrives meanwhile.
import { clock, el, initials } from "../dom.js";
import { layoutMessages, seenBy } from "../layout.js";
import { splitLinks } from "../links.js";
import { splitMentions } from "../mentions.js";
import { tickStatus } from "../state/conversations.js";
import { convMessages, sortedMessages } from "../state/messages.js";
import { pendingFor } from "../state/outbox.js";
import { FINAL_SEND_ERRORS, isStaff, readOnlyReason, refusalText } from "../policy.js";
import { attachmentsEl } from "./attachments.js";
import { forwardedEl } from "./forward.js";
import { errorText, t } from "../i18n.js";
import { openSheet } from "./sheet.js";

const QUICK_REACTIONS = ["\u{1F44D}", "\u2764\uFE0F", "\u{1F602}"];
const NEAR_BOTTOM_PX = 60;

export class MessagesView {
  /**
   * @param {HTMLElement} box the scrolling container
   * @param {HTMLElement} list the <ol> of messages
   * @param {HTMLElement} older the "loading older" note
   * @param {object} handlers {react(m, emoji), startEdit(m), editChange(text), saveEdit(m), cancelEdit(),
   *   armDelete(m), remove(m), retry(clientMsgId), view(attachment),
   *   reply(m), jumpTo(conversationId, messageId), receipts(m): Promise<rows>, report(m),
   *   discard(clientMsgId), takeBack(clientMsgId) (a refused message back into the composer)}
   */
  constructor(box, list, older, handlers) {
    this.box = box;
    this.list = list;
    this.older = older;
    this.on = handlers;
    this.nodes = new Map();   // key -> {node, sig}
    this.conversationId = null;
    this.editBox = null;      // the one edit <textarea>, reused across rebuilds of its message
    // Escape closes an open "Seen by" list; focus goes back to its button
    box.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      const open = this.list.querySelector("[data-testid=receipts]");
      if (!open) return;
      ev.preventDefault();
      const li = open.closest("li[data-key]");
      const btn = li.querySelector("[data-testid=seen-by]");
      open.remove();
      btn.setAttribute("aria-expanded", "false");
      btn.focus();
    });
  }

  /** Bring the list in line with `state`; `stick` scrolls to the newest message, `keepScroll` leaves
   * the scroll position alone (pages added below a window being read). */
  render(state, stick, keepScroll) {
    const id = state.conversations.active;
    const conv = id && state.conversations.byId[id];
    if (id !== this.conversationId) {
      this.nodes.clear();
      this.list.replaceChildren();
      this.conversationId = id;
      this.editBox = null;
    }
    if (!conv) { document.getElementById("messages-state").hidden = true; return; }
    this.me = state.me.id;
    this.people = new Map((conv.participants || []).map((p) => [p.userId, p.name]));  // mentions show names
    if (!state.ui.editing) this.editBox = null;
    const atBottom = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < NEAR_BOTTOM_PX;
    const focus = this.rememberFocus();
    const wanted = [];
    const held = sortedMessages(state.messages, id);
    this.byId = new Map(held.map((m) => [m.id, m]));  // what replies quote
    for (const row of layoutMessages(held, Date.now())) {
      wanted.push(row.kind === "day" ? dayItem(row) : this.storedItem(state, conv, row.m, row.cont));
    }
    for (const [cid, p] of pendingFor(state.outbox, id)) wanted.push(this.pendingItem(cid, p));
    const keep = new Set(wanted.map((w) => w.key));
    for (const [key, entry] of this.nodes) {
      if (!keep.has(key)) { entry.node.remove(); this.nodes.delete(key); }
    }
    let cursor = this.list.firstChild;
    for (const w of wanted) {
      let entry = this.nodes.get(w.key);
      if (!entry || !sameSig(entry.sig, w.sig)) {
        const node = w.build();
        node.dataset.key = w.key;
        if (entry) {
          if (entry.node === cursor) cursor = node;
          entry.node.replaceWith(node);
        }
        entry = { node, sig: w.sig };
        this.nodes.set(w.key, entry);
      }
      if (entry.node === cursor) cursor = cursor.nextSibling;
      else this.list.insertBefore(entry.node, cursor);
    }
    this.syncArmed(state.ui.armedDelete);
    this.syncHighlight(state.ui.highlight);
    this.syncTicks(wanted);
    this.restoreFocus(focus);
    const held2 = convMessages(state.messages, id);
    this.older.hidden = !held2.hasOlder;
    // a conversation being read is not an empty one
    const note = held2.hasOlder === null && !held.length ? t("chat.loading")
      : !held.length && !pendingFor(state.outbox, id).length ? (conv.type === "announcement" ? t("chat.emptyReadOnly") : t("chat.empty")) : "";
    const stateNode = document.getElementById("messages-state");
    stateNode.hidden = !note;
    stateNode.dataset.state = held2.hasOlder === null && !held.length ? "loading" : note ? "empty" : "";
    if (stateNode.textContent !== note) stateNode.textContent = note;
    if (!keepScroll && (stick || atBottom)) this.box.scrollTop = this.box.scrollHeight;
  }

  // The armed (confirm) state of delete buttons is patched in place: rebuilding the message would
  // drop its hover and focus, and with them the action bar the next click goes to.
  syncArmed(armedId) {
    for (const btn of this.list.querySelectorAll("button[data-testid=delete]")) {
      const armed = btn.dataset.messageId === armedId;
      if ((btn.dataset.armed === "1") === armed) continue;
      btn.dataset.armed = armed ? "1" : "0";
      btn.textContent = armed ? t("msg.deleteArmed") : "\u{1F5D1}";
      btn.setAttribute("aria-label", armed ? t("msg.confirmDelete") : btn.title);
      btn.closest("li").classList.toggle("armed", armed);
    }
  }

  // The message a jump landed on is marked in place (a rebuild would lose the reader's focus).
  syncHighlight(h) {
    const want = h && h.conversationId === this.conversationId ? `s${h.seq}` : null;
    for (const node of this.list.querySelectorAll("li.highlight")) if (node.dataset.key !== want) node.classList.remove("highlight");
    const entry = want && this.nodes.get(want);
    if (entry) entry.node.classList.add("highlight");
  }

  /** Scroll a held message into the middle of the view and give it focus (after a jump). */
  reveal(seq) {
    const entry = this.nodes.get(`s${seq}`);
    if (!entry) return false;
    entry.node.scrollIntoView({ block: "center" });
    entry.node.focus({ preventScroll: true });
    return true;
  }

  // Ticks and "seen by" change with every receipt; patched in place for the same reason as the armed state.
  syncTicks(wanted) {
    for (const w of wanted) {
      if (!w.ticks) continue;
      const seen = w.seen && this.nodes.get(w.key).node.querySelector("[data-testid=seen-by]");
      if (seen) {
        const text = t("msg.seenBy", { seen: w.seen.seen, of: w.seen.of });
        if (seen.textContent !== text) { seen.textContent = text; seen.dataset.seen = String(w.seen.seen); }
      }
      const span = this.nodes.get(w.key).node.querySelector("[data-testid=ticks]");
      if (!span || span.dataset.status === w.ticks) continue;
      span.dataset.status = w.ticks;
      span.className = "ticks " + w.ticks;
      span.title = w.ticks;
      span.setAttribute("aria-label", w.ticks);
      span.textContent = w.ticks === "sent" ? "\u2713" : "\u2713\u2713";
    }
  }

  // Focus is remembered as (message key, which control in it) so that a keyboard user whose
  // message was rebuilt (a reaction came in) stays on the same control of the new copy.
  rememberFocus() {
    const active = document.activeElement;
    if (!active || !this.list.contains(active)) return null;
    const li = active.closest("li[data-key]");
    const testid = active.dataset.testid || null;
    const same = li && testid ? [...li.querySelectorAll(`[data-testid="${testid}"]`)] : [];
    return { node: active, key: li ? li.dataset.key : null, testid, index: same.indexOf(active),
      start: active.selectionStart, end: active.selectionEnd };
  }

  restoreFocus(focus) {
    if (!focus || document.activeElement === focus.node) return;
    let target = this.list.contains(focus.node) ? focus.node : null;
    const entry = !target && focus.key ? this.nodes.get(focus.key) : null;
    if (entry) {
      const same = focus.testid ? entry.node.querySelectorAll(`[data-testid="${focus.testid}"]`) : [];
      target = same[focus.index] || entry.node;
      // the action bar shows only while its message has focus: focus the message first
      if (target !== entry.node) entry.node.focus({ preventScroll: true });
    }
    if (!target) return;
    target.focus();
    if (target === focus.node && typeof focus.start === "number") target.setSelectionRange(focus.start, focus.end);
  }

  storedItem(state, conv, m, cont) {
    const meId = state.me.id;
    const mine = m.senderId === meId;
    const editing = state.ui.editing && state.ui.editing.messageId === m.id && !m.deleted;
    const sig = { m, mine, type: conv.type, editing: Boolean(editing),
      showsTicks: mine && !m.deleted, links: linkSig(m, state.links),
      quoted: m.replyTo ? this.byId.get(m.replyTo) || null : null, cont: Boolean(cont),
      reported: Boolean(state.safety.reported[m.id]), ...mayAct(state, conv, mine) };
    const ticks = sig.showsTicks ? tickStatus(conv, m, meId) : null;
    const seen = sig.showsTicks && conv.type !== "direct" ? seenBy(conv, m, meId) : null;
    const build = () => (m.type === "system" ? systemEl(m)
      : this.messageEl(m, sig, editing && state.ui.editing.draft, state.links));
    return { key: `s${m.seq}`, sig, build, ticks, seen };
  }

  pendingItem(clientMsgId, p) {
    const sig = { p };
    return { key: `p${clientMsgId}`, sig, build: () => this.pendingEl(clientMsgId, p) };
  }

  pendingEl(clientMsgId, p) {
    // queued: waiting for the connection (it goes by itself); failed: the server refused it
    const waiting = p.status === "queued";
    const failed = p.status === "failed";
    const final = failed && FINAL_SEND_ERRORS.includes(p.code);
    const li = el("li", { class: "msg mine pending" + (waiting ? " waiting" : "") + (failed ? " failed" : "") + (final ? " refused" : ""),
      "data-testid": "message", dataset: { clientId: clientMsgId, pending: "1", status: p.status, code: p.code || "" } },
    p.text ? textEl(p.text) : null,
    p.attachments && p.attachments.length ? attachmentsEl(p.attachments, {}, { view: () => {} }) : null);
    const meta = el("div", { class: "meta", "data-testid": "send-state" });
    if (final) {
      // the school's rules refused it: sending it again would not help, so no Retry
      meta.append(el("span", { class: "send-error", role: "alert", "data-testid": "send-error",
        text: refusalText(p.code, p.error, Date.now()) }), " ",
      el("button", { type: "button", class: "link", "data-testid": "take-back", text: t("msg.takeBack"),
        "aria-label": t("msg.takeBackLabel"), onclick: () => this.on.takeBack(clientMsgId) }), " \u00b7 ",
      el("button", { type: "button", class: "link", "data-testid": "discard", text: t("outbox.remove"),
        "aria-label": t("msg.discardLabel"), onclick: () => this.on.discard(clientMsgId) }));
    } else if (failed) {
      meta.append(el("span", { class: "send-error", text: t("outbox.notSent", { error: p.error || t("err.generic") }) }), " \u2013 ",
        el("button", { type: "button", class: "link", "data-testid": "retry", text: t("outbox.retry"),
          onclick: () => this.on.retry(clientMsgId) }));
    } else if (waiting) {
      meta.append(el("span", { class: "waiting-note", text: `\u23F3 ${t("outbox.waiting")}` }), " \u2013 ",
        el("button", { type: "button", class: "link", "data-testid": "retry", text: t("outbox.sendNow"),
          onclick: () => this.on.retry(clientMsgId) }));
    } else meta.append(el("span", { text: t("outbox.sending") }));
    li.append(meta);
    return li;
  }

  messageEl(m, sig, draft, links) {
    const mentioned = (m.mentions || []).map((userId) => ({ userId, name: this.people.get(userId) })).filter((p) => p.name);
    const mentionsMe = !m.deleted && (m.mentions || []).includes(this.me);
    const li = el("li", { class: "msg" + (sig.mine ? " mine" : "") + (m.deleted ? " deleted" : "") + (sig.cont ? " cont" : "")
      + (mentionsMe ? " mentions-me" : ""),
      "data-testid": "message", tabindex: "0", dataset: { seq: String(m.seq), id: m.id, clientId: m.clientMsgId || "" } });
    // a run of one sender's messages names the sender once
    if (!sig.mine && sig.type !== "direct" && !sig.cont) {
      li.append(el("div", { class: "who" }, el("span", { class: "mini-avatar", "aria-hidden": "true", "data-testid": "avatar",
        text: initials(m.senderName) }), el("span", { text: m.senderName }),
        m.bot && el("span", { class: "bot-badge", "data-testid": "bot-badge", title: t("msg.botTitle"), text: t("msg.bot") })));
    }
    if (m.replyTo && !m.deleted) li.append(this.quoteEl(m, sig.quoted));
    if (m.forwarded && !m.deleted) li.append(forwardedEl(m.forwarded));  // notifications: forwarding
    if (sig.editing) li.append(this.editBoxFor(m, draft));
    else if (m.deleted) li.append(el("div", { class: "text", "data-testid": "message-text", text: t("msg.deleted") }));
    else if (m.text || !(m.attachments || []).length) li.append(textEl(m.text || "", mentioned, this.me));
    if (!m.deleted && (m.attachments || []).length) li.append(attachmentsEl(m.attachments, links || {}, { view: (a) => this.on.view(a) }));
    const reactions = Object.entries(m.reactions || {});
    if (reactions.length) {
      const bar = el("div", { class: "reactions", "data-testid": "reactions" });
      for (const [emoji, users] of reactions) {
        const on = users.includes(this.me);
        bar.append(el("button", { type: "button", class: on ? "mine" : "", "data-testid": "reaction", "aria-pressed": String(on),
          "aria-label": t("msg.reactionLabel", { emoji, count: users.length }), text: `${emoji} ${users.length}`, onclick: () => this.on.react(m, emoji) }));
      }
      li.append(bar);
    }
    const meta = el("div", { class: "meta" });
    if (sig.showsTicks && sig.type !== "direct") {
      // filled in by syncTicks; a press lists who read it
      const btn = el("button", { type: "button", class: "link seen-by", "data-testid": "seen-by", "aria-expanded": "false",
        onclick: () => this.toggleReceipts(m, li, btn) });
      meta.append(btn);
    }
    if (sig.reported && !m.deleted) meta.append(el("span", { class: "reported", "data-testid": "reported", text: `${t("people.reported")} \u00b7 ` }));
    meta.append(el("span", { text: clock(m.createdAt) + (m.editedAt && !m.deleted ? ` · ${t("mod.edited")}` : "") }));
    if (sig.showsTicks) {
      meta.append(el("span", { class: "ticks", "data-testid": "ticks" }));  // filled in by syncTicks
    }
    li.append(meta);
    if (!m.deleted && !sig.editing) {
      li.append(this.actionsEl(m, sig));
      // touch: a tap (not on a link or a button) or a long-press opens the action sheet
      li.addEventListener("contextmenu", (ev) => {
        if (ev.target.closest("a, button, textarea")) return;
        ev.preventDefault();
        this.openSheet(m, sig, li);
      });
      li.addEventListener("click", (ev) => {
        if (document.documentElement.dataset.input !== "touch" || ev.target.closest("a, button, textarea")) return;
        this.openSheet(m, sig, li);
      });
    }
    return li;
  }

  // The message a reply answers, above it; a click (or Enter) jumps to it.
  quoteEl(m, quoted) {
    const who = quoted ? quoted.senderName : "";
    const text = !quoted ? t("msg.earlier") : quoted.deleted ? t("msg.deleted")
      : quoted.text || ((quoted.attachments || [])[0] || {}).name || "";
    // the accessible name is the visible text after a hidden "In reply to"
    return el("button", { type: "button", class: "quote", "data-testid": "reply-quote", title: t("msg.showOriginal"),
      onclick: () => this.on.jumpTo(m.conversationId, m.replyTo) },
    el("span", { class: "sr-only", text: `${t("msg.inReplyTo")} ` }),
    who ? el("strong", { text: who }) : null, el("span", { text: text.slice(0, 140) }));
  }

  // What one may do with a message: the same list for its action bar and its action sheet.
  actionList(m, sig) {
    const out = [];
    if (sig.canReply) out.push({ key: "reply", icon: "\u21A9", label: t("msg.reply"), run: () => this.on.reply(m) });
    if (sig.mine) out.push({ key: "edit", icon: "\u270E", label: t("msg.edit"), run: () => this.on.startEdit(m) });
    if (sig.canDelete) {
      out.push({ key: "delete", icon: "\u{1F5D1}", label: sig.mine ? t("msg.delete") : t("msg.deleteStaff"),
        confirm: t("msg.confirmDelete"), run: () => this.on.remove(m) });
    }
    if (this.on.forward && m.type !== "system" && !m.deleted) {  // notifications: forwarding
      out.push({ key: "forward", icon: "\u21AA", label: t("msg.forward"), run: () => this.on.forward(m) });
    }
    if (!sig.mine && !sig.reported) {
      out.push({ key: "report", icon: "\u2691", label: t("msg.report"), run: () => this.on.report(m) });
    }
    return out;
  }

  /** The action sheet for a message (a long-press, a tap on a touch screen, or ⋯). */
  openSheet(m, sig, back) {
    const reactions = {};
    for (const [emoji, users] of Object.entries(m.reactions || {})) if (users.includes(this.me)) reactions[emoji] = true;
    const text = m.text || ((m.attachments || [])[0] || {}).name || "";
    openSheet({ heading: `${sig.mine ? t("msg.you") : m.senderName}: ${text}`.slice(0, 120), reactions,
      react: (emoji) => this.on.react(m, emoji),
      actions: this.actionList(m, sig).map((a) => ({ label: a.label, testid: a.key, run: a.run, confirm: a.confirm })) }, back);
  }

  actionsEl(m, sig) {
    const bar = el("div", { class: "actions" });
    for (const emoji of QUICK_REACTIONS) {
      bar.append(el("button", { type: "button", title: t("msg.react", { emoji }), "aria-label": t("msg.react", { emoji }),
        "data-testid": "react", text: emoji, onclick: () => this.on.react(m, emoji) }));
    }
    for (const a of this.actionList(m, sig)) {
      if (a.key === "delete") {
        const del = el("button", { type: "button", title: a.label, "aria-label": a.label, "data-testid": "delete",
          dataset: { armed: "0", messageId: m.id }, text: a.icon,
          onclick: () => (del.dataset.armed === "1" ? this.on.remove(m) : this.on.armDelete(m)) });
        bar.append(del);
      } else {
        bar.append(el("button", { type: "button", title: a.label, "aria-label": a.key === "report"
          ? t("msg.reportLabel", { name: m.senderName }) : a.label, "data-testid": a.key, text: a.icon, onclick: a.run }));
      }
    }
    const more = el("button", { type: "button", class: "more", title: t("msg.moreReactions"), "aria-label": t("msg.actions"),
      "aria-haspopup": "dialog", "data-testid": "more", text: "\u22EF", onclick: () => this.openSheet(m, sig, more) });
    bar.append(more);
    return bar;
  }

  // Who got and read one of my messages (GET /api/messages/{id}/receipts), listed under it.
  async toggleReceipts(m, li, btn) {
    const open = li.querySelector("[data-testid=receipts]");
    if (open) { open.remove(); btn.setAttribute("aria-expanded", "false"); return; }
    btn.setAttribute("aria-expanded", "true");
    const list = el("ul", { class: "receipts", "data-testid": "receipts", "aria-label": t("msg.readBy") });
    li.querySelector(".meta").after(list);
    let rows;
    try {
      rows = await this.on.receipts(m);
    } catch (err) {
      list.replaceChildren(el("li", { class: "error", text: errorText(err) }));
      return;
    }
    const order = { read: 0, delivered: 1, sent: 2 };
    rows.sort((a, b) => order[a.status] - order[b.status] || String(a.name).localeCompare(String(b.name)));
    list.replaceChildren(...rows.map((r) => el("li", { "data-testid": "receipt", dataset: { status: r.status, user: r.userId } },
      el("span", { text: r.name || r.userId }),
      el("span", { class: "receipt-status", text: r.status === "read" ? t("msg.readAt", { time: clock(r.readAt) })
        : r.status === "delivered" ? t("msg.delivered") : t("msg.notYet") }))));
  }

  editBoxFor(m, draft) {
    if (this.editBox && this.editBox.dataset.messageId === m.id) return this.editBox;
    const box = el("textarea", { class: "edit-box", "data-testid": "edit-box", "aria-label": t("msg.edit"),
      dataset: { messageId: m.id } });
    box.value = draft;
    box.addEventListener("input", () => this.on.editChange(box.value));
    box.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); this.on.saveEdit(m, box.value); }
      if (ev.key === "Escape") { ev.preventDefault(); this.on.cancelEdit(); }
    });
    this.editBox = box;
    queueMicrotask(() => { if (box.isConnected) { box.focus(); box.setSelectionRange(box.value.length, box.value.length); } });
    return box;
  }
}

// A day separator: keyed by the day, rebuilt only when its label changes ("Today" turns "Yesterday").
function dayItem(row) {
  const sig = { label: row.label };
  return { key: row.key, sig, build: () => el("li", { class: "day-sep", "data-testid": "day-separator" },
    el("span", { text: row.label })) };
}

function systemEl(m) {
  return el("li", { class: "msg system", "data-testid": "message", dataset: { seq: String(m.seq) } },
    el("span", { "data-testid": "message-text", text: m.text || "" }));
}

// Message text with its http(s) links as real links (target=_blank, no opener, no referrer) and
// the "@Name" of the people it mentions marked (mine highlighted).
function textEl(text, mentioned, meId) {
  const node = el("div", { class: "text", "data-testid": "message-text" });
  for (const part of splitLinks(text)) {
    if (part.href) {
      node.append(el("a", { href: part.href, target: "_blank", rel: "noopener noreferrer", text: part.text }));
      continue;
    }
    for (const bit of mentioned && mentioned.length ? splitMentions(part.text, mentioned) : [part]) {
      node.append(bit.userId ? el("span", { class: "mention" + (bit.userId === meId ? " to-me" : ""),
        "data-testid": bit.userId === meId ? "mention-me" : "mention", dataset: { user: bit.userId }, text: bit.text })
        : document.createTextNode(bit.text));
    }
  }
  return node;
}

// The signed links a message's attachments show: a new link rebuilds the message, others do not.
function linkSig(m, links) {
  return (m.attachments || []).map((a) => (a.id && links[a.id] ? links[a.id].url : "")).join(" ");
}

// May I answer in this conversation, and delete this message (mine; an owner or admin of the
// conversation; a teacher or admin of the school in a class or announcement conversation)?
function mayAct(state, conv, mine) {
  const announcement = conv.type === "announcement" && !["owner", "admin"].includes(conv.role);
  const canReply = !announcement && !readOnlyReason(conv, state.safety.policy, state.me, null) && !state.safety.refused[conv.id];
  const staffHere = ["class", "announcement"].includes(conv.type) && isStaff(state.me.role);
  const canDelete = mine || staffHere || ["owner", "admin"].includes(conv.role);
  return { canReply, canDelete };
}

function sameSig(a, b) {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
