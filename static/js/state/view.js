// What the page is doing between renders, kept in state so the controllers hold none of it:
// {notice: text ("" for none: a failed action's message, shown in the typing line until the next
//  change), stick / keepScroll (the next render of the messages scrolls to the newest / keeps the
//  reader's place as newer pages load below; keepScroll wins), paging: {older, newer} (a
//  page that way is being loaded), announced: {key: "conversationId/seq" | null, text} | null
//  (what the aria-live region last said)}.

const INITIAL = Object.freeze({ notice: "", stick: false, keepScroll: false, paging: Object.freeze({ older: false, newer: false }), announced: null });

/** Reducer for the view slice. */
export function viewReducer(slice = INITIAL, action) {
  switch (action.type) {
    case "notice/set":
      return slice.notice === action.text ? slice : { ...slice, notice: action.text };
    case "notice/clear":
      return slice.notice ? { ...slice, notice: "" } : slice;
    case "scroll/stick":
      return slice.stick ? slice : { ...slice, stick: true };
    case "scroll/keep":
      return slice.keepScroll ? slice : { ...slice, keepScroll: true };
    case "scroll/done":
      return slice.stick || slice.keepScroll ? { ...slice, stick: false, keepScroll: false } : slice;
    case "paging/start":
    case "paging/end": {
      const on = action.type === "paging/start";
      if (slice.paging[action.direction] === on) return slice;
      return { ...slice, paging: { ...slice.paging, [action.direction]: on } };
    }
    case "announce":
      return { ...slice, announced: { key: `${action.message.conversationId}/${action.message.seq}`,
        text: `${action.message.senderName}: ${action.message.text || ""}`.slice(0, 200) } };
    case "message/deleted":
      // a deleted message is taken back from the live region
      if (!slice.announced || slice.announced.key !== `${action.conversationId}/${action.seq}`) return slice;
      return { ...slice, announced: { key: null, text: "" } };
    default:
      return slice;
  }
}
