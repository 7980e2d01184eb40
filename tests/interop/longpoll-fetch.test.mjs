// LongPoll over phoenix.js's other HTTP path: with no XMLHttpRequest global, its Ajax helper
// uses fetch + AbortController (what a Node or Deno application gets). The rest of the suite runs
// the XMLHttpRequest path browsers take (lib/transports.mjs); this file removes that global for
// its own process and checks the basics once more, and that fetch really carried them.

import assert from "node:assert/strict";
import { before, test } from "node:test";

import { useServer } from "./lib/fixture.mjs";
import { LONGPOLL, WEBSOCKET, removeXMLHttpRequest, xhrRequestCount } from "./lib/transports.mjs";

const T = { timeout: 30_000 };

const { pool } = useServer();

// Counts the long-poll requests fetch makes; the requests themselves are untouched.
let fetchCalls = 0;
before(() => {
  removeXMLHttpRequest();
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    if (String(input).includes("/socket/longpoll")) fetchCalls += 1;
    return realFetch(input, init);
  };
});

test("LongPoll through fetch: join, reply, server push, a broadcast from a websocket client, crash and rejoin", T, async () => {
  assert.equal(globalThis.XMLHttpRequest, undefined, "the XMLHttpRequest global must be gone for this file");
  const xhrBefore = xhrRequestCount();

  const c = pool.client("fetch", { transport: LONGPOLL.transport });
  await c.connect();
  const ch = c.channel("rooms:lobby");
  assert.deepEqual(await c.joinOk(ch), {});
  assert.deepEqual(await c.pushOk(ch, "echo", { via: "fetch", list: [1, "2"] }), { via: "fetch", list: [1, "2"] });

  const foo = c.nextEvent(ch, "foo");
  c.cast(ch, "push to me", {});
  assert.deepEqual(await foo, { bar: "baz" });

  const ws = pool.client("ws", { transport: WEBSOCKET.transport });
  await ws.connect();
  const wsCh = ws.channel("rooms:lobby");
  await ws.joinOk(wsCh);
  const payload = { from: "websocket", n: Math.random() };
  const got = c.nextEvent(ch, "broadcast_event", { pred: (p) => p && p.n === payload.n });
  ws.cast(wsCh, "broadcast", payload);
  assert.deepEqual(await got, payload);

  const errored = c.next(ch.signals.error, "channel.onError after crash");
  const rejoined = c.next(ch.signals.joined, "the automatic rejoin after the crash", { timeout: 10_000 });
  c.cast(ch, "crash", {});
  await errored;
  await rejoined;
  assert.deepEqual(await c.pushOk(ch, "ping", {}), { pong: "pong" });

  assert.equal(xhrRequestCount(), xhrBefore, "no request went through the XMLHttpRequest shim");
  assert.ok(fetchCalls >= 6, `the long-poll requests went through fetch (${fetchCalls})`);
  assert.equal(c.closed.count, 0, c.fail("the long-poll socket closed").message);
});
