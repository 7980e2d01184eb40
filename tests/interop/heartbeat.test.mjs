// Server idle timeout vs phoenix.js heartbeats (docs/protocol.md §8.1, §8.2), with a short
// `--idle-timeout-ms` so the test takes seconds instead of a minute.
//
// Websocket only: over long-poll phoenix.js sends no heartbeats at all (LongPoll sets
// skipHeartbeat), and what keeps a long-poll session alive is its next poll, within 1.5 × the
// poll window, not the websocket idle timeout this file is about.

import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { clientPool } from "./lib/phx.mjs";
import { startServer } from "./lib/server.mjs";

const IDLE_TIMEOUT_MS = 1_500;

let server;
const pool = clientPool(() => server);

before(async () => {
  server = await startServer({ idleTimeoutMs: IDLE_TIMEOUT_MS });
});
afterEach(() => pool.closeAll());
after(async () => {
  pool.closeAll();
  if (server) await server.stop();
});

// Control: without this, the next test would also pass against a server ignoring the option.
test("a silent socket is closed by the server after the idle timeout", { timeout: 30_000 }, async () => {
  // No heartbeat during the test: phoenix.js's first one would be due after 60 s.
  const c = pool.client("silent", { heartbeatIntervalMs: 60_000 });
  await c.connect();
  const ch = c.channel("rooms:lobby");
  await c.joinOk(ch);
  const lastFrameAt = Date.now();
  const close = await c.next(c.closed, `the server to close the idle socket (~${IDLE_TIMEOUT_MS} ms)`, {
    timeout: IDLE_TIMEOUT_MS + 5_000,
  });
  const idle = close.at - lastFrameAt;
  assert.ok(
    idle >= IDLE_TIMEOUT_MS - 300,
    c.fail(`closed after only ${idle} ms of silence; idle timeout is ${IDLE_TIMEOUT_MS} ms`).message,
  );
});

test("heartbeats every 500 ms keep a socket alive past the idle timeout", { timeout: 30_000 }, async () => {
  const c = pool.client("heartbeating", { heartbeatIntervalMs: 500 });
  await c.connect();
  const ch = c.channel("rooms:lobby");
  await c.joinOk(ch);
  const heartbeatReplies = () => c.log.filter((l) => / receive: ok phoenix phx_reply /.test(l)).length;

  // Nothing but heartbeats for more than twice the idle timeout; the waiting is the test.
  await sleep(4_000);

  assert.equal(c.closed.count, 0, c.fail("the socket was closed although it sent heartbeats").message);
  assert.equal(c.opened.count, 1, c.fail("the socket reconnected, so it was dropped at some point").message);
  assert.equal(ch.state, "joined");
  assert.ok(heartbeatReplies() >= 4, c.fail(`only ${heartbeatReplies()} heartbeat replies in 4 s`).message);
  assert.deepEqual(await c.pushOk(ch, "ping", {}), { pong: "pong" });
});
