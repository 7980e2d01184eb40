// Promise-style wrappers around the official phoenix.js client, with a frame trace that is
// attached to every failure so a broken interaction can be diagnosed from the test output.

import { Socket } from "phoenix";

import { WEBSOCKET, longPollExchanges, transportInUse, TRANSPORTS } from "./transports.mjs";

export const DEFAULT_WAIT_MS = 5_000;

/** Renders a payload for traces and messages: ArrayBuffers as hex bytes, the rest as JSON. */
export function show(value) {
  if (value instanceof ArrayBuffer) {
    const bytes = [...new Uint8Array(value)];
    const hex = bytes.slice(0, 64).map((b) => b.toString(16).padStart(2, "0"));
    return `<binary ${bytes.length} bytes: ${hex.join(" ")}${bytes.length > 64 ? " …" : ""}>`;
  }
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const parts = Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${show(v)}`);
    return `{${parts.join(",")}}`;
  }
  const json = JSON.stringify(value);
  return json === undefined ? String(value) : json;
}

/** Bytes of an ArrayBuffer as a plain array, for assert.deepStrictEqual. */
export function bytesOf(buffer) {
  if (!(buffer instanceof ArrayBuffer)) {
    throw new Error(`expected an ArrayBuffer (binary payload), got ${show(buffer)}`);
  }
  return [...new Uint8Array(buffer)];
}

/**
 * A stream of values with "wait for the next one (matching a predicate)".
 * Values emitted before the wait started do not count, which is what event tests need: register
 * the wait, trigger the action, then await.
 */
export class Signal {
  constructor() {
    this.values = [];
    this.waiters = new Set();
  }

  emit(value) {
    this.values.push(value);
    for (const w of [...this.waiters]) {
      if (w.pred(value)) {
        this.waiters.delete(w);
        w.resolve(value);
      }
    }
  }

  get count() {
    return this.values.length;
  }
}

/**
 * One phoenix.js Socket plus a trace of everything it did (via phoenix.js's logger hook and
 * onOpen/onClose/onError), and helpers that turn callbacks into awaitable promises.
 */
export class Client {
  /**
   * @param {{socketUrl: string, output: () => string}} server from startServer()
   * @param {string} name used in traces
   * @param {object} opts extra phoenix.js Socket options (params, vsn, heartbeatIntervalMs, ...);
   *   `transport` is the transport class (default: `ws`'s WebSocket, see lib/transports.mjs);
   *   `endpoint` (ours, not phoenix.js's) replaces the server's socket URL, e.g. a proxy's
   */
  constructor(server, name, { endpoint, ...opts } = {}) {
    this.server = server;
    const transport = opts.transport || WEBSOCKET.transport;
    const entry = TRANSPORTS.find((t) => t.transport === transport);
    // The name shown in traces says which transport the client was created with.
    this.transportName = entry ? entry.name : "custom";
    this.name = `${name} [${this.transportName}]`;
    this.log = [];
    this.pushes = new Set();
    this.waits = new Set();
    this.channels = [];
    this.opened = new Signal();
    this.closed = new Signal();
    this.errored = new Signal();
    this.socket = new Socket(endpoint || server.socketUrl, {
      logger: (kind, msg, data) => this.record(`${kind}: ${msg}${data === undefined ? "" : " " + show(data)}`),
      ...opts,
      transport,
    });
    this.socket.onOpen(() => {
      this.record("socket open");
      this.opened.emit(Date.now());
    });
    this.socket.onClose((event) => {
      const info = { code: event && event.code, reason: event && event.reason, at: Date.now() };
      this.record(`socket close code=${info.code} reason=${JSON.stringify(info.reason)}`);
      this.closed.emit(info);
    });
    this.socket.onError((error) => {
      const text = error && error.message ? error.message : String(error && error.type ? error.type : error);
      this.record(`socket error ${text}`);
      this.errored.emit(error);
    });
  }

  record(line) {
    this.log.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
    if (this.log.length > 200) this.log.splice(0, this.log.length - 200);
  }

  /** The client's recent trace (and the server's recent log), for failure messages. */
  trace() {
    const serverLog = this.server.output().split("\n").slice(-30).join("\n");
    const http = longPollExchanges();
    return `--- phoenix.js trace of client "${this.name}" (last ${this.log.length} lines) ---\n` +
      `${this.log.slice(-60).join("\n")}\n${http ? http + "\n" : ""}--- server log tail ---\n${serverLog}`;
  }

  fail(message) {
    return new Error(`[client ${this.name}] ${message}\n${this.trace()}`);
  }

  /** Waits for the next value of `signal` (after now) matching `pred`, or fails with `what`. */
  next(signal, what, { timeout = DEFAULT_WAIT_MS, pred = () => true } = {}) {
    const promise = new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (v) => {
          clearTimeout(waiter.timer);
          this.waits.delete(waiter);
          resolve(v);
        },
        signal,
      };
      waiter.timer = setTimeout(() => {
        signal.waiters.delete(waiter);
        this.waits.delete(waiter);
        reject(this.fail(`timed out after ${timeout} ms waiting for ${what}`));
      }, timeout);
      signal.waiters.add(waiter);
      this.waits.add(waiter);
    });
    // A wait registered ahead of an action may be left unawaited when an earlier assertion
    // fails; that must not surface later as an unhandled rejection. Awaiting it still throws.
    promise.catch(() => {});
    return promise;
  }

  /**
   * Connects and waits until the socket is open, then checks that phoenix.js uses the transport
   * the client was created with (`expect`: another transport name, for the fallback tests).
   */
  async connect({ timeout = DEFAULT_WAIT_MS, expect = this.transportName } = {}) {
    const open = this.next(this.opened, `the socket to open (${this.socket.endPointURL()})`, { timeout });
    this.socket.connect();
    await open;
    const used = this.transportInUse();
    if (expect !== "custom" && used !== expect) {
      throw this.fail(`the socket opened over ${used}, expected ${expect}`);
    }
  }

  /** "websocket" or "longpoll": the transport of phoenix.js's current connection (null if none). */
  transportInUse() {
    return transportInUse(this.socket);
  }

  /**
   * A phoenix.js Channel with signals for its join replies ("joined": every ok join reply,
   * including automatic rejoins), phx_error (onError) and phx_close (onClose).
   */
  channel(topic, params = {}) {
    const channel = this.socket.channel(topic, params);
    const signals = { joined: new Signal(), joinError: new Signal(), error: new Signal(), close: new Signal() };
    channel.joinPush.receive("ok", (resp) => signals.joined.emit(resp));
    channel.joinPush.receive("error", (resp) => signals.joinError.emit(resp));
    channel.onError((reason) => signals.error.emit(reason));
    channel.onClose((reason) => signals.close.emit(reason));
    channel.signals = signals;
    this.channels.push(channel);
    return channel;
  }

  /**
   * channel.join(); resolves with {status, response} of the first join reply, or status
   * "timeout" when phoenix.js reports its join timeout. phoenix.js stays silent when the socket
   * drops while joining (it rejoins later instead), so there is a guard timer on top.
   */
  join(channel, { timeout = DEFAULT_WAIT_MS } = {}) {
    const result = new Signal();
    const waiting = this.next(result, `any outcome of joining ${channel.topic}`, { timeout: timeout + 2_000 });
    channel
      .join(timeout)
      .receive("ok", (response) => result.emit({ status: "ok", response }))
      .receive("error", (response) => result.emit({ status: "error", response }))
      .receive("timeout", () => result.emit({ status: "timeout", response: null }));
    return waiting;
  }

  /** channel.join() that must succeed; resolves with the join response. */
  async joinOk(channel, opts) {
    const { status, response } = await this.join(channel, opts);
    if (status !== "ok") {
      throw this.fail(`join of ${channel.topic} ${show(channel.params())} answered ${status} ${show(response)}, expected ok`);
    }
    return response;
  }

  /** channel.push(); resolves with {status, response}; status "timeout" when no reply came. */
  push(channel, event, payload, { timeout = DEFAULT_WAIT_MS } = {}) {
    const result = new Signal();
    const waiting = this.next(result, `any outcome of push ${JSON.stringify(event)} on ${channel.topic}`, {
      timeout: timeout + 2_000,
    });
    const push = channel.push(event, payload, timeout);
    this.pushes.add(push);
    const done = (status) => (response) => {
      this.pushes.delete(push);
      result.emit({ status, response });
    };
    push.receive("ok", done("ok")).receive("error", done("error")).receive("timeout", done("timeout"));
    return waiting;
  }

  /** Pushes and requires an ok reply; resolves with the reply's response. */
  async pushOk(channel, event, payload, opts) {
    const { status, response } = await this.push(channel, event, payload, opts);
    if (status !== "ok") {
      throw this.fail(`push ${JSON.stringify(event)} on ${channel.topic} answered ${status} ${show(response)}, expected ok`);
    }
    return response;
  }

  /** Sends a push that gets no reply: fire and forget, its timeout is cancelled on close(). */
  cast(channel, event, payload) {
    const push = channel.push(event, payload, 2_000);
    this.pushes.add(push);
    push.receive("timeout", () => this.pushes.delete(push));
    return push;
  }

  /** Waits for the next `event` on `channel` (registered now), optionally matching `pred`. */
  nextEvent(channel, event, { timeout = DEFAULT_WAIT_MS, pred = () => true } = {}) {
    const signal = new Signal();
    const ref = channel.on(event, (payload) => signal.emit(payload));
    return this.next(signal, `event ${JSON.stringify(event)} on ${channel.topic}`, { timeout, pred }).finally(() =>
      channel.off(event, ref),
    );
  }

  /** socket.ping(): a heartbeat round trip; resolves with the RTT in ms. */
  ping({ timeout = DEFAULT_WAIT_MS } = {}) {
    const signal = new Signal();
    const waiting = this.next(signal, "the heartbeat reply to socket.ping()", { timeout });
    if (!this.socket.ping((rtt) => signal.emit(rtt))) {
      waiting.catch(() => {});
      return Promise.reject(this.fail("socket.ping() refused: the socket is not connected"));
    }
    return waiting;
  }

  /** Stops everything this client started (timers included) so the test process can exit. */
  close() {
    for (const waiter of this.waits) {
      clearTimeout(waiter.timer);
      waiter.signal.waiters.delete(waiter);
    }
    this.waits.clear();
    for (const push of this.pushes) push.cancelTimeout();
    this.pushes.clear();
    for (const channel of this.channels) {
      channel.rejoinTimer.reset();
      channel.joinPush.cancelTimeout();
    }
    this.socket.disconnect();
  }
}

/**
 * Bookkeeping for one test file: clients created through it are closed by closeAll().
 */
export function clientPool(getServer) {
  const clients = [];
  return {
    client(name, opts) {
      const c = new Client(getServer(), name, opts);
      clients.push(c);
      return c;
    },
    closeAll() {
      for (const c of clients.splice(0)) c.close();
    },
  };
}
