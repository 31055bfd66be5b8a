// The reconnect policy shared by the web client and the storm benchmark.
import assert from "node:assert/strict";
import test from "node:test";

import { MAX_DELAY, RESTART_ATTEMPTS, RESTART_CAP, retryDelay, shedDelay } from "../../static/js/backoff.js";

const top = () => 0.999999;

test("the window doubles from half a second up to thirty, with full jitter", () => {
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => retryDelay(a, { random: top })), [500, 1000, 2000, 4000, 8000]);
  assert.equal(retryDelay(20, { random: top }), MAX_DELAY);
  assert.equal(retryDelay(3, { random: () => 0 }), 0);
  assert.equal(retryDelay(3, { random: () => 0.5 }), 1000);
});

test("after the server went away the window stops at two seconds, then grows again", () => {
  const restarting = { restarting: true, random: top };
  assert.deepEqual([1, 2, 3, 4, 10].map((a) => retryDelay(a, restarting)), [500, 1000, RESTART_CAP, RESTART_CAP, RESTART_CAP]);
  assert.equal(retryDelay(RESTART_ATTEMPTS, restarting), RESTART_CAP);
  assert.equal(retryDelay(RESTART_ATTEMPTS + 1, restarting), MAX_DELAY);
});

test("a shed handshake waits at least Retry-After, spread over as much again", () => {
  assert.equal(shedDelay("1", () => 0), 1000);
  assert.equal(shedDelay(2, top), 4000);
  assert.equal(shedDelay(undefined, () => 0), 1000);
});
