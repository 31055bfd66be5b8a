// Safeguarding as this user sees it: {policy: {studentDirect, studentGroups,
// studentsMayMessageAdmins} | null (not read yet), blocks: {[userId]: {userId, name, role}} |
// null (not read yet), reported: {[messageId]: true} (messages I reported: they say
// "Reported"), reportedUsers: {[userId]: true}, refused: {[conversationId]: "refused"|"blocked"}
// (a send the server refused for the policy or a block: the composer gives way to a note until
// the policy or my blocks change), personErrors: {[userId]: text} (a refused block, next to
// the person)}.

const INITIAL = Object.freeze({ policy: null, blocks: null, reported: Object.freeze({}), reportedUsers: Object.freeze({}),
  refused: Object.freeze({}), personErrors: Object.freeze({}) });

/** Reducer for the safety slice. */
export function safetyReducer(slice = INITIAL, action) {
  switch (action.type) {
    case "policy/loaded": {
      const same = slice.policy && JSON.stringify(slice.policy) === JSON.stringify(action.policy);
      // a new policy decides every conversation again
      return same ? slice : { ...slice, policy: { ...action.policy }, refused: {} };
    }
    case "blocks/loaded": {
      const blocks = {};
      for (const b of action.blocks) blocks[b.userId] = { userId: b.userId, name: b.name, role: b.role };
      return { ...slice, blocks };
    }
    case "block/added": {
      const b = action.block;
      return { ...slice, blocks: { ...(slice.blocks || {}), [b.userId]: { userId: b.userId, name: b.name, role: b.role } },
        personErrors: drop(slice.personErrors, b.userId) };
    }
    case "block/removed": {
      const blocks = drop(slice.blocks || {}, action.userId);
      return blocks === slice.blocks && !slice.personErrors[action.userId] ? slice
        : { ...slice, blocks, personErrors: drop(slice.personErrors, action.userId) };
    }
    case "person/error":
      if (slice.personErrors[action.userId] === action.text) return slice;
      return { ...slice, personErrors: action.text ? { ...slice.personErrors, [action.userId]: action.text }
        : drop(slice.personErrors, action.userId) };
    case "report/done":
      if (action.messageId) {
        return slice.reported[action.messageId] ? slice : { ...slice, reported: { ...slice.reported, [action.messageId]: true } };
      }
      return slice.reportedUsers[action.userId] ? slice : { ...slice, reportedUsers: { ...slice.reportedUsers, [action.userId]: true } };
    case "reported/restore":
      // what this tab reported before a reload (kept by the browser for this user)
      return { ...slice, reported: { ...slice.reported, ...toSet(action.messageIds) },
        reportedUsers: { ...slice.reportedUsers, ...toSet(action.userIds) } };
    case "send/refused":
      if (slice.refused[action.conversationId] === action.why) return slice;
      return { ...slice, refused: { ...slice.refused, [action.conversationId]: action.why } };
    case "conversation/upsert": {
      // new members (a teacher added to a group) may open it again: the server decides at the next send
      const id = action.conversation.id;
      return slice.refused[id] ? { ...slice, refused: drop(slice.refused, id) } : slice;
    }
    default:
      return slice;
  }
}

function drop(obj, key) {
  if (!obj || !Object.prototype.hasOwnProperty.call(obj, key)) return obj;
  const next = { ...obj };
  delete next[key];
  return next;
}

function toSet(ids) {
  const out = {};
  for (const id of ids || []) out[id] = true;
  return out;
}

/** Whether I block `userId`. */
export function isBlocked(slice, userId) {
  return Boolean(slice.blocks && slice.blocks[userId]);
}

/** My blocks, by name. */
export function blockList(slice) {
  return Object.values(slice.blocks || {}).sort((a, b) => String(a.name).localeCompare(String(b.name)));
}
