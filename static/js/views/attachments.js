// Attachments: the composer's tray (previews, progress, remove, retry), the files shown in
// messages (inline thumbnails that open full size, file cards with name, size and type), and
// the full-size viewer. Images and downloads use the signed links of /api/uploads/links: an
// <img> or a plain link cannot send the Authorization header.
import { el } from "../dom.js";
import { fileKind, formatSize, isPicture } from "../files.js";
import { uploadsFor } from "../state/uploads.js";
import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

/** The composer's files for the open conversation; `on` = {remove(localId), retry(localId)}. */
export function renderTray(root, state, on) {
  const items = uploadsFor(state.uploads, state.conversations.active);
  root.hidden = items.length === 0;
  const focusedAction = root.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  const focusedId = focusedAction ? document.activeElement.closest("li").dataset.localId : null;
  root.replaceChildren(...items.map(([localId, u]) => {
    const label = `${u.name}, ${formatSize(u.size)}`;
    const preview = u.previewUrl ? el("img", { class: "tray-thumb", src: u.previewUrl, alt: "" })
      : el("span", { class: "tray-icon", "aria-hidden": "true", text: fileKind(u.mimeType, u.name) });
    const status = u.status === "failed" ? el("span", { class: "error", "data-testid": "upload-error", text: u.error })
      : u.status === "uploading" ? el("progress", { max: String(u.total || 1), value: String(u.loaded || 0),
        "aria-label": t("upload.uploading", { name: u.name }), "data-testid": "upload-progress" })
        : el("span", { class: "sr-only", text: t("upload.done") });
    return el("li", { class: "tray-item " + u.status, "data-testid": "upload-item", dataset: { localId, status: u.status } },
      preview,
      el("span", { class: "tray-name", text: label }),
      status,
      u.status === "failed" && !u.final ? el("button", { type: "button", class: "link", "data-testid": "upload-retry", dataset: { action: "retry" },
        "aria-label": t("upload.retryLabel", { name: u.name }), text: t("outbox.retry"), onclick: () => on.retry(localId) }) : null,
      el("button", { type: "button", class: "link", "data-testid": "upload-remove", dataset: { action: "remove" },
        "aria-label": t("upload.removeLabel", { name: u.name }), title: t("outbox.remove"), text: "\u2715", onclick: () => on.remove(localId) }));
  }));
  if (focusedId) {
    const again = root.querySelector(`li[data-local-id="${CSS.escape(focusedId)}"] [data-action="${focusedAction}"]`)
      || root.querySelector(`li[data-local-id="${CSS.escape(focusedId)}"] button`);
    if (again) again.focus();
    else $("composer-input").focus();
  }
}

/** The files of a message: `links` maps upload ids to signed links; `on.view(attachment)` opens a picture. */
export function attachmentsEl(attachments, links, on) {
  const box = el("div", { class: "attachments", "data-testid": "attachments" });
  for (const a of attachments) {
    const link = a.id ? links[a.id] : null;
    if (a.id && isPicture(a)) {
      const img = link && link.thumbnailUrl ? el("img", { src: link.thumbnailUrl, alt: a.name, "data-testid": "attachment-thumb",
        width: thumbSize(a).w, height: thumbSize(a).h }) : el("span", { class: "thumb-wait", text: a.name });
      box.append(el("button", { type: "button", class: "thumb", "data-testid": "attachment-image",
        "aria-label": t("upload.openImage", { name: a.name }), dataset: { uploadId: a.id }, onclick: () => on.view(a) }, img));
      continue;
    }
    // a file card: name, size and type; a link once the signed URL is there
    const href = a.id ? (link ? link.url : null) : (/^https?:\/\//i.test(a.url || "") ? a.url : null);
    const body = [el("span", { class: "file-icon", "aria-hidden": "true", text: "\u{1F4C4}" }),
      el("span", { class: "file-name", "data-testid": "file-name", text: a.name || t("file.file") }),
      el("span", { class: "file-meta", "data-testid": "file-meta",
        text: [a.size ? formatSize(a.size) : null, fileKind(a.mimeType, a.name)].filter(Boolean).join(" \u00b7 ") })];
    box.append(href
      ? el("a", { class: "file-card", "data-testid": "attachment-file", href, target: a.id ? null : "_blank",
        download: a.id ? (a.name || "") : null, rel: "noopener noreferrer", dataset: { uploadId: a.id || "" } }, ...body)
      : el("span", { class: "file-card", "data-testid": "attachment-file", dataset: { uploadId: a.id || "" } }, ...body));
  }
  return box;
}

// The thumbnail's box from the image's own size, so the list does not jump when it loads.
function thumbSize(a) {
  const max = 200;
  const w = Number(a.width) || max, h = Number(a.height) || max;
  const scale = Math.min(1, max / Math.max(w, h));
  return { w: String(Math.round(w * scale)), h: String(Math.round(h * scale)) };
}

/** The full-size viewer (a modal dialog: Escape or Close shut it, focus returns to the thumbnail). */
export function openViewer(a, link) {
  const dialog = $("viewer");
  $("viewer-title").textContent = a.name;
  const img = el("img", { src: link.url, alt: a.name, "data-testid": "viewer-image" });
  $("viewer-body").replaceChildren(img);
  const dl = $("viewer-download");
  dl.href = link.url;
  dl.setAttribute("download", a.name);
  dialog.showModal();
  $("viewer-close").focus();
}
