// Ids this tab makes up: a message's clientMsgId (the server stores a resent message once) and
// the local id of a file in the composer.

/** A random id, unique per tab ("w-" + time + random, base 36). */
export function newClientId() {
  const rnd = crypto.getRandomValues(new Uint32Array(3));
  return `w-${Date.now().toString(36)}-${Array.from(rnd, (n) => n.toString(36)).join("")}`;
}
