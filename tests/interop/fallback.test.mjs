// phoenix.js's websocket → long-poll fallback (`longPollFallbackMs`, docs/protocol.md long-poll
// client algorithm) against our server whose websocket cannot be had: refused by the server
// itself (the hidden `serve --refuse-websocket STATUS` switch), or by a proxy in front of it that
// answers upgrades with 403 or never answers them (lib/proxy.mjs, the network a fallback exists
// for). The socket must end up connected over LongPoll with working channels, and remember the
// fallback in sessionStorage. A control checks that the same options keep the websocket when it
// is reachable, so the fallback tests cannot pass by accident.

import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { useServer } from "./lib/fixture.mjs";
import { MemoryStorage, startBlockingProxy } from "./lib/proxy.mjs";
import { startServer } from "./lib/server.mjs";
import { WEBSOCKET } from "./lib/transports.mjs";

const T = { timeout: 30_000 };
const FALLBACK_KEY = "phx:fallback:LongPoll";

const { pool, server } = useServer();

const proxies = [];
const ownServers = [];
afterEach(async () => {
  pool.closeAll();
  await Promise.all(proxies.splice(0).map((p) => p.close()));
  await Promise.all(ownServers.splice(0).map((s) => s.stop()));
});

async function proxy(upgrades) {
  const p = await startBlockingProxy(server().port, { upgrades });
  proxies.push(p);
  return p;
}

/** Joins rooms:lobby and checks a round trip and a server push on it. */
async function lobbyWorks(c) {
  const ch = c.channel("rooms:lobby");
  assert.deepEqual(await c.joinOk(ch), {});
  assert.deepEqual(await c.pushOk(ch, "echo", { over: "fallback" }), { over: "fallback" });
  const foo = c.nextEvent(ch, "foo");
  c.cast(ch, "push to me", {});
  assert.deepEqual(await foo, { bar: "baz" });
  return ch;
}

test("the server refuses websocket upgrades (serve --refuse-websocket 503): phoenix.js falls back to LongPoll on the same endpoint", T, async () => {
  const refusing = await startServer({ extraArgs: ["--refuse-websocket", "503"] });
  ownServers.push(refusing);
  // Control for the switch itself: an upgrade really is refused.
  const upgradeStatus = await new Promise((resolve) => {
    const ws = new WEBSOCKET.transport(`${refusing.socketUrl}/websocket?vsn=2.0.0`);
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode);
      ws.terminate();
    });
    ws.on("open", () => {
      resolve("101 (upgraded)");
      ws.close();
    });
    ws.on("error", () => {});
  });
  assert.equal(upgradeStatus, 503, `a websocket upgrade on the refusing server answered ${upgradeStatus}`);

  const storage = new MemoryStorage();
  const FALLBACK_MS = 3_000;
  const c = pool.client("server-refused", {
    transport: WEBSOCKET.transport,
    endpoint: refusing.socketUrl,
    longPollFallbackMs: FALLBACK_MS,
    sessionStorage: storage,
  });
  const started = Date.now();
  await c.connect({ expect: "longpoll" });
  const took = Date.now() - started;
  assert.ok(c.log.some((l) => /Unexpected server response: 503/.test(l)), c.fail("phoenix.js did not try the websocket first").message);
  assert.ok(took < FALLBACK_MS, c.fail(`opened after ${took} ms, expected the refusal to trigger the fallback before ${FALLBACK_MS} ms`).message);
  await lobbyWorks(c);
  assert.equal(storage.getItem(FALLBACK_KEY), "true", c.fail("phoenix.js did not remember the fallback").message);
});

test("websocket refused (403 to the upgrade): phoenix.js falls back to LongPoll at once and its channels work", T, async () => {
  const p = await proxy("refuse");
  const storage = new MemoryStorage();
  const FALLBACK_MS = 3_000;
  const c = pool.client("refused", {
    transport: WEBSOCKET.transport,
    endpoint: p.socketUrl,
    longPollFallbackMs: FALLBACK_MS,
    sessionStorage: storage,
  });
  const started = Date.now();
  await c.connect({ expect: "longpoll" });
  const took = Date.now() - started;
  assert.ok(p.upgradeAttempts() >= 1, c.fail("phoenix.js did not try the websocket first").message);
  // The refusal is an error event, which triggers the fallback without waiting for the timer.
  assert.ok(took < FALLBACK_MS, c.fail(`opened after ${took} ms, expected the error to trigger the fallback before ${FALLBACK_MS} ms`).message);
  await lobbyWorks(c);
  assert.ok(p.forwarded() >= 3, `the long-poll requests went through the proxy (${p.forwarded()})`);
  assert.equal(storage.getItem(FALLBACK_KEY), "true", c.fail("phoenix.js did not remember the fallback").message);
  assert.equal(c.closed.count, 0, c.fail("the long-poll socket closed").message);
});

test("websocket upgrade never answered: phoenix.js falls back to LongPoll after longPollFallbackMs", T, async () => {
  const p = await proxy("hang");
  const FALLBACK_MS = 500;
  const c = pool.client("hung", {
    transport: WEBSOCKET.transport,
    endpoint: p.socketUrl,
    longPollFallbackMs: FALLBACK_MS,
    sessionStorage: new MemoryStorage(),
  });
  const started = Date.now();
  await c.connect({ expect: "longpoll" });
  const took = Date.now() - started;
  assert.equal(p.upgradeAttempts(), 1, c.fail("expected exactly one websocket attempt").message);
  assert.ok(took >= FALLBACK_MS - 50, c.fail(`opened after ${took} ms, before the ${FALLBACK_MS} ms fallback timer`).message);
  await lobbyWorks(c);
});

test("a remembered fallback: the next socket with the same sessionStorage goes straight to LongPoll", T, async () => {
  const p = await proxy("refuse");
  const storage = new MemoryStorage();
  const first = pool.client("first", {
    transport: WEBSOCKET.transport,
    endpoint: p.socketUrl,
    longPollFallbackMs: 3_000,
    sessionStorage: storage,
  });
  await first.connect({ expect: "longpoll" });
  assert.equal(storage.getItem(FALLBACK_KEY), "true", first.fail("the fallback was not remembered").message);
  const attempts = p.upgradeAttempts();

  const second = pool.client("second", {
    transport: WEBSOCKET.transport,
    endpoint: p.socketUrl,
    longPollFallbackMs: 3_000,
    sessionStorage: storage,
  });
  await second.connect({ expect: "longpoll" });
  assert.equal(p.upgradeAttempts(), attempts, second.fail("the second socket tried the websocket again").message);
  await lobbyWorks(second);
});

// Control for the three tests above.
test("control: with the websocket reachable, the same options stay on the websocket", T, async () => {
  const storage = new MemoryStorage();
  const FALLBACK_MS = 300;
  const c = pool.client("control", {
    transport: WEBSOCKET.transport,
    longPollFallbackMs: FALLBACK_MS,
    sessionStorage: storage,
  });
  await c.connect({ expect: "websocket" });
  // After opening, phoenix.js re-arms the fallback timer and cancels it when its health-check
  // heartbeat is answered; wait well past it.
  await sleep(FALLBACK_MS * 3);
  assert.equal(c.transportInUse(), "websocket", c.fail("phoenix.js fell back although the websocket works").message);
  assert.equal(c.opened.count, 1, c.fail("the socket reopened").message);
  assert.equal(storage.getItem(FALLBACK_KEY), null);
  await lobbyWorks(c);
});
