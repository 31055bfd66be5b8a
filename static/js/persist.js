// The browser's own copy of what must survive a reload or a closed tab: the outbox (messages
// written and not yet stored by the server, each with its clientMsgId, so sending one again after
// a reload stores it once) and the composer drafts, per signed-in user, in IndexedDB. Without
// IndexedDB (a private window may refuse it) every call is a no-op.
const DB_NAME = "school-chat";
const DB_VERSION = 1;

function promised(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export class LocalCopy {
  constructor() {
    this.db = null;  // the open database (a resource, not state)
  }

  /** Open (and on first use create) the database; false when the browser refuses it. */
  async open() {
    if (this.db) return true;
    if (typeof indexedDB === "undefined") return false;
    try {
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        if (!db.objectStoreNames.contains("outbox")) db.createObjectStore("outbox", { keyPath: "key" }).createIndex("user", "userId");
        if (!db.objectStoreNames.contains("drafts")) db.createObjectStore("drafts", { keyPath: "key" }).createIndex("user", "userId");
      };
      this.db = await promised(request);
      return true;
    } catch (_) {
      return false;
    }
  }

  async all(storeName, userId) {
    if (!this.db) return [];
    const tx = this.db.transaction(storeName, "readonly");
    return promised(tx.objectStore(storeName).index("user").getAll(userId));
  }

  write(storeName, fn) {
    if (!this.db) return Promise.resolve();
    const tx = this.db.transaction(storeName, "readwrite");
    fn(tx.objectStore(storeName));
    return new Promise((resolve) => { tx.oncomplete = () => resolve(); tx.onerror = () => resolve(); tx.onabort = () => resolve(); });
  }

  /** The user's saved outbox entries, as {clientMsgId, entry}. */
  async outbox(userId) {
    return (await this.all("outbox", userId)).map((row) => ({ clientMsgId: row.clientMsgId, entry: row.entry }));
  }

  /** Save changed entries and forget removed ones (one transaction). */
  saveOutbox(userId, changed, removed) {
    return this.write("outbox", (os) => {
      for (const [clientMsgId, entry] of changed) os.put({ key: `${userId}/${clientMsgId}`, userId, clientMsgId, entry });
      for (const clientMsgId of removed) os.delete(`${userId}/${clientMsgId}`);
    });
  }

  /** The user's drafts: {[conversationId]: text}. */
  async drafts(userId) {
    const out = {};
    for (const row of await this.all("drafts", userId)) out[row.conversationId] = row.text;
    return out;
  }

  saveDraft(userId, conversationId, text) {
    return this.write("drafts", (os) => {
      const key = `${userId}/${conversationId}`;
      if (text) os.put({ key, userId, conversationId, text }); else os.delete(key);
    });
  }
}

/** What changed between two outbox slices: [[clientMsgId, entry]] to save and clientMsgIds to forget.
 * An entry is saved as waiting ("sending" is what this tab was doing, not what a reload should resume). */
export function outboxDiff(prev, next) {
  const changed = [];
  const removed = [];
  for (const [id, p] of Object.entries(next)) {
    if (prev[id] === p) continue;
    const before = prev[id];
    if (before && sameSaved(before, p)) continue;
    changed.push([id, savedForm(p)]);
  }
  for (const id of Object.keys(prev)) if (!(id in next)) removed.push(id);
  return { changed, removed };
}

export function savedForm(p) {
  return { ...p, status: p.status === "failed" ? "failed" : "queued" };
}

function sameSaved(a, b) {
  const x = savedForm(a);
  const y = savedForm(b);
  return x.status === y.status && x.error === y.error && x.code === y.code && x.text === y.text;
}
