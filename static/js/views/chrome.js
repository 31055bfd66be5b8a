// The small views around the list and the messages: the chat header, the connection status,
// the typing line and the tab title. Each renders from state alone.
import { el, initials } from "../dom.js";
import { isStaff, isSupervised, readOnlyReason, readOnlyText } from "../policy.js";
import { convTitle, others } from "../state/conversations.js";
import { isBlocked } from "../state/safety.js";
import { typingText } from "../state/session.js";
import { unreadTotal } from "../state/unread.js";
import { t } from "../i18n.js";
import { KIND_ICONS } from "./list.js";

const $ = (id) => document.getElementById(id);

/** The open conversation's title, its people line, and whether I may post in it. */
export function renderHeader(state) {
  const conv = state.conversations.byId[state.conversations.active];
  $("app").classList.toggle("in-chat", Boolean(conv));
  if (!conv) {
    $("chat-title").textContent = t("chat.pick");
    $("chat-kind").hidden = true;
    $("chat-sub").textContent = "";
    $("composer").hidden = true;
    $("readonly-note").hidden = true;
    $("conv-actions").hidden = true;
    togglePeople(false);
    return;
  }
  renderSettings(conv);
  renderPeople(conv, state);
  const kind = $("chat-kind");
  kind.hidden = !KIND_ICONS[conv.type];
  kind.dataset.kind = conv.type;
  const kindText = KIND_ICONS[conv.type] ? `${KIND_ICONS[conv.type]} ${t(`kind.${conv.type}`)}` : "";
  if (kind.textContent !== kindText) kind.textContent = kindText;
  const meId = state.me.id;
  const online = state.session.online;
  $("chat-title").textContent = convTitle(conv, meId);
  const rest = others(conv, meId);
  let sub = t("header.sub", { kind: t(`kindShort.${conv.type}`), people: t("header.people", { count: (conv.participants || []).length }) });
  const here = rest.filter((p) => online[p.userId]).length;
  if (conv.type === "direct" && rest[0]) sub = online[rest[0].userId] ? t("list.online") : t("list.offline");
  else if (here) sub = t("header.subOnline", { sub, count: here });
  $("chat-sub").textContent = sub;
  const announcement = conv.type === "announcement" && !["owner", "admin"].includes(conv.role);
  // read-only for me: an announcement, or what the school's policy (or a refused send) says
  const why = announcement ? null : readOnlyReason(conv, state.safety.policy, state.me, null) || state.safety.refused[conv.id] || null;
  $("composer").hidden = announcement || Boolean(why);
  $("readonly-note").hidden = !announcement && !why;
  const noteText = announcement ? t("header.announcementNote") : why ? readOnlyText(why) : "";
  if ($("readonly-note").textContent !== noteText && noteText) $("readonly-note").textContent = noteText;
  $("readonly-note").dataset.why = announcement ? "announcement" : why || "";
  renderConvNote(conv, state);
}

// "Supervised" (a group the policy keeps a member of staff in) and slow mode, under the title.
function renderConvNote(conv, state) {
  const notes = [];
  if (isSupervised(conv, state.safety.policy)) notes.push(t("header.supervised"));
  const slow = conv.slowModeSeconds || 0;
  if (slow > 0) notes.push(t("header.slowMode", { count: slow }));
  const text = notes.join(" \u00b7 ");
  $("conv-note").hidden = !text;
  $("conv-note").dataset.supervised = isSupervised(conv, state.safety.policy) ? "1" : "0";
  if ($("conv-note").textContent !== text) $("conv-note").textContent = text;
}

const ROLE_NAMES = { owner: "owner", admin: "admin", member: "member" };

// The participant panel: names, roles (in the school and here) and online dots from presence.
function renderPeople(conv, state) {
  const people = conv.participants || [];
  $("people-count").textContent = String(people.length);
  $("people-add").hidden = !mayManage(conv);
  const online = state.session.online;
  const me = state.me.id;
  const sorted = [...people].sort((a, b) => (b.userId === me) - (a.userId === me) || Boolean(online[b.userId]) - Boolean(online[a.userId])
    || String(a.name).localeCompare(String(b.name)));
  $("people-list").replaceChildren(...sorted.map((p) => {
    const here = p.userId === me || Boolean(online[p.userId]);
    const roles = [p.userRole, p.role && p.role !== "member" ? ROLE_NAMES[p.role] : null].filter(Boolean).join(" \u00b7 ");
    return el("li", { class: "person", "data-testid": "person", dataset: { user: p.userId, online: here ? "1" : "0" } },
      el("span", { class: "avatar", "aria-hidden": "true", text: initials(p.name) },
        el("span", { class: "dot" + (here ? " online" : "") })),
      el("span", { class: "name", text: p.userId === me ? t("people.you", { name: p.name }) : p.name }),
      el("span", { class: "role", text: `${roles}${roles ? " \u00b7 " : ""}${here ? t("list.online") : t("list.offline")}` }),
      p.userId === me ? null : personActions(p, state));
  }));
}

