// Starts and stops the `slipstream serve` binary for the interop suite.
//
// The binary comes from the SLIPSTREAM_BIN environment variable. A missing or
// unusable binary is a hard failure, never a skip: an interop suite that
// silently does nothing would look green while testing nothing.

import { spawn } from "node:child_process";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { createInterface } from "node:readline";

const STARTUP_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 5_000;
const LISTENING_RE = /^listening on http:\/\/(127\.0\.0\.1):(\d+)$/;

// Every server this process started, so a crash of the test file still kills them.
const running = new Set();
process.on("exit", () => {
  for (const child of running) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
});

/** Path of the server binary, or throws an error explaining how to provide it. */
export function serverBinary() {
  const bin = process.env.SLIPSTREAM_BIN;
  if (!bin) {
    throw new Error(
      "SLIPSTREAM_BIN is not set. Build the server (`cargo build -p slipstream-cli`) and run e.g. " +
        "`SLIPSTREAM_BIN=$PWD/../../target/debug/slipstream node --test` in tests/interop, " +
        "or run `cargo test -p slipstream-cli --test interop_js`, which sets it.",
    );
  }
  let st;
  try {
    st = statSync(bin);
  } catch (e) {
    throw new Error(`SLIPSTREAM_BIN=${bin} does not exist (${e.code}); build it with \`cargo build -p slipstream-cli\``);
  }
  if (!st.isFile()) throw new Error(`SLIPSTREAM_BIN=${bin} is not a regular file`);
  try {
    accessSync(bin, fsConstants.X_OK);
  } catch {
    throw new Error(`SLIPSTREAM_BIN=${bin} is not executable`);
  }
  return bin;
}

/**
 * Runs `slipstream serve --port 0 --bind 127.0.0.1 [extraArgs]` and resolves once it printed its
 * `listening on http://ADDR:PORT` line.
 *
 * Resolves to { port, httpUrl, socketUrl, stop(), output() }:
 *  - socketUrl is the mount URL phoenix.js expects (it appends `/websocket` itself);
 *  - stop() sends SIGTERM and resolves with { code, signal, elapsedMs } once it exited (SIGKILL
 *    after STOP_TIMEOUT_MS, reported as killed: true);
 *  - output() returns what the server wrote so far (stdout and stderr), for failure messages.
 */
export async function startServer({ idleTimeoutMs, extraArgs = [] } = {}) {
  const bin = serverBinary();
  const args = ["serve", "--port", "0", "--bind", "127.0.0.1"];
  if (idleTimeoutMs !== undefined) args.push("--idle-timeout-ms", String(idleTimeoutMs));
  args.push(...extraArgs);

  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);

  const log = [];
  const remember = (stream, line) => {
    log.push(`[${stream}] ${line}`);
    if (log.length > 400) log.splice(0, log.length - 400);
    if (process.env.SLIPSTREAM_INTEROP_VERBOSE) process.stderr.write(`server ${stream}: ${line}\n`);
  };
  const output = () => log.join("\n");
  const stdoutLines = [];
  createInterface({ input: child.stderr }).on("line", (line) => remember("stderr", line));

  const exited = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  const describe = () => `${bin} ${args.join(" ")}`;

  const port = await new Promise((resolve, reject) => {
    let done = false;
    const finish = (fn, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      fn(value);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(
        reject,
        new Error(
          `\`${describe()}\` did not print "listening on http://127.0.0.1:PORT" within ` +
            `${STARTUP_TIMEOUT_MS} ms.\nserver output so far:\n${output()}`,
        ),
      );
    }, STARTUP_TIMEOUT_MS);
    child.on("error", (e) => finish(reject, new Error(`could not start \`${describe()}\`: ${e.message}`)));
    exited.then(({ code, signal }) =>
      finish(
        reject,
        new Error(
          `\`${describe()}\` exited (code ${code}, signal ${signal}) before printing its listening line.\n` +
            `server output:\n${output()}`,
        ),
      ),
    );
    createInterface({ input: child.stdout }).on("line", (line) => {
      remember("stdout", line);
      stdoutLines.push(line);
      if (stdoutLines.length === 1) {
        const m = LISTENING_RE.exec(line);
        if (m) {
          finish(resolve, Number(m[2]));
        } else {
          child.kill("SIGKILL");
          finish(
            reject,
            new Error(
              `the first stdout line of \`${describe()}\` must be exactly ` +
                `"listening on http://127.0.0.1:PORT", got ${JSON.stringify(line)}`,
            ),
          );
        }
      }
    });
  });

  let stopping = null;
  const stop = () => {
    if (stopping) return stopping;
    const started = Date.now();
    stopping = (async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        const r = await exited;
        return { ...r, elapsedMs: 0, killed: false };
      }
      child.kill("SIGTERM");
      let timer;
      const timedOut = new Promise((resolve) => {
        timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first === "timeout") {
        child.kill("SIGKILL");
        const r = await exited;
        return { ...r, elapsedMs: Date.now() - started, killed: true };
      }
      return { ...first, elapsedMs: Date.now() - started, killed: false };
    })();
    return stopping;
  };

  return {
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    socketUrl: `ws://127.0.0.1:${port}/socket`,
    stdoutLines,
    stop,
    output,
  };
}
