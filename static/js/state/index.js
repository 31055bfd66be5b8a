// The whole client state and its one reducer. Pure: no DOM, no network, no clock; importable by
// node for the unit tests. Anything impure an action depends on (who I am, whether the tab is
// visible, the time) travels inside the action.
import { conversationsReducer } from "./conversations.js";
import { messagesReducer } from "./messages.js";
import { outboxReducer } from "./outbox.js";
import { sessionReducer } from "./session.js";
import { uiReducer } from "./ui.js";
import { unreadReducer } from "./unread.js";
import { linksReducer, uploadsReducer } from "./uploads.js";
import { viewReducer } from "./view.js";
import { adminReducer } from "./admin.js";
import { linkReducer } from "./link.js";
import { linkAsksReducer } from "./linkasks.js";
import { safetyReducer } from "./safety.js";
import { moderationReducer } from "./moderation.js";

/** A fresh state for a signed-in user (`me` as /api/me renders it). */
export function initialState(me) {
  const init = { type: "@init" };
  return {
    me,
    conversations: conversationsReducer(undefined, init),
    messages: messagesReducer(undefined, init),
    outbox: outboxReducer(undefined, init),
    unread: unreadReducer(undefined, init),
    session: sessionReducer(undefined, init),
    ui: uiReducer(undefined, init),
    uploads: uploadsReducer(undefined, init),
    links: linksReducer(undefined, init),
    view: viewReducer(undefined, init),
    admin: adminReducer(undefined, init),
    link: linkReducer(undefined, init),
    linkAsks: linkAsksReducer(undefined, init),
    safety: safetyReducer(undefined, init),
    moderation: moderationReducer(undefined, init),
  };
}

/** state + action -> new state; slices an action does not touch keep their identity. */
export function reduce(state, action) {
  const next = {
    me: state.me,
    conversations: conversationsReducer(state.conversations, action),
    messages: messagesReducer(state.messages, action),
    outbox: outboxReducer(state.outbox, action),
    unread: unreadReducer(state.unread, action, state),
    session: sessionReducer(state.session, action),
    ui: uiReducer(state.ui, action),
    uploads: uploadsReducer(state.uploads, action),
    links: linksReducer(state.links, action),
    view: viewReducer(state.view, action),
    admin: adminReducer(state.admin, action),
    link: linkReducer(state.link, action),
    linkAsks: linkAsksReducer(state.linkAsks, action),
    safety: safetyReducer(state.safety, action),
    moderation: moderationReducer(state.moderation, action),
  };
  for (const key of Object.keys(next)) if (next[key] !== state[key]) return next;
  return state;
}
