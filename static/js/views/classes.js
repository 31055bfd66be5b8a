// "My classes" in the sidebar: each class of mine from the roster with its size and my role, and
// one button that opens its class chat (started first when the class has none yet and I may open
// it), plus its announcements when I am in them.
import { el } from "../dom.js";
import { t } from "../i18n.js";
import { classConversation } from "../state/classes.js";

/** Render into the <details> `root`; `on` = {open(classId, type)}. */
export function renderClasses(root, state, on) {
  const { loaded, list, opening } = state.classes;
  root.hidden = !loaded || (!list.length && state.me.role === "student");
  if (loaded && !root.dataset.shown) {
    // staff see their classes at once; the reader's own open or close is kept after that
    root.dataset.shown = "1";
    root.open = state.me.role !== "student";
  }
  const count = root.querySelector("[data-testid=classes-count]");
  count.textContent = loaded ? ` (${list.length})` : "";
  const byId = state.conversations.byId;
  const ul = root.querySelector("ul");
  const focused = ul.contains(document.activeElement) ? document.activeElement.dataset.focusKey : null;
  const rows = list.map((c) => {
    const chat = classConversation(c, "class", byId);
    const news = classConversation(c, "announcement", byId);
    const facts = [t(`role.${c.role}`), t("classes.students", { count: c.studentCount })].join(" \u00b7 ");
    const canStart = !chat && c.mayOpen;
    return el("li", { class: "class-row", "data-testid": "class-row", dataset: { classId: c.id } },
      el("span", { class: "class-name", text: c.name }),
      el("span", { class: "class-facts", text: facts }),
      el("span", { class: "class-buttons" },
        chat || canStart ? el("button", { type: "button", class: "class-open", "data-testid": "class-open",
          dataset: { focusKey: `${c.id}/class` }, disabled: opening === c.id ? true : null,
          "aria-label": `${chat ? t("classes.open") : t("classes.start")}: ${c.name}`,
          text: chat ? t("classes.open") : t("classes.start"), onclick: () => on.open(c.id, "class") }) : null,
        news ? el("button", { type: "button", class: "class-news link", "data-testid": "class-news",
          dataset: { focusKey: `${c.id}/announcement` }, "aria-label": `${t("classes.openAnnouncements")}: ${c.name}`,
          text: t("classes.openAnnouncements"), onclick: () => on.open(c.id, "announcement") }) : null));
  });
  if (loaded && !list.length) rows.push(el("li", { class: "class-none", text: t("classes.none") }));
  ul.replaceChildren(...rows);
  if (focused) {
    const again = ul.querySelector(`[data-focus-key="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}
