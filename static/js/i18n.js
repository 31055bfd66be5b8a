import { KM } from "./i18n/km.js";
import { FR } from "./i18n/fr.js";

// The words the page says, looked up by key: `t(key, params)` fills `{name}` placeholders, and a
// `count` param picks the plural form (`key.one` / `key.other`, by Intl.PluralRules). One English
// catalogue per language (English here, Khmer and French in i18n/), the same keys in each.
const EN = Object.freeze({
  "app.title": "School chat",
  "outbox.waiting": "Waiting for the connection",
  "outbox.waitingUpload": "Sends when the files are uploaded",
  "outbox.sendNow": "Try now",
  "composer.removeFailed": "Remove the files that failed to upload (or retry them) first.",
  "outbox.sending": "Sending\u2026",
  "outbox.notSent": "Not sent: {error}",
  "outbox.retry": "Retry",
  "outbox.remove": "Remove",
  "offline.banner": "You are offline. Messages you write are kept and go out when the connection is back.",
  "chat.pick": "Pick a conversation",
  "chat.loading": "Loading messages\u2026",
  "chat.empty": "No messages yet. Say hello!",
  "chat.emptyReadOnly": "No announcements yet.",
  "list.empty": "No conversations yet. Start one with \u201c+ New\u201d.",
  "list.emptyFilter": "Nothing matches.",
  "list.loading": "Loading conversations\u2026",
  "people.addPlaceholder": "Find people in your school",
  "msg.reactions": "Reactions",
  "lang.label": "Language",
  "msg.seenBy": "Seen by {seen} of {of}",
  "msg.takeBack": "Edit",
  "msg.takeBackLabel": "Put this message back in the box to change it",
  "msg.discardLabel": "Remove this unsent message",
  "msg.deleted": "This message was deleted",
  "msg.reactionLabel": "{emoji} {count}, react",
  "msg.showOriginal": "Show the original message",
  "msg.inReplyTo": "In reply to",
  "msg.readBy": "Read by",
  "msg.deleteArmed": "Delete?",
  "msg.earlier": "An earlier message",
  "msg.reportLabel": "Report this message from {name}",
  "msg.readAt": "read {time}",
  "msg.delivered": "delivered",
  "msg.notYet": "not yet",
  "app.titleUnread": "({count}) {title}",
  "header.sub": "{kind} · {people}",
  "header.subOnline": "{sub} · {count} online",
  "kindShort.direct": "direct",
  "kindShort.group": "group",
  "kindShort.class": "class",
  "kindShort.announcement": "announcement",
  "header.announcementNote": "Only teachers can post in this announcement channel.",
  "header.supervised": "Supervised: a member of staff always stays in this group",
  "header.slowMode.one": "Slow mode: one message every {count} second",
  "header.slowMode.other": "Slow mode: one message every {count} seconds",
  "people.you": "{name} (you)",
  "people.reportedLabel": "{name} reported",
  "people.reportLabel": "Report {name}",
  "people.reported": "Reported",
  "people.unblockLabel": "Unblock {name}",
  "people.unblock": "Unblock",
  "people.blockLabel": "Block {name}",
  "people.block": "Block",
  "leave.confirm": "Leave?",
  "leave.button": "Leave",
  "leave.confirmLabel": "Confirm leaving this conversation",
  "leave.label": "Leave this conversation",
  "conn.signedOut": "Signed out",
  "conn.online": "Online",
  "conn.connecting": "Connecting…",
  "conn.offline": "Offline",
  "conn.retrying": "Offline, retrying in {secs}s",
  "list.noMessages": "No messages yet",
  "list.deleted": "Message deleted",
  "list.preview": "{name}: {text}",
  "list.online": "online",
  "list.offline": "offline",
  "list.muted": "Muted",
  "list.mentionedTitle": "You were mentioned",
  "list.mentioned": "mentioned",
  "list.unread": "unread",
  "kind.direct": "Direct message",
  "kind.group": "Group",
  "kind.class": "Class",
  "kind.announcement": "Announcement",
  "header.more": "More",
  "header.moreLabel": "More conversation settings",
  "header.people.one": "{count} person",
  "header.people.other": "{count} people",
  "flag.pin": "Pin", "flag.unpin": "Unpin",
  "flag.mute": "Mute notifications", "flag.unmute": "Unmute notifications",
  "flag.archive": "Archive", "flag.unarchive": "Unarchive",
  "toast.archived": "Conversation archived",
  "toast.unarchived": "Conversation moved back to the inbox",
  "toast.undo": "Undo",
  "toast.removedPerson": "{name} was removed",
  "toast.addedPeople.one": "{count} person added",
  "toast.addedPeople.other": "{count} people added",
  "msg.actions": "Message actions",
  "msg.you": "You",
  "msg.actionsFor": "Actions for the message from {name}",
  "msg.moreReactions": "More reactions",
  "msg.react": "React {emoji}",
  "msg.reply": "Reply",
  "msg.bot": "BOT",
  "msg.botTitle": "Sent by a bot: an automated account of the school",
  "msg.forward": "Forward",
  "msg.edit": "Edit message",
  "msg.delete": "Delete message",
  "msg.deleteStaff": "Delete this message (as staff)",
  "msg.confirmDelete": "Confirm delete",
  "msg.report": "Report",
  "msg.close": "Close",
  "msg.seenClose": "Close the list",
  "classes.heading": "My classes",
  "role.teacher": "Teacher",
  "role.student": "Student",
  "role.admin": "School admin",
  "classes.open": "Open class chat",
  "classes.openAnnouncements": "Announcements",
  "classes.students.one": "{count} student",
  "classes.students.other": "{count} students",
  "classes.none": "You are not in any class.",
  "classes.start": "Start the class chat",
  "people.add": "Add people",
  "people.addLabel": "Find people to add",
  "people.addButton": "Add",
  "people.remove": "Remove",
  "people.removeLabel": "Remove {name} from this conversation",
  "people.confirmRemove": "Remove?",
  "err.generic": "Something went wrong. Try again.",
  "err.invalid_token": "That sign-in link or token is not valid. Ask your school for a new one.",
  "err.expired": "Your session expired. Sign in again.",
  "err.forbidden": "You are not allowed to do that.",
  "err.not_found": "That is no longer here.",
  "err.unsupported_type": "This kind of file cannot be sent.",
  "err.too_large": "This file is too big to send.",
  "err.network": "No connection. Try again when you are online.",
  "fwd.label": "Forward this message",
  "fwd.targets": "Conversations",
  "fwd.heading": "Forward to…",
  "fwd.nowhere": "There is nowhere else you can post.",
  "fwd.done": "Forwarded to {title}",
  "fwd.from": "Forwarded from {from}",
  "fwd.forwarded": "Forwarded",
  "fwd.gone": "This message was deleted, so it can't be forwarded.",
  "dlg.cancel": "Cancel",
  "common.loading": "Loading…",
  "later.title": "Send later",
  "later.list": "Scheduled messages",
  "later.schedule": "Schedule",
  "later.at": "Send at",
  "later.here": "Scheduled here",
  "later.dismiss": "Dismiss",
  "later.cancelLabel": "Cancel the scheduled message {text}",
  "later.none": "Nothing scheduled in this conversation.",
  "later.noText": "Write the message first, then pick when to send it.",
  "later.noTime": "Pick a time in the future.",
  "later.done": "Scheduled: it will be sent at the time you picked.",
  "sched.whyQuiet": "it was during quiet hours",
  "sched.whyBlocked": "it contains words your school does not allow",
  "sched.whyMuted": "you were muted in this conversation",
  "sched.whyPolicy": "your school's rules didn't allow it",
  "sched.whyOther": "it could not be sent",
  "sched.failed": "Not sent at {when}: {why}.",
  "sched.sending": "Sending now…",
  "sched.will": "Will be sent {when}",
  "email.noPreviews": "Your school does not allow message text in email.",
  "email.offline": "Not saved: check your connection and try again.",
  "email.notSaved": "Not saved. Please try again.",
  "email.previews": "Quote the messages in the email (staff only)",
  "email.heading": "Email about unread messages",
  "email.explain": "When direct messages, mentions of you or announcements stay unread for a while and you are not signed in, one email tells you who wrote and how many. Students' emails never include the messages.",
  "email.enabled": "Email me about unread messages",
  "email.open": "Email settings",
  "email.unavailable": "This school's chat server sends no email.",
  "email.noAddress": "Your school has not given the chat an email address for you.",
  "email.on": "On.",
  "email.off": "Off: you get no email about unread messages.",
  "email.loadFailed": "Your settings could not be loaded. Please try again.",
  "report.rateLimited": "You have sent several reports in a short time. Please wait a moment and try again.",
  "report.conflict": "You cannot report this.",
  "report.gone": "This is no longer there to report.",
  "report.offline": "The report could not be sent: check your connection and try again.",
  "report.failed": "The report could not be sent. Please try again.",
  "report.headingMessage": "Report a message from {name}",
  "report.pick": "Pick what is wrong first.",
  "report.thanks": "Thank you. Your report was sent to your school's safeguarding team.",
  "block.failed": "Not blocked: {error}",
  "block.unblockFailed": "Not unblocked: {error}",
  "refuse.prefix": "Not sent:",
  "refuse.prefixSaved": "Not saved:",
  "refuse.blocked": "Not sent: this message contains words your school does not allow.",
  "refuse.quiet": "Not sent: it is quiet hours now.",
  "refuse.policyThere": "Not sent: your school's rules don't let you post there.",
  "refuse.forbiddenThere": "You can't post in that conversation.",
  "refuse.conflict": "That can't be done now.",
  "refuse.other": "That didn't work. Check your connection and try again.",
  "refuse.until": " until {time}",
  "refuse.slow.one": "Not sent: slow mode is on here. You can send again in {count} second.",
  "refuse.slow.other": "Not sent: slow mode is on here. You can send again in {count} seconds.",
  "refuse.muted": "Not sent: you are muted in this conversation{until}.",
  "refuse.policy": "Not sent: your school's rules don't let you post in this conversation.",
  "policy.directStaff": "Your school lets students message staff only.",
  "policy.directClassmates": "Your school lets students message their classmates and staff only.",
  "policy.directNone": "Your school does not let students start direct messages.",
  "policy.groupsStaff": "Only staff can start groups at your school.",
  "policy.groupsSupervised": "Groups at your school need a teacher: add a member of staff.",
  "policy.noAdmins": "Students cannot message the school's admins.",
  "readonly.blocked": "You can't send messages in this conversation any more. You can still read it.",
  "readonly.refused": "You can't post in this conversation: your school's rules don't allow it. You can still read it.",
  "readonly.policy": "Read-only: your school's policy no longer lets students post here. You can still read it.",
  "reason.bullying": "Bullying or being mean",
  "reason.harassment": "Harassment or unwanted contact",
  "reason.self_harm": "Someone may hurt themselves",
  "reason.sexual_content": "Sexual content",
  "reason.violence": "Violence or threats",
  "reason.spam": "Spam",
  "reason.other": "Something else",
  "reason.filter": "Word filter",
  "mod.badgeOpen.one": ", {count} open case",
  "mod.badgeOpen.other": ", {count} open cases",
  "mod.badgeNone": ", no open cases",
  "mod.person": "{name} (the person)",
  "mod.reports.one": "{count} report",
  "mod.reports.other": "{count} reports",
  "mod.escalatedShort": "escalated",
  "mod.escalatedAt": "escalated {time}",
  "mod.loadingCase": "Loading the case…",
  "mod.pick": "Pick a case",
  "mod.messageBy": "A message by {name}",
  "mod.reportsHeading": "Reports",
  "mod.contextHeading": "The message and what was said around it",
  "mod.gone": "The message is no longer stored.",
  "mod.historyHeading": "What was done",
  "mod.historyLine": "{name} {what}",
  "mod.did.keep": "kept the message",
  "mod.did.remove_message": "removed the message",
  "mod.did.mute_author": "muted the author",
  "mod.did.escalate": "escalated the case",
  "mod.forHours": "for {hours} h",
  "mod.setTo": "set it to {status}",
  "mod.and": " and ",
  "mod.contextLabel": "Messages around the reported one",
  "mod.reportedFlag": "Reported message:",
  "mod.edited": "edited",
  "mod.removed": "removed",
  "mod.earlier": "Earlier versions",
  "mod.act": "Act on it",
  "mod.note": "Note for the record (optional)",
  "mod.keep": "Keep it and close the case",
  "mod.remove": "Remove the message",
  "mod.escalated": "Escalated",
  "mod.escalate": "Escalate",
  "mod.muteHours": "Mute the author here for (hours)",
  "mod.mute": "Mute",
  "mod.status": "Status",
  "mod.setStatus": "Set status",
  "mod.state.open": "Open",
  "mod.state.in_review": "In review",
  "mod.state.resolved": "Resolved",
  "mod.errCases": "The cases could not be read: {error}",
  "mod.errCase": "This case could not be read: {error}",
  "mod.done": "Done.",
  "mod.errAct": "That did not work: {error}",
  "mod.newCase": "New case: {name}",
  "upload.uploading": "Uploading {name}",
  "upload.done": "uploaded",
  "upload.retryLabel": "Retry uploading {name}",
  "upload.removeLabel": "Remove {name}",
  "upload.openImage": "Open image {name}",
  "file.file": "file",
  "file.fileKind": "File",
  "file.image": "Image",
  "file.audio": "Audio",
  "file.video": "Video",
  "file.pdf": "PDF",
  "file.document": "Document",
  "file.spreadsheet": "Spreadsheet",
  "file.presentation": "Presentation",
  "file.text": "Text",
  "new.titleClass": "Title (the class name if empty)",
  "new.titleGroup": "Group title",
  "new.title": "Title",
  "new.pickClass": "Pick or type the class.",
  "new.pickGroup": "Pick at least one person for the group.",
  "new.pickPerson": "Pick a person to message.",
});

