// The effects behind attachments: uploading the composer's files (progress, retry, removal),
// asking for the signed links the messages on screen need, and opening a picture full size. The
// state lives in the uploads, links and linkAsks slices; this only turns browser events into actions
// (and keeps the Files being uploaded, for a retry, with their abort functions).
import { uploadFile } from "../uploader.js";
import { linksToFetch } from "../state/uploads.js";
import { convMessages } from "../state/messages.js";
import { openViewer } from "../views/attachments.js";
import { errorText, t } from "../i18n.js";

const LINK_MARGIN_MS = 60000;  // a signed link this close to its expiry is asked for again

export class AttachmentsController {
  /**
   * @param {object} deps {api(): Api, state(): state, dispatch(action), update(action) (no render),
   *   showError(err), newId(): string}
   */
  constructor(deps) {
    this.deps = deps;
    this.jobs = new Map();     // localId -> {file, abort}: the File is kept for a retry
  }

  /** Start uploading files for the open conversation's composer. */
  addFiles(files) {
    const id = this.deps.state().conversations.active;
    if (!id) return;
    for (const file of files) {
      const localId = this.deps.newId();
      const previewUrl = /^image\//.test(file.type) ? URL.createObjectURL(file) : null;
      this.jobs.set(localId, { file, abort: null });
      this.deps.dispatch({ type: "upload/added", localId, conversationId: id, name: file.name || "file", size: file.size,
        mimeType: file.type, previewUrl, addedAt: Date.now() });
      this.start(localId);
    }
  }

  start(localId) {
    const job = this.jobs.get(localId);
    if (!job) return;
    const running = uploadFile(this.deps.api().token, job.file,
      (loaded, total) => this.deps.dispatch({ type: "upload/progress", localId, loaded, total }));
    job.abort = running.abort;
    // a removed (or re-tried) upload's late answer is dropped: the job is no longer this one
    running.done.then((upload) => {
      if (this.jobs.get(localId) === job) this.deps.dispatch({ type: "upload/done", localId, upload });
    }, (err) => {
      if (err.code !== "aborted" && this.jobs.get(localId) === job) {
        // a refusal (the file's type, its size) is final: no Retry; a lost connection may be retried
        const final = err.status >= 400 && err.status < 500;
        this.deps.dispatch({ type: "upload/failed", localId, final,
          error: final ? errorText(Object.assign(err, { status: err.status === 400 ? 415 : err.status })) : t("err.network") });
      }
    });
  }

  /** Upload a failed file again. */
  retry(localId) {
    this.deps.dispatch({ type: "upload/retry", localId });
    this.start(localId);
  }

  /** Take a file out of the composer (an upload under way is cancelled). */
  remove(localId) {
    const job = this.jobs.get(localId);
    if (job && job.abort) job.abort();
    this.forget(localId);
    this.deps.dispatch({ type: "upload/removed", localId });
  }

  /** Drop what the page holds for a file (after a send or a removal). */
  forget(localId) {
    const u = this.deps.state().uploads[localId];
    this.jobs.delete(localId);
    if (u && u.previewUrl) URL.revokeObjectURL(u.previewUrl);
  }

  /** Ask for the signed links the open conversation's attachments lack (or that near expiry). */
  async fetchLinks() {
    const state = this.deps.state();
    const id = state.conversations.active;
    if (!id) return;
    const ids = [];
    const { asking, refused } = state.linkAsks;
    for (const m of Object.values(convMessages(state.messages, id).bySeq)) {
      for (const a of m.attachments || []) if (a.id && !refused[a.id] && !asking[a.id]) ids.push(a.id);
    }
    const wanted = linksToFetch(state.links, ids, Date.now(), LINK_MARGIN_MS);
    if (!wanted.length) return;
    this.deps.update({ type: "links/asking", ids: wanted });  // nothing on screen shows it
    try {
      for (let i = 0; i < wanted.length; i += 100) {
        const chunk = wanted.slice(i, i + 100);
        const links = (await this.deps.api().post("/api/uploads/links", { ids: chunk })).data;
        this.deps.dispatch({ type: "links/loaded", links, asked: chunk });
      }
    } catch (err) {
      console.warn("links failed", err);
    } finally {
      this.deps.update({ type: "links/settled", ids: wanted });
    }
  }

  /** Open a picture full size (with a fresh link when the one held is about to expire). */
  async view(a) {
    let link = this.deps.state().links[a.id];
    if (!link || Date.parse(link.expiresAt) - LINK_MARGIN_MS <= Date.now()) {
      try {
        const links = (await this.deps.api().post("/api/uploads/links", { ids: [a.id] })).data;
        this.deps.dispatch({ type: "links/loaded", links });
      } catch (err) {
        this.deps.showError(err);
        return;
      }
      link = this.deps.state().links[a.id];
    }
    if (link) openViewer(a, link);
    else this.deps.showError(Object.assign(new Error("file_gone"), { code: "file_gone" }));
  }

  /**
   * Files dropped on `zone` are attached while `accepting()` (a composer is shown); `hint(on)`
   * shows or hides the drop hint.
   */
  wireDrop(zone, accepting, hint) {
    const carriesFiles = (ev) => ev.dataTransfer && [...ev.dataTransfer.types].includes("Files");
    let depth = 0;  // dragenter/dragleave fire for every child crossed
    zone.addEventListener("dragenter", (ev) => {
      if (!carriesFiles(ev) || !accepting()) return;
      depth += 1;
      hint(true);
    });
    zone.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) hint(false); });
    zone.addEventListener("dragover", (ev) => {
      if (!carriesFiles(ev) || !accepting()) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
    });
    zone.addEventListener("drop", (ev) => {
      depth = 0;
      hint(false);
      if (!carriesFiles(ev) || !accepting()) return;
      ev.preventDefault();
      this.addFiles([...ev.dataTransfer.files]);
    });
  }
}
