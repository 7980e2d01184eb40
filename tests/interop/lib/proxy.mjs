// An HTTP proxy in front of `slipstream serve` that passes plain HTTP requests through and does
// not let websocket upgrades through: the network a long-poll fallback exists for (a corporate
// proxy or firewall that blocks websockets). phoenix.js sees one endpoint, the proxy's, and
// derives both transports' URLs from it as it would in a browser; the long-poll requests reach
// the real server unchanged.

import http from "node:http";

/**
 * Starts the proxy on a free loopback port, forwarding to 127.0.0.1:`upstreamPort`.
 *
 * `upgrades`: "refuse" answers every upgrade request with HTTP 403 and closes the connection;
 * "hang" reads it and never answers (the client's own timers must give up).
 *
 * Resolves to { port, socketUrl, upgradeAttempts(), forwarded(), close() }; forwarded() counts
 * plain requests passed to the server.
 */
export async function startBlockingProxy(upstreamPort, { upgrades = "refuse" } = {}) {
  let upgradeAttempts = 0;
  let forwarded = 0;
  const sockets = new Set();

  const server = http.createServer((req, res) => {
    forwarded += 1;
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: upstreamPort,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode, upRes.statusMessage, upRes.headers);
        upRes.pipe(res);
      },
    );
    upstream.on("error", (e) => {
      if (!res.headersSent) {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end(`proxy: upstream error ${e.message}`);
      } else {
        res.destroy();
      }
    });
    // The client gave up (phoenix.js aborts its pending poll on close): drop the upstream too.
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });

  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  server.on("upgrade", (req, socket) => {
    upgradeAttempts += 1;
    if (upgrades === "refuse") {
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
    // "hang": keep the socket open without a word; close() destroys it.
  });

  const port = await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });

  return {
    port,
    socketUrl: `ws://127.0.0.1:${port}/socket`,
    upgradeAttempts: () => upgradeAttempts,
    forwarded: () => forwarded,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A sessionStorage stand-in (getItem/setItem), for phoenix.js's `sessionStorage` option. */
export class MemoryStorage {
  constructor() {
    this.items = new Map();
  }

  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }

  setItem(key, value) {
    this.items.set(key, String(value));
  }

  removeItem(key) {
    this.items.delete(key);
  }
}
