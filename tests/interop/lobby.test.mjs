// rooms:lobby and rooms:* of the demo app (docs/demo-server.md), driven by the official phoenix.js
// client, once over each transport (websocket, long-poll). Only the tests whose server→client
// direction carries binary frames are websocket-only: long-poll has no way to deliver them
// (docs/protocol.md, long-poll; Phoenix's long-poll stores each outgoing frame as a JSON string).

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { bytesOf } from "./lib/phx.mjs";
import { useServer } from "./lib/fixture.mjs";
import { overEachTransport } from "./lib/transports.mjs";

const T = { timeout: 30_000 };

const { pool } = useServer();

overEachTransport(({ name: transportName, transport }) => {
  /** A connected client with a joined rooms:lobby channel. */
  async function lobby(name) {
    const c = pool.client(name, { transport });
    await c.connect();
    const ch = c.channel("rooms:lobby");
    const response = await c.joinOk(ch);
    return { c, ch, response };
  }

  describe("rooms:lobby", () => {
    test("join answers ok with an empty response and the channel is joined", T, async () => {
      const { c, ch, response } = await lobby("join");
      assert.deepEqual(response, {}, c.fail("join response").message);
      assert.equal(ch.state, "joined");
    });

    test("ping replies ok {pong: pong}", T, async () => {
      const { c, ch } = await lobby("ping");
      const response = await c.pushOk(ch, "ping", {});
      assert.deepEqual(response, { pong: "pong" }, c.fail("ping reply").message);
    });

    test("heartbeat round trip via socket.ping()", T, async () => {
      const { c } = await lobby("heartbeat");
      const rtt = await c.ping();
      assert.ok(rtt >= 0);
    });

    test('"push to me" makes the server push foo {bar: baz}', T, async () => {
      const { c, ch } = await lobby("push-to-me");
      const foo = c.nextEvent(ch, "foo");
      c.cast(ch, "push to me", {});
      assert.deepEqual(await foo, { bar: "baz" });
    });

    test("echo replies ok with the payload as sent", T, async () => {
      const { c, ch } = await lobby("echo");
      const payload = {
        text: "héllo wörld ✓",
        n: 42,
        f: -1.5,
        nested: { list: [1, "two", null, true, { deep: [] }] },
        "key with spaces": "",
      };
      const response = await c.pushOk(ch, "echo", payload);
      assert.deepEqual(response, payload, c.fail("echo reply differs from the payload").message);
    });

    test('"error reply" replies error {reason: nope}', T, async () => {
      const { c, ch } = await lobby("error-reply");
      const { status, response } = await c.push(ch, "error reply", {});
      assert.equal(status, "error", c.fail(`expected an error reply, got ${status}`).message);
      assert.deepEqual(response, { reason: "nope" });
    });

    test("a broadcast reaches both subscribed clients (the sender too)", T, async () => {
      const a = await lobby("broadcast-a");
      const b = await lobby("broadcast-b");
      const payload = { msg: "hi all", nonce: Math.random().toString(36).slice(2) };
      const matches = { pred: (p) => p && p.nonce === payload.nonce };
      const atA = a.c.nextEvent(a.ch, "broadcast_event", matches);
      const atB = b.c.nextEvent(b.ch, "broadcast_event", matches);
      a.c.cast(a.ch, "broadcast", payload);
      const [gotA, gotB] = await Promise.all([atA, atB]);
      assert.deepEqual(gotA, payload);
      assert.deepEqual(gotB, payload);
    });

    test("crash: onError fires, then phoenix.js rejoins automatically", T, async () => {
      const { c, ch } = await lobby("crash");
      const errored = c.next(ch.signals.error, "channel.onError after crash");
      // phoenix.js's first rejoin comes after rejoinAfterMs(1) = 1 s.
      const rejoined = c.next(ch.signals.joined, "the automatic rejoin after the crash", { timeout: 10_000 });
      c.cast(ch, "crash", {});
      const reason = await errored;
      assert.ok(
        !(reason && reason.source === "transport"),
        c.fail(`onError came from the transport (${JSON.stringify(reason)}), not from a phx_error frame`).message,
      );
      const response = await rejoined;
      assert.deepEqual(response, {});
      assert.equal(ch.state, "joined");
      assert.equal(c.closed.count, 0, c.fail("the crash must not close the socket").message);
      assert.deepEqual(await c.pushOk(ch, "ping", {}), { pong: "pong" });
    });

    test("stop: onClose fires, the channel is not rejoined, the socket stays usable", T, async () => {
      const { c, ch } = await lobby("stop");
      const closed = c.next(ch.signals.close, "channel.onClose after stop");
      c.cast(ch, "stop", {});
      await closed;
      assert.equal(ch.state, "closed");
      assert.equal(ch.signals.error.count, 0, c.fail("stop must close the channel, not error it").message);
      assert.ok(!c.socket.channels.includes(ch), "phoenix.js removes a closed channel from the socket");
      assert.equal(c.closed.count, 0, c.fail("stop must not close the socket").message);
      // The topic can be joined again with a new Channel on the same socket.
      const again = c.channel("rooms:lobby");
      await c.joinOk(again);
      assert.deepEqual(await c.pushOk(again, "ping", {}), { pong: "pong" });
    });

    // Binary from the server: websocket only, long-poll cannot carry it (see the top of the file).
    // The client→server direction over long-poll is covered in mixed.test.mjs.
    if (transportName === "websocket") {
      test('"binary echo" with an ArrayBuffer payload gets a binary reply with the same bytes', T, async () => {
        const { c, ch } = await lobby("binary-echo");
        const sent = [0, 1, 2, 3, 127, 128, 200, 254, 255, 0x5b, 0x22];
        const response = await c.pushOk(ch, "binary echo", new Uint8Array(sent).buffer);
        assert.ok(response instanceof ArrayBuffer, c.fail(`reply response is not binary`).message);
        assert.deepEqual(bytesOf(response), sent);
      });

      test('"push binary" makes the server push binary event bin with bytes 1,2,3', T, async () => {
        const { c, ch } = await lobby("push-binary");
        const bin = c.nextEvent(ch, "bin");
        c.cast(ch, "push binary", {});
        const payload = await bin;
        assert.ok(payload instanceof ArrayBuffer, c.fail("bin payload is not binary").message);
        assert.deepEqual(bytesOf(payload), [1, 2, 3]);
      });
    }
  });

  describe("rooms:*", () => {
    test("rooms:other join answers ok {joined: rooms:other}", T, async () => {
      const c = pool.client("rooms-other", { transport });
      await c.connect();
      const ch = c.channel("rooms:other");
      const response = await c.joinOk(ch);
      assert.deepEqual(response, { joined: "rooms:other" });
      assert.deepEqual(await c.pushOk(ch, "ping", {}), { pong: "pong" });
    });

    for (const deny of [true, "true"]) {
      test(`join with deny=${JSON.stringify(deny)} answers error {reason: unauthorized}`, T, async () => {
        const c = pool.client(`deny-${typeof deny}`, { transport });
        await c.connect();
        const ch = c.channel("rooms:other", { deny });
        const { status, response } = await c.join(ch);
        assert.equal(status, "error", c.fail(`expected a join error, got ${status}`).message);
        assert.deepEqual(response, { reason: "unauthorized" });
        assert.equal(ch.state, "errored");
      });
    }
  });
});
