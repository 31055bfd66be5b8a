// One file upload: POST /api/uploads?name=… with the file as the raw body. XMLHttpRequest rather
// than fetch because only it reports upload progress.
import { t } from "./i18n.js";

/**
 * Start uploading `file`; `onProgress(loaded, total)` follows the bytes sent.
 * @returns {{done: Promise<object>, abort: () => void}} `done` resolves with the server's upload
 *   data and rejects with an Error carrying `code` and `status`.
 */
export function uploadFile(token, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const done = new Promise((resolve, reject) => {
    const fail = (message, code, status) => reject(Object.assign(new Error(message), { code, status }));
    xhr.open("POST", `/api/uploads?name=${encodeURIComponent(file.name || "file")}`);
    xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded, ev.total); });
    xhr.addEventListener("load", () => {
      const body = xhr.response || {};
      if (xhr.status === 201 || xhr.status === 200) resolve(body.data);
      else fail((body.error && body.error.message) || t("upload.failedStatus", { status: xhr.status }), body.error ? body.error.code : "internal", xhr.status);
    });
    xhr.addEventListener("error", () => fail(t("upload.lost"), "disconnected", 0));
    xhr.addEventListener("abort", () => fail(t("upload.cancelled"), "aborted", 0));
    xhr.send(file);
  });
  return { done, abort: () => xhr.abort() };
}
