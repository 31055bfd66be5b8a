// What the person is in the middle of, kept in state so a re-render never loses it:
// {editing: {messageId, conversationId, seq, draft} | null, armedDelete: messageId | null, drafts: {[conversationId]: text}}.

/** Reducer for the ui slice. */
export function uiReducer(slice = { editing: null, armedDelete: null, drafts: {} }, action) {
  switch (action.type) {
    case "edit/start":
      return { ...slice, armedDelete: null, editing: { messageId: action.messageId, conversationId: action.conversationId,
        seq: action.seq, draft: action.text } };
    case "edit/change":
      if (!slice.editing) return slice;
      return { ...slice, editing: { ...slice.editing, draft: action.draft } };
    case "edit/stop":
      return slice.editing ? { ...slice, editing: null } : slice;
    case "delete/arm":
      return { ...slice, armedDelete: action.messageId };
    case "draft/set":
      if ((slice.drafts[action.conversationId] || "") === action.text) return slice;
      return { ...slice, drafts: { ...slice.drafts, [action.conversationId]: action.text } };
    case "message/deleted": {
      // a deleted message cannot be edited any more
      const e = slice.editing;
      if (!e || e.conversationId !== action.conversationId || e.seq !== action.seq) return slice;
      return { ...slice, editing: null };
    }
    case "conversation/open":
    case "conversation/close":
      // an edit box belongs to the conversation on screen
      return slice.editing || slice.armedDelete ? { ...slice, editing: null, armedDelete: null } : slice;
    default:
      return slice;
  }
}
