// The long-poll poll window as phoenix.js lives with it, on a server started with a 1 s window
// (`serve --longpoll-window-ms 1000`, Phoenix: 10 s) so the waits here take seconds:
//  - an idle client's polls are answered 204 when the window ends and it polls again; a message
//    after that still comes at once, not at the end of a window;
//  - a client that stops polling without a word (a closed tab) is ended by the server after
//    1.5 × the window, and a websocket client sees its presence leave.
// Long-poll only: these are properties of the long-poll session (the websocket equivalents are
// in heartbeat.test.mjs).

import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Presence } from "phoenix";

import { Signal } from "./lib/phx.mjs";
import { useServer } from "./lib/fixture.mjs";
import { LONGPOLL, WEBSOCKET, longPollExchanges } from "./lib/transports.mjs";

const WINDOW_MS = 1_000;
const T = { timeout: 30_000 };

const { pool } = useServer({ extraArgs: ["--longpoll-window-ms", String(WINDOW_MS)] });

test("an idle long-poll client polls across empty windows (204), and a later message still arrives at once", T, async () => {
  const c = pool.client("idle", { transport: LONGPOLL.transport });
  await c.connect();
  const ch = c.channel("rooms:lobby");
  await c.joinOk(ch);

  await sleep(WINDOW_MS * 2.5);
  const empties = (longPollExchanges().match(/<- 200 \{"messages":\[\],"status":204/g) || []).length;
  assert.ok(empties >= 2, c.fail(`expected at least 2 empty (204) poll answers in ${WINDOW_MS * 2.5} ms, saw ${empties}`).message);
  assert.equal(c.closed.count, 0, c.fail("the idle long-poll socket closed").message);
  assert.equal(ch.state, "joined");

  const foo = c.nextEvent(ch, "foo");
  const sent = Date.now();
  c.cast(ch, "push to me", {});
  assert.deepEqual(await foo, { bar: "baz" });
  const took = Date.now() - sent;
  assert.ok(took < WINDOW_MS / 2, c.fail(`the server push took ${took} ms: the poll waited instead of answering`).message);
});

test("a long-poll client that stops polling is ended after 1.5 × the window; a websocket client sees it leave", T, async () => {
  const topic = `presence:expiry-${Math.random().toString(36).slice(2)}`;
  const ws = pool.client("watcher", { transport: WEBSOCKET.transport });
  await ws.connect();
  const wsCh = ws.channel(topic, { user: "watcher" });
  const presence = new Presence(wsCh);
  const synced = new Signal();
  const left = new Signal();
  presence.onSync(() => synced.emit(presence.list((k) => k).sort()));
  presence.onLeave((key) => left.emit(key));
  await ws.joinOk(wsCh);

  const sawLp = ws.next(synced, "the watcher to see lp-user", { pred: (keys) => keys.includes("lp-user") });
  const lp = pool.client("gone", { transport: LONGPOLL.transport });
  await lp.connect();
  const lpCh = lp.channel(topic, { user: "lp-user" });
  await lp.joinOk(lpCh);
  await sawLp;

  // Stop without leaving: phoenix.js aborts its pending poll and sends nothing more.
  const leave = ws.next(left, "the presence leave of lp-user", { pred: (k) => k === "lp-user", timeout: WINDOW_MS * 1.5 + 5_000 });
  const stopped = Date.now();
  lp.socket.disconnect();
  await leave;
  const after = Date.now() - stopped;
  // The server cannot tell a closed tab from a slow poll before the expiry.
  assert.ok(after >= WINDOW_MS, ws.fail(`lp-user left ${after} ms after it stopped polling, before the session could expire`).message);
  assert.deepEqual(presence.list((k) => k).sort(), ["watcher"]);
});
