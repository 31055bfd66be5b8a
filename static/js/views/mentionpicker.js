// The composer's @mention autocomplete: typing "@" and a few letters lists the matching
// participants in a listbox under the caret's line. ArrowUp/ArrowDown move, Enter or Tab insert
// "@Name", Escape closes; a click works too. The textarea keeps focus throughout (the active
// option is announced through aria-activedescendant).
import { el } from "../dom.js";
import { insertMention, matchPeople, mentionQuery, mentionsInText } from "../mentions.js";

export class MentionPicker {
  /**
   * @param {HTMLTextAreaElement} input the composer
   * @param {HTMLElement} list the listbox <ul>
   * @param {object} deps {participants(): [{userId, name, userRole}], meId(): string, conversationId(): string}
   */
  constructor(input, list, deps) {
    this.input = input;
    this.list = list;
    this.deps = deps;
    this.options = [];
    this.active = 0;
    this.query = null;
    this.picked = new Map();  // conversationId -> Map(userId -> name)
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    input.addEventListener("keydown", (ev) => this.onKey(ev));
    input.addEventListener("input", () => this.update());
    input.addEventListener("click", () => this.update());
    input.addEventListener("blur", () => this.close());
  }

  /** The ids mentioned in `text` for a conversation (people picked whose "@Name" is still there). */
  mentions(conversationId, text) {
    return mentionsInText(text, this.picked.get(conversationId) || new Map());
  }

  /** Forget the picks of a conversation (its message was sent). */
  forget(conversationId) {
    this.picked.delete(conversationId);
  }

  update() {
    const found = mentionQuery(this.input.value, this.input.selectionStart);
    if (!found || this.input.selectionStart !== this.input.selectionEnd) { this.close(); return; }
    const people = matchPeople(this.deps.participants(), found.query, this.deps.meId());
    if (!people.length) { this.close(); return; }
    const keep = this.options[this.active] && people.findIndex((p) => p.userId === this.options[this.active].userId);
    this.query = found;
    this.options = people;
    this.active = keep > 0 ? keep : 0;
    this.list.replaceChildren(...people.map((p, i) => el("li", { role: "option", id: `mention-opt-${i}`,
      "data-testid": "mention-option", "aria-selected": String(i === this.active), dataset: { user: p.userId },
      // mousedown, not click: the textarea must not lose focus (and close the list) first
      onmousedown: (ev) => { ev.preventDefault(); this.pick(i); } },
    el("span", { text: p.name }), el("span", { class: "role", text: p.userRole || "" }))));
    this.list.hidden = false;
    this.input.setAttribute("aria-activedescendant", `mention-opt-${this.active}`);
  }

  close() {
    if (this.list.hidden && this.query === null) return;
    this.list.hidden = true;
    this.list.replaceChildren();
    this.options = [];
    this.query = null;
    this.input.removeAttribute("aria-activedescendant");
  }

  move(delta) {
    this.active = (this.active + delta + this.options.length) % this.options.length;
    this.list.querySelectorAll("[role=option]").forEach((node, i) => node.setAttribute("aria-selected", String(i === this.active)));
    this.input.setAttribute("aria-activedescendant", `mention-opt-${this.active}`);
  }

  onKey(ev) {
    if (this.list.hidden || !this.options.length || ev.isComposing) return;
    const handled = { ArrowDown: () => this.move(1), ArrowUp: () => this.move(-1), Enter: () => this.pick(this.active),
      Tab: () => this.pick(this.active), Escape: () => this.close() }[ev.key];
    if (!handled || ev.shiftKey) return;
    ev.preventDefault();
    ev.stopImmediatePropagation();  // Enter picks here; it must not also send
    handled();
  }

  pick(i) {
    const person = this.options[i];
    if (!person || !this.query) return;
    const next = insertMention(this.input.value, this.query.start, this.input.selectionStart, person.name);
    this.input.value = next.text;
    this.input.setSelectionRange(next.caret, next.caret);
    const id = this.deps.conversationId();
    if (!this.picked.has(id)) this.picked.set(id, new Map());
    this.picked.get(id).set(person.userId, person.name);
    this.close();
    this.input.dispatchEvent(new Event("input"));  // the draft and the typing notice follow the text
  }
}
