// Connection, presence and typing: {conn: {state, retryAt}, online: {[userId]: true},
// typing: {[conversationId]: {[userId]: name}}}.
import { t } from "../i18n.js";

/** Reducer for the session slice. */
export function sessionReducer(slice = { conn: { state: "connecting", retryAt: null }, online: {}, typing: {} }, action) {
  switch (action.type) {
    case "conn/state":
      return { ...slice, conn: { state: action.state, retryAt: action.retryAt === undefined ? null : action.retryAt } };
    case "presence/list": {
      const online = {};
      for (const id of action.userIds) online[id] = true;
      return { ...slice, online };
    }
    case "presence/online":
      return slice.online[action.userId] ? slice : { ...slice, online: { ...slice.online, [action.userId]: true } };
    case "presence/offline": {
      if (!slice.online[action.userId]) return slice;
      const online = { ...slice.online };
      delete online[action.userId];
      return { ...slice, online };
    }
    case "typing/start": {
      const now = slice.typing[action.conversationId] || {};
      if (now[action.userId] === action.name) return slice;
      return { ...slice, typing: { ...slice.typing, [action.conversationId]: { ...now, [action.userId]: action.name } } };
    }
    case "typing/stop":
      return stopTyping(slice, action.conversationId, action.userId);
    case "message/new":
      // a message ends its sender's typing
      return stopTyping(slice, action.message.conversationId, action.message.senderId);
    default:
      return slice;
  }
}

function stopTyping(slice, conversationId, userId) {
  const now = slice.typing[conversationId];
  if (!now || !(userId in now)) return slice;
  const rest = { ...now };
  delete rest[userId];
  return { ...slice, typing: { ...slice.typing, [conversationId]: rest } };
}

/** The typing line for a conversation ("" when nobody types). */
export function typingText(slice, conversationId) {
  const names = Object.values(slice.typing[conversationId] || {});
  if (names.length === 1) return t("typing.single", { name: names[0] });
  if (names.length === 2) return t("typing.pair", { a: names[0], b: names[1] });
  if (names.length > 2) return t("typing.several");
  return "";
}
