// The two transports phoenix.js can use, and what each needs in Node.
//
// Websocket: phoenix.js takes the class from the `transport` Socket option; Node 20 has no global
// WebSocket, so we hand it `ws`, which has the browser interface.
//
// Long-poll: phoenix.js's own `LongPoll` class, which talks HTTP through its `Ajax` helper. Ajax
// picks, at every request, `XDomainRequest`, else `XMLHttpRequest`, else `fetch`. Browsers take
// the XMLHttpRequest branch, so we install `xhr2` (an XMLHttpRequest for Node, with `timeout`
// and `ontimeout`, which LongPoll's 20 s request timeout relies on) as the global before any
// Socket exists: the suite then runs the code path a browser runs. `longpoll-fetch.test.mjs`
// removes it again to cover the fetch branch that Node and Deno applications get.
//
// LongPoll needs no other browser global: `btoa`/`atob` exist in Node, `CloseEvent` is optional
// (phoenix.js passes a plain object without it), `location` is only read for relative endpoint
// URLs (ours are absolute), and `sessionStorage` is only used by the websocket → long-poll
// fallback to remember a fallback; it is optional there and passed as the Socket option
// `sessionStorage` by the fallback tests rather than installed globally.

import { describe } from "node:test";

import { LongPoll } from "phoenix";
import WebSocket from "ws";
import XHR2 from "xhr2";

/** The last long-poll HTTP exchanges of this process (all clients), for failure messages. */
const exchanges = [];
const MAX_EXCHANGES = 80;
let requestCount = 0;

function remember(line) {
  exchanges.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  if (exchanges.length > MAX_EXCHANGES) exchanges.splice(0, exchanges.length - MAX_EXCHANGES);
}

/** Shortens a long-poll URL for traces: path and query, the session token cut to its end. */
function brief(url) {
  try {
    const u = new URL(url);
    const token = u.searchParams.get("token");
    // The end of a token is the part that differs between sessions (a signature).
    if (token && token.length > 10) u.searchParams.set("token", `…${token.slice(-8)}`);
    return decodeURIComponent(`${u.pathname}${u.search}`);
  } catch {
    return String(url);
  }
}

function clip(text, max = 400) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

/** Exceptions thrown by phoenix.js inside its XMLHttpRequest callbacks, not yet collected. */
const handlerErrors = [];

/**
 * xhr2's XMLHttpRequest, recording each request and its outcome in `exchanges`. Only observes:
 * what phoenix.js sends and receives is untouched.
 *
 * One difference from xhr2 is deliberate: an exception thrown by an event handler (phoenix.js's
 * code) is caught and recorded instead of escaping into xhr2's HTTP response handling, where
 * Node would treat it as an uncaught exception. That is what a browser does (the error is
 * reported, the page goes on), and it lets a test report it with the trace:
 * `takeHandlerErrors()` returns them and the fixture fails the test that saw one.
 */
class TracedXMLHttpRequest extends XHR2 {
  dispatchEvent(event) {
    try {
      return super.dispatchEvent(event);
    } catch (error) {
      const where = this._trace ? `${this._trace.method} ${this._trace.url}` : "?";
      remember(`phoenix.js threw in its ${event.type} handler of ${where}: ${error && error.stack ? error.stack.split("\n").slice(0, 3).join(" | ") : error}`);
      handlerErrors.push({ error, where, event: event.type });
      return undefined;
    }
  }

  open(method, url, ...rest) {
    this._trace = { method, url: brief(url) };
    return super.open(method, url, ...rest);
  }

  send(body) {
    const t = this._trace || { method: "?", url: "?" };
    requestCount += 1;
    const n = requestCount;
    remember(`xhr#${n} ${t.method} ${t.url}${body == null ? "" : ` body ${JSON.stringify(clip(body, 300))}`}`);
    // Logged on the change to DONE, which phoenix.js's own handler sees right after this one, so
    // the log keeps the order in which phoenix.js learnt of the answers.
    this.addEventListener("readystatechange", () => {
      if (this.readyState !== 4) return;
      remember(this.status ? `xhr#${n} <- ${this.status} ${clip(this.responseText)}` : `xhr#${n} <- no answer (network error, timeout or abort)`);
    });
    this.addEventListener("timeout", () => remember(`xhr#${n} <- timeout after ${this.timeout} ms`));
    this.addEventListener("abort", () => remember(`xhr#${n} <- aborted by phoenix.js`));
    return super.send(body);
  }
}

/** Puts the XMLHttpRequest shim in place (idempotent); phoenix.js looks it up per request. */
export function installXMLHttpRequest() {
  globalThis.XMLHttpRequest = TracedXMLHttpRequest;
}

/** Removes it, so phoenix.js's Ajax falls back to fetch. */
export function removeXMLHttpRequest() {
  delete globalThis.XMLHttpRequest;
}

installXMLHttpRequest();

/** The exceptions phoenix.js threw in XMLHttpRequest handlers since the last call; clears them. */
export function takeHandlerErrors() {
  return handlerErrors.splice(0);
}

/** Number of requests sent through the XMLHttpRequest shim so far. */
export function xhrRequestCount() {
  return requestCount;
}

/** Forgets the exchanges so far (each test starts with an empty log). */
export function clearExchanges() {
  exchanges.splice(0);
}

/** The recent long-poll HTTP exchanges, or "" when there were none. */
export function longPollExchanges() {
  if (exchanges.length === 0) return "";
  return `--- long-poll HTTP exchanges of this process (last ${exchanges.length}) ---\n${exchanges.join("\n")}`;
}

/** Records a line in the exchange log from another HTTP path (the fetch test). */
export function rememberExchange(line) {
  remember(line);
}

export const WEBSOCKET = { name: "websocket", transport: WebSocket };
export const LONGPOLL = { name: "longpoll", transport: LongPoll };

/** Every transport the suite runs over, websocket first. */
export const TRANSPORTS = [WEBSOCKET, LONGPOLL];

/** The transport entry whose class is `transport`. */
export function transportNamed(name) {
  const t = TRANSPORTS.find((x) => x.name === name);
  if (!t) throw new Error(`unknown transport ${JSON.stringify(name)}`);
  return t;
}

/** Name of the transport class phoenix.js instantiated for its current connection, or null. */
export function transportInUse(socket) {
  const conn = socket.conn;
  if (!conn) return null;
  if (conn instanceof LongPoll) return "longpoll";
  if (conn instanceof WebSocket) return "websocket";
  return `unknown (${conn.constructor && conn.constructor.name})`;
}

/**
 * Registers `body(t)` once per transport, each inside `describe("over <name>")`, so a test file
 * states its tests once and they run over every transport.
 */
export function overEachTransport(body, transports = TRANSPORTS) {
  for (const t of transports) {
    describe(`over ${t.name}`, () => body(t));
  }
}
