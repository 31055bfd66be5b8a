// What the page says about a file: its size and kind, from the metadata alone. Pure, so node can test it.
import { t } from "./i18n.js";

const KINDS = [
  [/^image\//, "file.image"], [/^audio\//, "file.audio"], [/^video\//, "file.video"], [/^application\/pdf$/, "file.pdf"],
  [/wordprocessingml|msword|opendocument\.text/, "file.document"], [/spreadsheetml|ms-excel|opendocument\.spreadsheet/, "file.spreadsheet"],
  [/presentationml|ms-powerpoint|opendocument\.presentation/, "file.presentation"], [/^text\//, "file.text"],
];

/** "512 B", "2.5 KB", "12 MB" (powers of 1024, one decimal below 10). */
export function formatSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v < 10 ? v.toFixed(1).replace(/\.0$/, "") : Math.round(v)} ${units[i]}`;
}

/** A short human name of a file's type ("PDF", "Image", …; the extension, upper-cased, otherwise). */
export function fileKind(mimeType, name) {
  for (const [re, key] of KINDS) if (re.test(mimeType || "")) return t(key);
  const ext = /\.([A-Za-z0-9]{1,8})$/.exec(name || "");
  return ext ? ext[1].toUpperCase() : t("file.fileKind");
}

/** Whether an attachment is shown as an inline picture (an image the server made a thumbnail of). */
export function isPicture(attachment) {
  return /^image\//.test(attachment.mimeType || "") && Boolean(attachment.thumbnail);
}

/** The message type a send with these attachments carries: "image" when all are images, "file" otherwise. */
export function messageType(attachments) {
  if (!attachments.length) return "text";
  return attachments.every((a) => /^image\//.test(a.mimeType || "")) ? "image" : "file";
}