export const CATALOGUES = Object.freeze({ en: EN, km: KM, fr: FR });
export const LANGUAGES = Object.freeze([["en", "English"], ["km", "\u1781\u17d2\u1798\u17c2\u179a"], ["fr", "Fran\u00e7ais"]]);
const LANG_KEY = "chat.lang";

/** The page's language: <html lang> (set by applyLanguage), English outside a browser. */
export function currentLanguage() {
  const lang = typeof document === "undefined" ? "en" : (document.documentElement.lang || "en").split("-")[0];
  return CATALOGUES[lang] ? lang : "en";
}

/** The first supported language of the user's choice, then the browser's (its Accept-Language), else English. */
export function pickLanguage(saved, preferred) {
  for (const tag of [saved, ...(preferred || [])]) {
    const lang = String(tag || "").toLowerCase().split("-")[0];
    if (CATALOGUES[lang]) return lang;
  }
  return "en";
}

/** Decide the language and let the page's lang follow it (a choice is remembered in the browser). */
export function applyLanguage(choice) {
  if (choice) localStorage.setItem(LANG_KEY, choice);
  const lang = pickLanguage(localStorage.getItem(LANG_KEY), navigator.languages || [navigator.language]);
  document.documentElement.lang = lang;
  return lang;
}

/** The page's own markup in the page's language: data-i18n (text), data-i18n-label (aria-label),
 * data-i18n-title and data-i18n-placeholder name catalogue keys. */