// Report and block for another person (the safety controller listens for data-action); a
// student is not offered blocking staff (a school rule), and a refusal shows under the name.
function personActions(p, state) {
  const safety = state.safety;
  const name = p.name || p.userId;
  const box = el("span", { class: "person-actions" });
  const reported = safety.reportedUsers[p.userId];
  box.append(el("button", { type: "button", class: "link", "data-testid": "report-user", disabled: reported ? true : null,
    dataset: { action: "report-user", person: p.userId, name }, "aria-label": reported ? t("people.reportedLabel", { name }) : t("people.reportLabel", { name }),
    text: reported ? t("people.reported") : t("msg.report") }));
  const studentToStaff = state.me.role === "student" && isStaff(p.userRole);
  if (isBlocked(safety, p.userId)) {
    box.append(el("button", { type: "button", class: "link", "data-testid": "unblock", dataset: { action: "unblock", person: p.userId },
      "aria-label": t("people.unblockLabel", { name }), text: t("people.unblock") }));
  } else if (!studentToStaff) {
    box.append(el("button", { type: "button", class: "link", "data-testid": "block", dataset: { action: "block", person: p.userId },
      "aria-label": t("people.blockLabel", { name }), text: t("people.block") }));
  }
  if (mayManage(state.conversations.byId[state.conversations.active])) {
    box.append(el("button", { type: "button", class: "link", "data-testid": "remove-person", dataset: { action: "remove-person",
      person: p.userId, name, armed: "0" }, "aria-label": t("people.removeLabel", { name }), text: t("people.remove") }));
  }
  const error = safety.personErrors[p.userId];
  if (error) box.append(el("span", { class: "error person-error", role: "alert", "data-testid": "person-error", text: error }));
  return box;
}

/** Whether I may add and remove people here (an owner or admin of a conversation that is not direct). */
export function mayManage(conv) {
  return Boolean(conv) && conv.type !== "direct" && ["owner", "admin"].includes(conv.role);
}

/** Show or hide the participant panel (Escape in it closes it and focus returns to its button). */
export function togglePeople(open) {
  const panel = $("people-panel");
  const show = open === undefined ? panel.hidden : open;
  panel.hidden = !show;
  $("conv-people").setAttribute("aria-expanded", String(show));
}

// Pin, mute, archive and leave for the open conversation; each button says what it does now.
function renderSettings(conv) {
  $("conv-actions").hidden = false;
  const set = (id, on, onLabel, offLabel, icons) => {
    const b = $(id);
    b.setAttribute("aria-pressed", String(Boolean(on)));
    b.title = on ? onLabel : offLabel;
    b.querySelector(".label").textContent = ` ${on ? onLabel : offLabel}`;
    // the icon says the state (a bell struck through while muted), not only the pressed look
    if (icons) b.querySelector(".icon").textContent = on ? icons[0] : icons[1];
  };
  set("conv-pin", conv.pinned, t("flag.unpin"), t("flag.pin"));
  set("conv-mute", conv.muted, t("flag.unmute"), t("flag.mute"), ["\u{1F515}", "\u{1F514}"]);
  set("conv-archive", conv.archived, t("flag.unarchive"), t("flag.archive"));
  $("conv-mute").dataset.muted = conv.muted ? "1" : "0";
  const leave = $("conv-leave");
  leave.hidden = conv.type === "direct";
  if (leave.dataset.conversationId !== conv.id) {
    // a confirmation armed for another conversation does not carry over
    leave.dataset.conversationId = conv.id;
    armLeave(false);
  }
}

/** The Leave button's two steps: a first press arms it, the second leaves. */
export function armLeave(on) {
  const leave = $("conv-leave");
  leave.dataset.armed = on ? "1" : "0";
  leave.textContent = on ? t("leave.confirm") : t("leave.button");
  leave.setAttribute("aria-label", on ? t("leave.confirmLabel") : t("leave.label"));
}

/** "Online", "Connecting…", or "Offline, retrying in Ns" counted down from the retry time. */
export function renderConn(state, now) {
  const node = $("conn-state");
  const { state: conn, retryAt } = state.session.conn;
  node.dataset.state = conn;
  let text = t("conn.signedOut");
  if (conn === "online") text = t("conn.online");
  else if (conn === "connecting") text = t("conn.connecting");
  else if (conn === "offline") {
    const secs = retryAt === null ? null : Math.max(0, Math.ceil((retryAt - now) / 1000));
    text = secs === null ? t("conn.offline") : t("conn.retrying", { secs });
    node.dataset.retryIn = secs === null ? "" : String(secs);
  }
  if (node.textContent !== text) node.textContent = text;
  // inside the conversation too (on a phone the list's status line is not on screen)
  const banner = $("offline-banner");
  banner.hidden = conn !== "offline";
  if (!banner.hidden && !banner.textContent) banner.textContent = t("offline.banner");
}

/** Who is typing in the open conversation (an error notice wins until the next change). */
export function renderTyping(state, notice) {
  const text = notice || typingText(state.session, state.conversations.active);
  if ($("typing").textContent !== text) $("typing").textContent = text;
}

/** "(3) School chat" while anything is unread. */
export function renderTitle(state) {
  const total = unreadTotal(state.unread, state.conversations.byId);
  const title = total ? t("app.titleUnread", { count: total, title: t("app.title") }) : t("app.title");
  if (document.title !== title) document.title = title;
}
