// The conversation list, rendered from state. Each row is a button: Enter or Space opens it,
// ArrowUp/ArrowDown/Home/End move between rows.
import { el, initials, relTime } from "../dom.js";
import { convTitle, others, visibleConvs } from "../state/conversations.js";
import { mentionsOf, unreadOf } from "../state/unread.js";
import { t } from "../i18n.js";

// class and announcement conversations look different from groups (and from each other)
export const KIND_ICONS = Object.freeze({ class: "\u{1F393}", announcement: "\u{1F4E3}" });

/** Render the list into `root` (a <ul>); `onOpen(id)` opens a conversation. */
export function renderList(root, state, onOpen, now) {
  const meId = state.me.id;
  const focused = root.contains(document.activeElement) ? document.activeElement.closest("li") : null;
  const focusedId = focused ? focused.dataset.id : null;
  const rows = visibleConvs(state.conversations, meId).map((c) => row(c, state, meId, onOpen, now));
  root.replaceChildren(...rows);
  // loading, nothing yet, or nothing matching: said, not a blank list
  const { loaded, byId, filter } = state.conversations;
  const note = !loaded ? t("list.loading") : rows.length ? "" : Object.keys(byId).length && (filter.q || filter.type)
    ? t("list.emptyFilter") : t("list.empty");
  const stateNode = document.getElementById("list-state");
  stateNode.hidden = !note;
  if (stateNode.textContent !== note) stateNode.textContent = note;
  // the row keeps its focus across a re-render (a new message re-sorts the list)
  if (focusedId) {
    const again = rows.find((r) => r.dataset.id === focusedId);
    if (again) again.querySelector("button").focus();
  }
}

function row(c, state, meId, onOpen, now) {
  const online = state.session.online;
  const direct = c.type === "direct" ? others(c, meId)[0] : null;
  const title = convTitle(c, meId);
  const avatar = el("span", { class: `avatar kind-${c.type}`, "aria-hidden": "true", text: initials(title) },
    KIND_ICONS[c.type] ? el("span", { class: "kind-icon", text: KIND_ICONS[c.type] }) : null);
  if (direct) {
    avatar.append(el("span", { class: "dot" + (online[direct.userId] ? " online" : ""),
      "data-testid": "presence-dot", "data-online": online[direct.userId] ? "1" : "0" }));
  }
  const last = c.lastMessage;
  let preview = t("list.noMessages");
  if (last) {
    preview = last.deleted ? t("list.deleted")
      : t("list.preview", { name: last.senderId === meId ? t("msg.you") : last.senderName, text: last.preview || "" });
  }
  const unread = unreadOf(state.unread, c.id);
  const mentions = mentionsOf(state.unread, c.id);
  const active = c.id === state.conversations.active;
  // a list item holding one button: the button's text is its accessible name, hidden words
  // say what the dot and the badge show
  const open = el("button", { type: "button", class: "conv-open", "aria-current": active ? "true" : null,
    onclick: () => onOpen(c.id), onkeydown: onRowKey },
  avatar,
  el("span", { class: "title", text: (c.pinned ? "\u{1F4CC} " : "") + title }),
  KIND_ICONS[c.type] ? el("span", { class: "sr-only", text: `, ${t(`kind.${c.type}`)},` }) : null,
  direct ? el("span", { class: "sr-only", text: ` ${online[direct.userId] ? t("list.online") : t("list.offline")},` }) : null,
  el("span", { class: "time", text: relTime(last ? last.createdAt : c.lastActivityAt, now) }),
  el("span", { class: "preview", text: preview }),
  el("span", { class: "marks" },
    c.muted ? el("span", { class: "muted-icon", "data-testid": "muted-icon", title: t("list.muted"), text: "\u{1F515}" }) : null,
    c.muted ? el("span", { class: "sr-only", text: ` ${t("list.muted")},` }) : null,
    mentions > 0 ? el("span", { class: "badge mention", "data-testid": "mention-badge", title: t("list.mentionedTitle"), text: "@" }) : null,
    mentions > 0 ? el("span", { class: "sr-only", text: ` ${t("list.mentioned")},` }) : null,
    unread > 0 ? el("span", { class: "badge" + (c.muted ? " muted" : ""), "data-testid": "badge", text: String(unread) }) : null,
    unread > 0 ? el("span", { class: "sr-only", text: ` ${t("list.unread")}` }) : null));
  return el("li", { class: "conv" + (active ? " active" : ""), "data-testid": "conv-item", dataset: { id: c.id, type: c.type } },
    open);
}

// Arrow keys, Home and End move between the rows' buttons (Enter and Space open, as for any button).
function onRowKey(ev) {
  const item = ev.currentTarget.parentElement;
  let target = null;
  if (ev.key === "ArrowDown") target = item.nextElementSibling;
  else if (ev.key === "ArrowUp") target = item.previousElementSibling;
  else if (ev.key === "Home") target = item.parentElement.firstElementChild;
  else if (ev.key === "End") target = item.parentElement.lastElementChild;
  else return;
  ev.preventDefault();
  if (target) target.querySelector("button").focus();
}
