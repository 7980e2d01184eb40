// Forced disconnect by socket id ("log out everywhere", docs/protocol.md §10.2).

import assert from "node:assert/strict";
import { test } from "node:test";

import { useServer } from "./lib/fixture.mjs";

const { pool } = useServer();

test("disconnect user closes every socket of that user id; phoenix.js reconnects and rejoins", { timeout: 30_000 }, async () => {
  const a = pool.client("a (user_id=alice)", { params: { user_id: "alice" } });
  await a.connect();
  const aLobby = a.channel("rooms:lobby");
  await a.joinOk(aLobby);

  const b = pool.client("b (no user_id)");
  await b.connect();
  const bLobby = b.channel("rooms:lobby");
  await b.joinOk(bLobby);

  const aClosed = a.next(a.closed, "socket a to be closed by the server");
  const aReopened = a.next(a.opened, "phoenix.js to reconnect socket a", { timeout: 10_000 });
  const aRejoined = a.next(aLobby.signals.joined, "rooms:lobby of socket a to be rejoined", { timeout: 10_000 });

  const reply = await b.pushOk(bLobby, "disconnect user", { user_id: "alice" });
  assert.deepEqual(reply, {});

  const close = await aClosed;
  // Phoenix closes with 1000 (1.7, Bandit ≥ 1.10.4) or 1001 (1.8.8+); both are clean closes.
  assert.ok(
    close.code === 1000 || close.code === 1001,
    a.fail(`expected close code 1000 or 1001 for a disconnect broadcast, got ${close.code}`).message,
  );
  assert.equal(aLobby.signals.close.count, 0, a.fail("no phx_close is sent for the channels").message);

  await aReopened;
  await aRejoined;
  assert.equal(aLobby.state, "joined");
  assert.deepEqual(await a.pushOk(aLobby, "ping", {}), { pong: "pong" });

  // b has no socket id: it must be untouched.
  assert.equal(b.closed.count, 0, b.fail("socket b (no user_id) was closed too").message);
  assert.deepEqual(await b.pushOk(bLobby, "ping", {}), { pong: "pong" });
});
