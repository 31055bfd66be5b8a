// When to try the socket again: one policy for the web client and the reconnect-storm benchmark.
//
// Full jitter over a window that doubles from BASE_DELAY to MAX_DELAY, so that thousands of
// clients that lost the server at the same moment come back spread out rather than in waves.
// After the server itself went away (close 1001 "going away" or 1012 "service restart": a
// restart or a deploy, which takes seconds), the window stops growing at RESTART_CAP for the
// first RESTART_ATTEMPTS tries: a server that is down costs nothing to knock on, and one that is
// up but busy says so (it sheds handshakes with 503 + Retry-After before the upgrade) instead of
// slowing everyone down. A server that stays down past that gets the usual growing backoff.
export const BASE_DELAY = 500;
export const MAX_DELAY = 30000;
export const RESTART_CAP = 2000;
export const RESTART_ATTEMPTS = 15;
export const RESTART_CLOSE_CODES = [1001, 1012];

// Milliseconds before reconnect attempt `attempt` (1 for the first retry).
export function retryDelay(attempt, { restarting = false, random = Math.random } = {}) {
  const grown = BASE_DELAY * 2 ** Math.max(0, attempt - 1);
  const cap = restarting && attempt <= RESTART_ATTEMPTS ? RESTART_CAP : MAX_DELAY;
  return Math.round(random() * Math.min(cap, grown));
}

// Milliseconds to wait after a 503 with `Retry-After: seconds` (clients that can read it):
// at least what the server asked, plus up to as much again so the shed clients do not all
// come back in the same instant.
export function shedDelay(retryAfterSeconds, random = Math.random) {
  const base = Math.max(0, Number(retryAfterSeconds) || 1) * 1000;
  return Math.round(base + random() * base);
}
