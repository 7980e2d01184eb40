// Forced disconnect by socket id ("log out everywhere", docs/protocol.md §10.2), with the socket
// that is disconnected on each transport and the one that asks for it on the other.
//
// What phoenix.js sees differs by transport. A websocket is closed by the server with a close
// code. A long-poll client has no connection to close: the server ends the session, and the
// client learns it from its next poll, answered {"status": 410} although it holds a token;
// phoenix.js 1.8.2+ then closes its emulated socket with 3410 "session_gone" and reconnects.

import assert from "node:assert/strict";
import { test } from "node:test";

import { useServer } from "./lib/fixture.mjs";
import { LONGPOLL, WEBSOCKET } from "./lib/transports.mjs";

const { pool } = useServer();

for (const [ta, tb] of [
  [WEBSOCKET, LONGPOLL],
  [LONGPOLL, WEBSOCKET],
]) {
  test(`disconnect user closes the ${ta.name} socket of that user id (asked over ${tb.name}); phoenix.js reconnects and rejoins`, { timeout: 30_000 }, async () => {
    // One user id per test, so nothing left over from the other test can match.
    const userId = `alice-${ta.name}`;
    const a = pool.client(`a (user_id=${userId})`, { transport: ta.transport, params: { user_id: userId } });
    await a.connect();
    const aLobby = a.channel("rooms:lobby");
    await a.joinOk(aLobby);

    const b = pool.client("b (no user_id)", { transport: tb.transport });
    await b.connect();
    const bLobby = b.channel("rooms:lobby");
    await b.joinOk(bLobby);

    // A long-poll client can only learn of the end of its session from a poll answer: allow for
    // one poll window (10 s) in case the server lets the pending poll run out first.
    const closeWait = ta === LONGPOLL ? 15_000 : 5_000;
    const aClosed = a.next(a.closed, "socket a to be closed by the server", { timeout: closeWait });
    const aReopened = a.next(a.opened, "phoenix.js to reconnect socket a", { timeout: closeWait + 5_000 });
    const aRejoined = a.next(aLobby.signals.joined, "rooms:lobby of socket a to be rejoined", { timeout: closeWait + 5_000 });

    const askedAt = Date.now();
    const reply = await b.pushOk(bLobby, "disconnect user", { user_id: userId });
    assert.deepEqual(reply, {});

    const close = await aClosed;
    if (ta === WEBSOCKET) {
      // Phoenix closes with 1000 (1.7, Bandit ≥ 1.10.4) or 1001 (1.8.8+); both are clean closes.
      assert.ok(
        close.code === 1000 || close.code === 1001,
        a.fail(`expected close code 1000 or 1001 for a disconnect broadcast, got ${close.code}`).message,
      );
    } else {
      assert.equal(
        close.code,
        3410,
        a.fail(`expected phoenix.js's long-poll close 3410 (session gone), got ${close.code} ${JSON.stringify(close.reason)}`).message,
      );
      a.record(`session end noticed ${close.at - askedAt} ms after the disconnect was asked`);
    }
    assert.equal(aLobby.signals.close.count, 0, a.fail("no phx_close is sent for the channels").message);

    await aReopened;
    await aRejoined;
    assert.equal(aLobby.state, "joined");
    assert.equal(a.transportInUse(), ta.name, a.fail("reconnected over another transport").message);
    assert.deepEqual(await a.pushOk(aLobby, "ping", {}), { pong: "pong" });

    // b has no socket id: it must be untouched.
    assert.equal(b.closed.count, 0, b.fail("socket b (no user_id) was closed too").message);
    assert.deepEqual(await b.pushOk(bLobby, "ping", {}), { pong: "pong" });
  });
}
