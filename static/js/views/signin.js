// The sign-in card: paste an LMS token, or (in demo mode) pick a demo user.
import { demoToken, demoUsers } from "../api.js";
import { el } from "../dom.js";
import { roleName } from "../i18n.js";

const $ = (id) => document.getElementById(id);

/** Show the card with an optional error; `onToken(token)` is called with the token to try. */
export async function showSignIn(message, onToken) {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message || "";
  $("token-form").onsubmit = (ev) => { ev.preventDefault(); onToken($("token-input").value.trim()); };
  const users = await demoUsers().catch(() => null);
  if (!users) return;
  $("demo-picker").hidden = false;
  $("demo-users").replaceChildren(...users.map((u) => el("li", {}, el("button", {
    type: "button", dataset: { user: u.id }, onclick: async () => onToken(await demoToken(u.id)),
  }, el("span", { text: u.name }), el("span", { class: "role", text: roleName(u.role) })))));
}
