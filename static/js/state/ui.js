// What the person is in the middle of, kept in state so a re-render never loses it:
// {editing: {messageId, conversationId, seq, draft} | null, armedDelete: messageId | null, drafts: {[conversationId]: text},
//  replyTo: {[conversationId]: {id, seq, senderName, text}} (the message the composer answers),
//  highlight: {conversationId, seq} | null (the message a jump landed on),
//  sendAfterUpload: {[conversationId]: true} (Send was pressed while files were still uploading)}.

/** Reducer for the ui slice. */
export function uiReducer(slice = { editing: null, armedDelete: null, drafts: {}, replyTo: {}, highlight: null, sendAfterUpload: {} },
  action) {
  switch (action.type) {
    case "reply/start": {
      const m = action.message;
      return { ...slice, replyTo: { ...slice.replyTo, [m.conversationId]: { id: m.id, seq: m.seq, senderName: m.senderName,
        text: m.text || "" } } };
    }
    case "reply/cancel": {
      if (!slice.replyTo[action.conversationId]) return slice;
      const replyTo = { ...slice.replyTo };
      delete replyTo[action.conversationId];
      return { ...slice, replyTo };
    }
    case "highlight/set": {
      const h = action.conversationId ? { conversationId: action.conversationId, seq: action.seq } : null;
      const same = h && slice.highlight && slice.highlight.conversationId === h.conversationId && slice.highlight.seq === h.seq;
      return same || (!h && !slice.highlight) ? slice : { ...slice, highlight: h };
    }
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
    case "drafts/restored": {
      // saved by an earlier page: a draft this page already has wins
      const drafts = { ...action.drafts, ...Object.fromEntries(Object.entries(slice.drafts).filter(([, v]) => v)) };
      return { ...slice, drafts };
    }
    case "send/afterUpload": {
      const after = { ...slice.sendAfterUpload };
      if (action.on) after[action.conversationId] = true; else delete after[action.conversationId];
      return { ...slice, sendAfterUpload: after };
    }
    case "draft/set":
      if ((slice.drafts[action.conversationId] || "") === action.text) return slice;
      return { ...slice, drafts: { ...slice.drafts, [action.conversationId]: action.text } };
    case "message/deleted": {
      // a deleted message can be neither edited nor answered any more
      let next = slice;
      const e = slice.editing;
      if (e && e.conversationId === action.conversationId && e.seq === action.seq) next = { ...next, editing: null };
      const r = slice.replyTo[action.conversationId];
      if (r && r.seq === action.seq) {
        const replyTo = { ...slice.replyTo };
        delete replyTo[action.conversationId];
        next = { ...next, replyTo };
      }
      return next;
    }
    case "conversation/open":
    case "conversation/close":
      // an edit box and a highlight belong to the conversation on screen
      return slice.editing || slice.armedDelete || slice.highlight
        ? { ...slice, editing: null, armedDelete: null, highlight: null } : slice;
    default:
      return slice;
  }
}
