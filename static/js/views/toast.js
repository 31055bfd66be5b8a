// A short message at the bottom of the page ("Conversation archived") with an optional Undo; it
// goes by itself after a while, or with Undo, or with the next toast. The timer lives on the node.
const $ = (id) => document.getElementById(id);
const SHOW_MS = 8000;

/** Show `text`; `undo` (optional) is run by the Undo button. */
export function showToast(text, undo) {
  const box = $("toast");
  clearTimeout(Number(box.dataset.timer || 0));
  $("toast-text").textContent = text;
  const button = $("toast-undo");
  button.hidden = !undo;
  button.onclick = undo ? () => { hideToast(); undo(); } : null;
  box.hidden = false;
  box.dataset.timer = String(setTimeout(hideToast, SHOW_MS));
}

export function hideToast() {
  const box = $("toast");
  clearTimeout(Number(box.dataset.timer || 0));
  box.hidden = true;
}
