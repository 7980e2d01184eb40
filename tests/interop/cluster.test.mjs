// Two `slipstream serve --pubsub redis://…` nodes sharing a real redis-server (started here on a
// free port; a missing `redis-server` fails the test, it does not skip): phoenix.js clients on
// different nodes, over either transport, see each other's broadcasts and presences as if they
// were on one Phoenix app.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, connect } from "node:net";
import { after, before, afterEach, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Presence } from "phoenix";

import { Signal, clientPool } from "./lib/phx.mjs";
import { assertNoHandlerErrors } from "./lib/fixture.mjs";
import { startServer } from "./lib/server.mjs";
import { LONGPOLL, WEBSOCKET } from "./lib/transports.mjs";

const T = { timeout: 30_000 };

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  const failed = new Promise((_, reject) =>
    child.once("error", (e) =>
      reject(new Error(`the cluster interop test needs redis-server on PATH (Debian: apt-get install redis-server): ${e.message}`)),
    ),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await Promise.race([
      failed,
      new Promise((resolve) => {
        const s = connect(port, "127.0.0.1");
        s.once("connect", () => (s.destroy(), resolve(true)));
        s.once("error", () => resolve(false));
      }),
    ]);
    if (up) break;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within 10 s`);
    await sleep(20);
  }
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill("SIGKILL") };
}

let redis;
let nodeA;
let nodeB;
const poolA = clientPool(() => nodeA);
const poolB = clientPool(() => nodeB);

before(async () => {
  redis = await startRedis();
  const args = (name) => ["--pubsub", redis.url, "--node", name, "--node-timeout-ms", "2000"];
  nodeA = await startServer({ extraArgs: args("a") });
  nodeB = await startServer({ extraArgs: args("b") });
});

afterEach(() => {
  poolA.closeAll();
  poolB.closeAll();
  assertNoHandlerErrors();
});

after(async () => {
  poolA.closeAll();
  poolB.closeAll();
  if (nodeA) await nodeA.stop();
  if (nodeB) await nodeB.stop();
  if (redis) redis.stop();
});

async function joined(pool, name, transport, topic = "rooms:lobby", params = {}) {
  const c = pool.client(name, { transport: transport.transport });
  await c.connect();
  const ch = c.channel(topic, params);
  await c.joinOk(ch);
  return { c, ch };
}

for (const [from, to] of [
  [WEBSOCKET, LONGPOLL],
  [LONGPOLL, WEBSOCKET],
  [WEBSOCKET, WEBSOCKET],
]) {
  test(`a broadcast from a ${from.name} client on node a reaches a ${to.name} client on node b`, T, async () => {
    const sender = await joined(poolA, "sender on a", from);
    const receiver = await joined(poolB, "receiver on b", to);
    // Until the nodes hear each other a broadcast may not cross: send fresh ones until one does.
    for (let attempt = 0; ; attempt++) {
      const nonce = `${Date.now()}-${attempt}`;
      const arrived = receiver.c.nextEvent(receiver.ch, "broadcast_event", {
        pred: (p) => p && p.nonce === nonce,
        timeout: 500,
      });
      sender.c.cast(sender.ch, "broadcast", { nonce, text: "héllo ✓" });
      try {
        assert.deepEqual(await arrived, { nonce, text: "héllo ✓" });
        break;
      } catch (e) {
        if (attempt >= 20) throw e;
      }
    }
  });
}

test("phoenix.js Presence on node b lists and diffs a user on node a (websocket and long-poll)", T, async () => {
  const watcherC = poolB.client("watcher on b", { transport: LONGPOLL.transport });
  await watcherC.connect();
  const ch = watcherC.channel("presence:cluster", { user: "watcher" });
  const presence = new Presence(ch);
  const synced = new Signal();
  presence.onSync(() => synced.emit(presence.list((key) => key).sort()));
  await watcherC.joinOk(ch);
  const until = async (keys, what) => {
    const deadline = Date.now() + 15_000;
    while (JSON.stringify(presence.list((key) => key).sort()) !== JSON.stringify(keys)) {
      assert.ok(Date.now() < deadline, `${what}: now ${JSON.stringify(presence.list((k) => k))}`);
      await watcherC.next(synced, what, { timeout: 15_000 }).catch(() => {});
    }
  };
  const alice = await joined(poolA, "alice on a", WEBSOCKET, "presence:cluster", { user: "alice" });
  await until(["alice", "watcher"], "alice joins from node a");
  alice.c.close();
  await until(["watcher"], "alice leaves from node a");
});
