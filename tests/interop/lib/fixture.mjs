// One `slipstream serve` per test file, and a pool of phoenix.js clients closed after each test.

import { after, afterEach, before, beforeEach } from "node:test";

import { clientPool } from "./phx.mjs";
import { startServer } from "./server.mjs";
import { clearExchanges, longPollExchanges, takeHandlerErrors } from "./transports.mjs";

/**
 * Throws when phoenix.js threw inside an XMLHttpRequest callback since the last check (see
 * lib/transports.mjs): in a browser that is an error on the console and, for LongPoll, usually a
 * poll loop that stopped, so it must fail the test that caused it.
 */
export function assertNoHandlerErrors() {
  const errors = takeHandlerErrors();
  if (errors.length === 0) return;
  const list = errors.map((e) => `  ${e.event} handler of ${e.where}: ${e.error && e.error.message}`).join("\n");
  throw new Error(`phoenix.js threw ${errors.length} exception(s) in its long-poll request callbacks:\n${list}\n${longPollExchanges()}`);
}

/**
 * Registers the file's hooks: start the server before its tests, close every client after each
 * test, stop the server at the end. Returns the client pool and a getter for the server.
 */
export function useServer(options = {}) {
  let server;
  const pool = clientPool(() => server);
  before(async () => {
    server = await startServer(options);
  });
  beforeEach(() => clearExchanges());
  afterEach(() => {
    pool.closeAll();
    assertNoHandlerErrors();
  });
  after(async () => {
    pool.closeAll();
    if (server) await server.stop();
  });
  return { pool, server: () => server };
}