export function translateStatic(root) {
  const set = (attr, fn) => { for (const node of root.querySelectorAll(`[${attr}]`)) fn(node, t(node.getAttribute(attr))); };
  set("data-i18n", (n, text) => { n.textContent = text; });
  set("data-i18n-label", (n, text) => n.setAttribute("aria-label", text));
  set("data-i18n-title", (n, text) => { n.title = text; });
  set("data-i18n-placeholder", (n, text) => { n.placeholder = text; });
}

/** The text for `key` with `{name}` placeholders filled from `params` (`count` picks the plural),
 * in the page's language (English where its catalogue has no such key). */
export function t(key, params) {
  const lang = currentLanguage();
  const text = lookup(CATALOGUES[lang], lang, key, params) ?? lookup(EN, "en", key, params);
  if (text === undefined) return key;
  return params ? text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m)) : text;
}

function lookup(cat, lang, key, params) {
  if (cat[key] !== undefined) return cat[key];
  if (params && typeof params.count === "number") {
    return cat[`${key}.${new Intl.PluralRules(lang).select(params.count)}`] ?? cat[`${key}.other`];
  }
  return undefined;
}

/** Whether the catalogue has `key` (a plural key counts when it has an `other` form). */
export function hasText(key) {
  return key in EN || `${key}.other` in EN;
}

/** The user's words for a server error: a known code's own text, never the server's raw message. */
export function errorText(err, fallbackKey = "err.generic") {
  const code = err && err.code;
  if (code && hasText(`err.${code}`)) return t(`err.${code}`);
  if (err && err.status === 401) return t("err.invalid_token");
  if (err && (err.status === 403 || code === "forbidden")) return t("err.forbidden");
  if (err && (err.status === 413)) return t("err.too_large");
  if (err && (err.status === 415)) return t("err.unsupported_type");
  return t(fallbackKey);
}
