// presence:* of the demo app, observed through phoenix.js's own Presence helper, for every pairing
// of transports: presence_state and presence_diff reach a long-poll client as they reach a
// websocket one, and each sees the other's joins and leaves.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Presence } from "phoenix";

import { Signal } from "./lib/phx.mjs";
import { useServer } from "./lib/fixture.mjs";
import { TRANSPORTS } from "./lib/transports.mjs";

const { pool } = useServer();

/** Joins `topic` as `user` and attaches a phoenix.js Presence to the channel. */
async function presenceClient(topic, user, transport) {
  const c = pool.client(user, { transport });
  await c.connect();
  const ch = c.channel(topic, { user });
  const presence = new Presence(ch);
  const synced = new Signal();
  const left = new Signal();
  presence.onSync(() => synced.emit(keysOf(presence)));
  presence.onLeave((key, current, leftPres) => left.emit({ key, current, leftPres }));
  // Register for the first sync before joining: presence_state follows the join reply.
  const firstSync = c.next(synced, `the first presence sync of ${user}`);
  const response = await c.joinOk(ch);
  assert.deepEqual(response, {});
  await firstSync;
  return { c, ch, presence, synced, left };
}

function keysOf(presence) {
  return presence.list((key) => key).sort();
}

/** Waits until the client's Presence lists exactly `keys` (maybe already the case). */
async function untilKeys(p, keys, what) {
  if (JSON.stringify(keysOf(p.presence)) === JSON.stringify(keys)) return;
  await p.c.next(p.synced, `${what}: presence list ${JSON.stringify(keys)} (now ${JSON.stringify(keysOf(p.presence))})`, {
    pred: (k) => JSON.stringify(k) === JSON.stringify(keys),
  });
}

function assertMetas(p, key) {
  const entry = p.presence.list((k, pres) => [k, pres]).find(([k]) => k === key);
  assert.ok(entry, p.c.fail(`no presence for ${key}`).message);
  const metas = entry[1].metas;
  assert.ok(Array.isArray(metas) && metas.length === 1, p.c.fail(`${key} should have one meta, has ${JSON.stringify(metas)}`).message);
  const [meta] = metas;
  assert.ok(Number.isInteger(meta.online_at), `online_at of ${key} is unix seconds (an integer): ${JSON.stringify(meta)}`);
  assert.ok(Math.abs(meta.online_at - Date.now() / 1000) < 120, `online_at of ${key} is about now: ${JSON.stringify(meta)}`);
  assert.equal(typeof meta.phx_ref, "string", `phx_ref of ${key}: ${JSON.stringify(meta)}`);
  assert.ok(meta.phx_ref.length > 0);
}

for (const ta of TRANSPORTS) {
  for (const tb of TRANSPORTS) {
    test(`alice over ${ta.name} and bob over ${tb.name} see each other through Presence, and bob's leave`, { timeout: 30_000 }, async () => {
      // A topic per test: a long-poll client that is merely disconnected stays present until the
      // server expires its session (no poll for 1.5 × the poll window), so a shared topic would
      // still list the previous test's alice.
      const topic = `presence:${ta.name}-${tb.name}`;
      const alice = await presenceClient(topic, "alice", ta.transport);
      await untilKeys(alice, ["alice"], "alice alone");
      assertMetas(alice, "alice");

      const aliceSeesBob = untilKeys(alice, ["alice", "bob"], "alice sees bob join");
      const bob = await presenceClient(topic, "bob", tb.transport);
      await untilKeys(bob, ["alice", "bob"], "bob's presence_state");
      await aliceSeesBob;
      for (const p of [alice, bob]) {
        assertMetas(p, "alice");
        assertMetas(p, "bob");
      }
      // Both see the same refs for the same presence.
      const refs = (p) => p.presence.list((k, pres) => `${k}=${pres.metas[0].phx_ref}`);
      assert.deepEqual(refs(alice).sort(), refs(bob).sort());

      const bobLeft = alice.c.next(alice.left, "alice's onLeave for bob", { pred: (l) => l.key === "bob" });
      bob.ch.leave();
      const l = await bobLeft;
      assert.deepEqual(l.current.metas, [], "bob has no metas left");
      await untilKeys(alice, ["alice"], "alice after bob left");
    });
  }
}
