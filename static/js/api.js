// REST calls: JSON in, JSON out, errors thrown as {code, message, status}.
export class Api {
  constructor(token) { this.token = token; }

  async call(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let payload = {};
    try { payload = await resp.json(); } catch (_) { /* empty body */ }
    if (!resp.ok) {
      const err = new Error((payload.error && payload.error.message) || resp.statusText);
      err.code = payload.error ? payload.error.code : "internal";
      err.status = resp.status;
      throw err;
    }
    return payload;
  }

  get(path) { return this.call("GET", path); }
  post(path, body) { return this.call("POST", path, body === undefined ? {} : body); }
  patch(path, body) { return this.call("PATCH", path, body); }
  delete(path) { return this.call("DELETE", path); }
}

export async function demoUsers() {
  const resp = await fetch("/api/demo/users");
  if (!resp.ok) return null;
  return (await resp.json()).data;
}

export async function demoToken(userId) {
  const resp = await fetch("/api/demo/token", { method: "POST", body: JSON.stringify({ userId }),
    headers: { "Content-Type": "application/json" } });
  if (!resp.ok) throw new Error("demo sign-in failed");
  return (await resp.json()).data.token;
}
