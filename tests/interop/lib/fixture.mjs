// One `slipstream serve` per test file, and a pool of phoenix.js clients closed after each test.

import { after, afterEach, before } from "node:test";

import { clientPool } from "./phx.mjs";
import { startServer } from "./server.mjs";

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
  afterEach(() => pool.closeAll());
  after(async () => {
    pool.closeAll();
    if (server) await server.stop();
  });
  return { pool, server: () => server };
}
