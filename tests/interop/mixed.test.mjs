// A websocket client and a long-poll client on the same topic: broadcasts cross between the
// transports in both directions, and binary sent over long-poll (phoenix.js base64-encodes each
// binary frame as one line of its application/x-ndjson POST) reaches a websocket client intact.
//
// Only the client→server direction of binary works over long-poll: the server cannot send binary
// to a long-poll client (each outgoing frame travels as a JSON string), so binary pushed or
// replied *to* a client is checked over websocket only (lobby.test.mjs); the last test here
// shows what a long-poll client gets instead.

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { bytesOf } from "./lib/phx.mjs";
import { assertNoHandlerErrors, useServer } from "./lib/fixture.mjs";
import { LONGPOLL, WEBSOCKET } from "./lib/transports.mjs";

const T = { timeout: 30_000 };

const { pool } = useServer();

async function joined(name, t, topic = "rooms:lobby") {
  const c = pool.client(name, { transport: t.transport });
  await c.connect();
  const ch = c.channel(topic);
  await c.joinOk(ch);
  return { c, ch };
}

function nonce() {
  return Math.random().toString(36).slice(2);
}

for (const [from, to] of [
  [WEBSOCKET, LONGPOLL],
  [LONGPOLL, WEBSOCKET],
]) {
  test(`a broadcast from a ${from.name} client reaches a ${to.name} client and the sender`, T, async () => {
    const sender = await joined(`sender`, from);
    const receiver = await joined(`receiver`, to);
    const payload = { msg: `from ${from.name}`, nonce: nonce(), text: "héllo ✓" };
    const matches = { pred: (p) => p && p.nonce === payload.nonce };
    const atSender = sender.c.nextEvent(sender.ch, "broadcast_event", matches);
    const atReceiver = receiver.c.nextEvent(receiver.ch, "broadcast_event", matches);
    sender.c.cast(sender.ch, "broadcast", payload);
    assert.deepEqual(await atReceiver, payload);
    assert.deepEqual(await atSender, payload);
  });
}

test("several pushes in one tick from a long-poll client (one ndjson POST: text lines around a base64 line) are all handled, in order", T, async () => {
  const ws = await joined("ws receiver", WEBSOCKET);
  const lp = await joined("lp sender", LONGPOLL);
  const id = nonce();
  const received = [];
  const all = ws.c.nextEvent(ws.ch, "broadcast_event", {
    pred: (p) => {
      if (p && p.id === id) received.push(p);
      return p && p.last === id;
    },
  });
  const posts = lp.c.socket.conn;
  // Same tick: phoenix.js's LongPoll collects these into one POST. The binary push in the middle
  // goes to "quicksand" (no reply, no message back), so nothing binary has to reach the
  // long-poll client; had the server misread the base64 line, it would have closed the session
  // (malformed frame) and the third broadcast would not come.
  lp.c.cast(lp.ch, "broadcast", { n: 1, id });
  lp.c.cast(lp.ch, "quicksand", new Uint8Array([0, 1, 2, 0x5b, 0x7b, 0x0a, 0x0d, 250, 255]).buffer);
  lp.c.cast(lp.ch, "broadcast", { n: 3, id, last: id });
  // They wait in one batch: the current one, or the next one if a POST is still in flight.
  const batch = posts.currentBatch || posts.batchBuffer;
  assert.equal(batch.length, 3, lp.c.fail(`phoenix.js did not batch the three pushes (${batch.length})`).message);
  await all;
  assert.deepEqual(received, [{ n: 1, id }, { n: 3, id, last: id }]);
  assert.deepEqual(await lp.c.pushOk(lp.ch, "ping", {}), { pong: "pong" });
  assert.equal(lp.c.closed.count, 0, lp.c.fail("the long-poll socket closed").message);
});

test("binary sent over long-poll (a base64 ndjson line) reaches a websocket client with the same bytes", T, async () => {
  const ws = await joined("ws receiver", WEBSOCKET);
  const lp = await joined("lp sender", LONGPOLL);
  // Every byte value, so base64's padding and its `+` and `/` digits all occur.
  const bytes = Array.from({ length: 256 }, (_, i) => i);
  const atWs = ws.c.nextEvent(ws.ch, "broadcast_event", { pred: (p) => p instanceof ArrayBuffer });
  lp.c.cast(lp.ch, "broadcast", new Uint8Array(bytes).buffer);
  assert.deepEqual(bytesOf(await atWs), bytes);
  assert.equal(ws.c.closed.count, 0, ws.c.fail("the websocket client was disturbed").message);

  // The sender is subscribed to the topic too, and its own copy cannot travel over long-poll.
  // Whatever the server does with it, phoenix.js must stay usable: still joined (or rejoined
  // after a reconnect) and answering. phoenix.js 1.8.16 throws, and stops polling for good, when
  // a poll is answered with a JSON body that has no "status" (Phoenix's HTTP 500 error body).
  await sleep(300);
  assertNoHandlerErrors();
  assert.deepEqual(await lp.c.pushOk(lp.ch, "ping", {}, { timeout: 5_000 }), { pong: "pong" });
});
