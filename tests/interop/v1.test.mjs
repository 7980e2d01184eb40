// The V1 (JSON object) serializer, selected by phoenix.js's `vsn: "1.0.0"` option.
//
// phoenix.js only changes the `vsn` query parameter; its built-in codec always writes V2 arrays,
// so a V1 client also passes an object codec through the `encode`/`decode` options (the hooks
// phoenix.js provides for this). The codec below checks the frame shape the server sends
// (docs/protocol.md §4: an object with exactly topic, event, payload, ref — never join_ref).

import assert from "node:assert/strict";
import { test } from "node:test";

import { useServer } from "./lib/fixture.mjs";
import { overEachTransport } from "./lib/transports.mjs";

const { pool } = useServer();

function v1Codec(violations) {
  const violation = (text) => {
    violations.push(text);
    console.error(`V1 violation: ${text}`);
  };
  return {
    encode(msg, callback) {
      const { topic, event, payload, ref, join_ref } = msg;
      callback(JSON.stringify({ topic, event, payload, ref, join_ref }));
    },
    decode(raw, callback) {
      if (typeof raw !== "string") {
        violation(`binary frame on a V1 socket (${raw && raw.byteLength} bytes)`);
        return;
      }
      let frame;
      try {
        frame = JSON.parse(raw);
      } catch (e) {
        violation(`frame is not JSON: ${raw} (${e.message})`);
        return;
      }
      if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
        violation(`V1 frame is not a JSON object: ${raw}`);
        return;
      }
      const keys = Object.keys(frame).sort().join(",");
      if (keys !== "event,payload,ref,topic") {
        violation(`V1 frame keys must be exactly event,payload,ref,topic; got ${keys}: ${raw}`);
      }
      const { topic, event, payload, ref } = frame;
      callback({ join_ref: null, ref, topic, event, payload });
    },
  };
}

overEachTransport(({ transport }) => {
  test("V1 socket: join rooms:lobby, ping, heartbeat", { timeout: 30_000 }, async () => {
    const violations = [];
    const c = pool.client("v1", { transport, vsn: "1.0.0", ...v1Codec(violations) });
    assert.match(c.socket.endPointURL(), /[?&]vsn=1\.0\.0(&|$)/);
    await c.connect();
    const ch = c.channel("rooms:lobby");
    assert.deepEqual(await c.joinOk(ch), {});
    assert.deepEqual(await c.pushOk(ch, "ping", {}), { pong: "pong" });
    assert.deepEqual(await c.pushOk(ch, "echo", { v: 1, list: ["a"] }), { v: 1, list: ["a"] });
    await c.ping();
    assert.deepEqual(violations, [], c.fail(`V1 frame violations:\n${violations.join("\n")}`).message);
  });
});
