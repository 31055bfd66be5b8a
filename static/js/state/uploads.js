// Files being attached in the composer, per conversation, keyed by a local id:
// {[localId]: {conversationId, name, size, mimeType, previewUrl, status: "uploading" | "done" | "failed",
//  loaded, total, upload: server data | null, error, addedAt}}
// and the signed links of stored uploads: links = {[uploadId]: {url, thumbnailUrl, expiresAt}}.
import { without } from "./keyed.js";
import { t } from "../i18n.js";

/** Reducer for the composer's uploads. */
export function uploadsReducer(slice = {}, action) {
  switch (action.type) {
    case "upload/added": {
      const { localId, conversationId, name, size, mimeType, previewUrl, addedAt } = action;
      return { ...slice, [localId]: { conversationId, name, size, mimeType, previewUrl: previewUrl || null,
        status: "uploading", loaded: 0, total: size, upload: null, error: null, addedAt } };
    }
    case "upload/progress": {
      const u = slice[action.localId];
      if (!u || u.status !== "uploading" || u.loaded === action.loaded) return slice;
      return { ...slice, [action.localId]: { ...u, loaded: action.loaded, total: action.total || u.total } };
    }
    case "upload/retry": {
      const u = slice[action.localId];
      if (!u || u.status !== "failed") return slice;
      return { ...slice, [action.localId]: { ...u, status: "uploading", loaded: 0, error: null } };
    }
    case "upload/done": {
      const u = slice[action.localId];
      if (!u) return slice;
      return { ...slice, [action.localId]: { ...u, status: "done", loaded: u.total, upload: action.upload, error: null } };
    }
    case "upload/failed": {
      const u = slice[action.localId];
      if (!u) return slice;
      return { ...slice, [action.localId]: { ...u, status: "failed", error: action.error || t("upload.failed"), final: Boolean(action.final) } };
    }
    case "upload/removed":
      return without(slice, action.localId);
    case "outbox/queued":
    case "conversation/removed": {
      // sent (they travel with the outbox entry now) or the conversation is gone
      const gone = (action.localIds || null);
      const next = {};
      for (const [id, u] of Object.entries(slice)) {
        const drop = action.type === "outbox/queued" ? (gone ? gone.includes(id) : false) : u.conversationId === action.conversationId;
        if (!drop) next[id] = u;
      }
      return Object.keys(next).length === Object.keys(slice).length ? slice : next;
    }
    default:
      return slice;
  }
}

/** The composer's files for one conversation, in the order they were added, as [localId, entry]. */
export function uploadsFor(slice, conversationId) {
  return Object.entries(slice).filter(([, u]) => u.conversationId === conversationId)
    .sort((a, b) => a[1].addedAt - b[1].addedAt);
}

/** Whether the files of a conversation may be sent: none still uploading or failed. */
export function uploadsReady(slice, conversationId) {
  return uploadsFor(slice, conversationId).every(([, u]) => u.status === "done");
}

/** Reducer for the signed links of stored uploads. */
export function linksReducer(slice = {}, action) {
  switch (action.type) {
    case "links/loaded":
      return Object.keys(action.links).length ? { ...slice, ...action.links } : slice;
    default:
      return slice;
  }
}

/** Upload ids among `ids` with no link, or one expiring before `now + marginMs`. */
export function linksToFetch(slice, ids, now, marginMs) {
  return [...new Set(ids)].filter((id) => {
    const l = slice[id];
    return !l || Date.parse(l.expiresAt) - marginMs <= now;
  });
}
