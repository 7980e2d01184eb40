// The `slipstream serve` process contract the other files rely on: listening line, /health,
// clean stop on SIGTERM.

import assert from "node:assert/strict";
import { test } from "node:test";

import { startServer } from "./lib/server.mjs";

test("serve --port 0 prints its address, answers GET /health and stops on SIGTERM", { timeout: 30_000 }, async () => {
  const server = await startServer();
  try {
    assert.ok(server.port > 0 && server.port < 65536, `port from the listening line: ${server.port}`);
    assert.equal(server.stdoutLines[0], `listening on http://127.0.0.1:${server.port}`);

    const res = await fetch(`${server.httpUrl}/health`, { signal: AbortSignal.timeout(5_000) });
    const body = await res.text();
    assert.equal(res.status, 200, `GET /health status (body ${JSON.stringify(body)})`);
    assert.equal(body, "ok", "GET /health body");
    // After the listening line (written in the same write): the websocket URL, a shell command
    // and the long-poll URL.
    assert.deepEqual(server.stdoutLines, [
      `listening on http://127.0.0.1:${server.port}`,
      `websocket: ws://127.0.0.1:${server.port}/socket/websocket`,
      `try: slipstream shell ws://127.0.0.1:${server.port}/socket/websocket`,
      `long-poll: http://127.0.0.1:${server.port}/socket/longpoll`,
    ]);
  } finally {
    const stopped = await server.stop();
    assert.equal(
      stopped.killed,
      false,
      `the server did not exit within 5 s of SIGTERM and had to be killed\nserver output:\n${server.output()}`,
    );
    assert.equal(stopped.signal === null ? stopped.code : 0, 0, `exit after SIGTERM: ${JSON.stringify(stopped)}`);
  }
});
