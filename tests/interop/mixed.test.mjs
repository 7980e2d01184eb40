// A websocket client and a long-poll client on the same topic: broadcasts cross between the
// transports in both directions, and binary sent over long-poll (phoenix.js base64-encodes each
// binary frame as one line of its application/x-ndjson POST) reaches a websocket client intact.
//
// Only the client→server direction of binary is tested over long-poll: the server cannot send
// binary to a long-poll client (each outgoing frame travels as a JSON string), so binary pushed
// or broadcast *to* a client is checked over websocket only (lobby.test.mjs).

import assert from "node:assert/strict";
import { test } from "node:test";

import { bytesOf } from "./lib/phx.mjs";
import { useServer } from "./lib/fixture.mjs";
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

test("several pushes in one tick from a long-poll client (one ndjson batch, text and base64 lines) arrive in order", T, async () => {
  // The websocket client listens on its own room, so nothing binary is broadcast to the
  // long-poll client; the long-poll client joins both rooms.
  const topic = `rooms:batch-${nonce()}`;
  const ws = await joined("ws receiver", WEBSOCKET, topic);
  const lp = await joined("lp sender", LONGPOLL);
  const lpRoom = lp.c.channel(topic);
  await lp.c.joinOk(lpRoom);

  const id = nonce();
  const received = [];
  const all = ws.c.nextEvent(ws.ch, "broadcast_event", {
    pred: (p) => {
      received.push(p);
      return p && p.last === id;
    },
  });
  // Same tick: phoenix.js's LongPoll collects these into one POST.
  const bytes = [0, 1, 2, 0x5b, 0x7b, 0x0a, 0x0d, 250, 255];
  lp.c.cast(lpRoom, "broadcast", { n: 1, id });
  lp.c.cast(lpRoom, "broadcast", new Uint8Array(bytes).buffer);
  lp.c.cast(lpRoom, "broadcast", { n: 3, id, last: id });
  await all;
  const ours = received.filter((p) => p instanceof ArrayBuffer || (p && p.id === id));
  assert.equal(ours.length, 3, ws.c.fail(`expected 3 broadcasts, got ${ours.length}`).message);
  assert.deepEqual(ours[0], { n: 1, id });
  assert.ok(ours[1] instanceof ArrayBuffer, ws.c.fail("the second broadcast is not binary").message);
  assert.deepEqual(bytesOf(ours[1]), bytes);
  assert.deepEqual(ours[2], { n: 3, id, last: id });
  // The long-poll client is still fine: its channel answers.
  assert.deepEqual(await lp.c.pushOk(lp.ch, "ping", {}), { pong: "pong" });
});
