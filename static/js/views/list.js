// The conversation list, rendered from state. Rows are focusable: Enter or Space opens one,
// ArrowUp/ArrowDown/Home/End move between them.
import { el, initials, relTime } from "../dom.js";
import { convTitle, others, visibleConvs } from "../state/conversations.js";
import { unreadOf } from "../state/unread.js";

/** Render the list into `root` (a <ul>); `onOpen(id)` opens a conversation. */
export function renderList(root, state, onOpen, now) {
  const meId = state.me.id;
  const focusedId = root.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  const rows = visibleConvs(state.conversations, meId).map((c) => row(c, state, meId, onOpen, now));
  root.replaceChildren(...rows);
  // the row keeps its focus across a re-render (a new message re-sorts the list)
  if (focusedId) {
    const again = rows.find((r) => r.dataset.id === focusedId);
    if (again) again.focus();
  }
}

function row(c, state, meId, onOpen, now) {
  const online = state.session.online;
  const direct = c.type === "direct" ? others(c, meId)[0] : null;
  const title = convTitle(c, meId);
  const avatar = el("span", { class: "avatar", "aria-hidden": "true", text: initials(title) });
  if (direct) {
    avatar.append(el("span", { class: "dot" + (online[direct.userId] ? " online" : ""),
      "data-testid": "presence-dot", "data-online": online[direct.userId] ? "1" : "0" }));
  }
  const last = c.lastMessage;
  let preview = "No messages yet";
  if (last) preview = last.deleted ? "Message deleted" : `${last.senderId === meId ? "You" : last.senderName}: ${last.preview || ""}`;
  const unread = unreadOf(state.unread, c.id);
  const active = c.id === state.conversations.active;
  const label = `${title}${direct ? (online[direct.userId] ? ", online" : ", offline") : ""}`
    + `${unread ? `, ${unread} unread` : ""}. ${preview}`;
  return el("li", {
    class: "conv" + (active ? " active" : ""), "data-testid": "conv-item", tabindex: "0", role: "link",
    "aria-current": active ? "true" : null, "aria-label": label, dataset: { id: c.id, type: c.type },
    onclick: () => onOpen(c.id),
    onkeydown: (ev) => onRowKey(ev, c.id, onOpen),
  },
  avatar,
  el("span", { class: "title", text: (c.pinned ? "\u{1F4CC} " : "") + title }),
  el("span", { class: "time", text: relTime(last ? last.createdAt : c.lastActivityAt, now) }),
  el("span", { class: "preview", text: preview }),
  unread > 0 ? el("span", { class: "badge", "data-testid": "badge", text: String(unread) }) : el("span"));
}

function onRowKey(ev, id, onOpen) {
  const rowEl = ev.currentTarget;
  let target = null;
  if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); onOpen(id); return; }
  if (ev.key === "ArrowDown") target = rowEl.nextElementSibling;
  else if (ev.key === "ArrowUp") target = rowEl.previousElementSibling;
  else if (ev.key === "Home") target = rowEl.parentElement.firstElementChild;
  else if (ev.key === "End") target = rowEl.parentElement.lastElementChild;
  else return;
  ev.preventDefault();
  if (target) target.focus();
}
