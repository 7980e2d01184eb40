#!/usr/bin/env python3
"""Measures what `slipstream serve` does under the attacks of RELIABILITY.md.

Starts a release build of `slipstream serve` on a free loopback port, plays one hostile peer at a
time against it (standard library only: raw TCP and hand-made websocket frames), and prints one
line per attack: what the server did, its resident memory (VmRSS now, VmHWM peak, from
/proc/PID/status) and whether a well-behaved client was still served afterwards.

    cargo build --release -p slipstream-cli
    python3 scripts/attack.py [--binary target/release/slipstream] [--only NAME ...]

Every attack is bounded in time and count and talks to 127.0.0.1 only.
"""

import argparse
import base64
import json
import os
import re
import resource
import select
import socket
import struct
import subprocess
import sys
import time

# ---------------------------------------------------------------- websocket by hand


def ws_connect(port, path="/socket/websocket?vsn=2.0.0", timeout=5.0):
    """Opens a websocket (client side) and returns the socket, handshake done."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.sendall(request.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed during the upgrade")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise ConnectionError(f"upgrade refused: {status.decode(errors='replace')}")
    return sock


def ws_frame(payload, opcode=0x1):
    """A masked client frame."""
    if isinstance(payload, str):
        payload = payload.encode()
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    # XOR in bulk: int.from_bytes is linear and fast enough for a few MB.
    repeated = (mask * (n // 4 + 1))[:n]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(n, "big") if n else b""
    return header + mask + masked


# join_ref, ref, topic and event of a V2 text frame.
HEADER = re.compile(rb'\[(null|"[^"]*"),(null|"([^"]*)"),"([^"]*)","([^"]*)"')


class Reader:
    """Reads server frames (unmasked) from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0  # start of the unread bytes in `buf`

    def _fill(self, n, deadline):
        while len(self.buf) - self.pos < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed by the server")
            if self.pos:
                del self.buf[: self.pos]
                self.pos = 0
            self.buf += chunk

    def frame(self, timeout=10.0):
        """Returns (opcode, payload bytes)."""
        deadline = time.monotonic() + timeout
        self._fill(2, deadline)
        b0, b1 = self.buf[self.pos], self.buf[self.pos + 1]
        n = b1 & 0x7F
        at = 2
        if n == 126:
            self._fill(4, deadline)
            n = struct.unpack("!H", self.buf[self.pos + 2 : self.pos + 4])[0]
            at = 4
        elif n == 127:
            self._fill(10, deadline)
            n = struct.unpack("!Q", self.buf[self.pos + 2 : self.pos + 10])[0]
            at = 10
        self._fill(at + n, deadline)
        payload = bytes(self.buf[self.pos + at : self.pos + at + n])
        self.pos += at + n
        return b0 & 0x0F, payload

    def reply(self, ref, timeout=10.0):
        """Reads frames until the phx_reply with `ref`; returns its decoded payload."""
        deadline = time.monotonic() + timeout
        while True:
            opcode, payload = self.frame(max(0.01, deadline - time.monotonic()))
            if opcode == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise ConnectionError(f"closed by the server with {code}")
            if opcode != 0x1:
                continue
            head = HEADER.match(payload)
            if head and head.group(3) == ref.encode() and head.group(5) == b"phx_reply":
                try:
                    return json.loads(payload)[4]
                except RecursionError:
                    pass  # too deep for Python's recursive decoder: read the status only
                status = re.search(rb'"status":"(\w+)"', payload[-200:]) or re.search(rb'"status":"(\w+)"', payload)
                return {"status": status.group(1).decode() if status else "?"}


def push(sock, join_ref, ref, topic, event, payload_text):
    text = f'[{json.dumps(join_ref)},{json.dumps(ref)},{json.dumps(topic)},{json.dumps(event)},{payload_text}]'
    sock.sendall(ws_frame(text))


def good_client_ok(port):
    """A well-behaved client connects, joins rooms:lobby and gets its ping answered."""
    try:
        sock = ws_connect(port)
        reader = Reader(sock)
        push(sock, "1", "1", "rooms:lobby", "phx_join", "{}")
        if reader.reply("1", 5)["status"] != "ok":
            return False
        push(sock, "1", "2", "rooms:lobby", "ping", "{}")
        ok = reader.reply("2", 5)["response"] == {"pong": "pong"}
        sock.close()
        return ok
    except (OSError, ConnectionError, TimeoutError, ValueError):
        return False


# ---------------------------------------------------------------- the server under test


class Server:
    def __init__(self, binary, extra):
        self.proc = subprocess.Popen(
            [binary, "serve", "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=open("/tmp/attack-serve.log", "ab"),
            text=True,
        )
        line = self.proc.stdout.readline()
        self.port = int(line.rsplit(":", 1)[1])

    def status(self, key):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        return int(line.split()[1])  # kB
        except FileNotFoundError:
            return None
        return None

    def alive(self):
        return self.proc.poll() is None

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def mib(kb):
    return "gone" if kb is None else f"{kb / 1024:.1f} MiB"


# ---------------------------------------------------------------- the attacks


def joined(port):
    sock = ws_connect(port)
    reader = Reader(sock)
    push(sock, "1", "1", "rooms:lobby", "phx_join", "{}")
    reader.reply("1", 5)
    return sock, reader


def attack_deep_payloads(server):
    rows = []
    for depth in (1_000, 10_000, 20_000, 100_000, 1_000_000):
        text = "[" * depth + "]" * depth
        try:
            sock, reader = joined(server.port)
        except (OSError, ConnectionError, TimeoutError):
            rows.append(f"  depth {depth:>9,}: cannot connect any more; server alive: {server.alive()}")
            break
        before = server.cpu_seconds()
        start = time.monotonic()
        push(sock, "1", "2", "rooms:lobby", "echo", text)
        try:
            reply = reader.reply("2", 60)
            outcome = reply["status"]
        except (ConnectionError, TimeoutError, OSError) as err:
            outcome = f"no reply ({err})"
        elapsed = time.monotonic() - start
        cpu = server.cpu_seconds() - before if server.alive() else float("nan")
        sock.close()
        time.sleep(0.2)
        rows.append(
            f"  echo of [[…]] depth {depth:>9,} ({len(text) / 1e3:,.0f} KB): {outcome}, "
            f"{elapsed * 1e3:.0f} ms wall, {cpu * 1e3:.0f} ms server CPU, server alive: {server.alive()}"
        )
        if not server.alive():
            break
    return rows


def attack_unread_pongs(server, seconds=10.0):
    """Heartbeats as fast as possible, never reading a reply."""
    sock = ws_connect(server.port)
    batch = ws_frame('[null,"1","phoenix","heartbeat",{}]') * 256
    sent = 0
    stalled = None
    start = time.monotonic()
    peak = 0
    sock.settimeout(1.0)
    while time.monotonic() - start < seconds:
        try:
            sock.sendall(batch)
            sent += 256
        except socket.timeout:
            stalled = time.monotonic() - start
            break
        except OSError:
            break
        peak = max(peak, server.status("VmRSS") or 0)
    peak = max(peak, server.status("VmRSS") or 0)
    end = read_to_the_end(Reader(sock), b'"phx_reply"')
    sock.close()
    time.sleep(1.0)
    return [
        f"  {sent:,} heartbeats sent unread"
        + (f", until the server stopped reading after {stalled:.1f} s" if stalled else f" over {seconds:.0f} s")
        + f"; then the client read {end}; RSS peak {mib(peak)}, after it left {mib(server.status('VmRSS'))}"
    ]


def read_to_the_end(reader, marker, within=10.0):
    """Reads what the server sent until its close frame, EOF or `within`; says how it ended."""
    got = 0
    until = time.monotonic() + within
    while time.monotonic() < until:
        try:
            opcode, payload = reader.frame(max(0.01, until - time.monotonic()))
        except TimeoutError:
            return f"{got:,} replies and the connection is still open"
        except (ConnectionError, OSError):
            return f"{got:,} replies, then the connection was dropped without a close frame"
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            return f"{got:,} replies, then a close frame with {code}"
        if marker in payload:
            got += 1
    return f"{got:,} replies and the connection is still open"


def attack_unread_broadcasts(server, seconds=10.0):
    """A joined client that never reads while 1 KB broadcasts flow on its topic."""
    slow, slow_reader = joined(server.port)
    fast, fast_reader = joined(server.port)
    sender, sender_reader = joined(server.port)
    body = json.dumps({"blob": "x" * 1000})
    start = time.monotonic()
    ref = 10
    peak = 0
    fast_got = 0
    sent = 0
    while time.monotonic() - start < seconds:
        for _ in range(50):
            ref += 1
            push(sender, "1", str(ref), "rooms:lobby", "broadcast", body)
            sent += 1
        # The fast client and the sender read everything that came.
        for r in (fast_reader, sender_reader):
            while True:
                try:
                    opcode, payload = r.frame(0.001)
                except TimeoutError:
                    break
                if r is fast_reader and b"broadcast_event" in payload:
                    fast_got += 1
        peak = max(peak, server.status("VmRSS") or 0)
        time.sleep(0.01)
    # Let the fast client drain what is in flight.
    drain_until = time.monotonic() + 3
    while time.monotonic() < drain_until and fast_got < sent:
        try:
            opcode, payload = fast_reader.frame(0.2)
            if b"broadcast_event" in payload:
                fast_got += 1
        except TimeoutError:
            break
    # Now read what the slow client was sent: a close frame at the end means it was dropped.
    slow_got = 0
    slow_end = "still open"
    drain_until = time.monotonic() + 10
    while time.monotonic() < drain_until:
        try:
            opcode, payload = slow_reader.frame(max(0.01, drain_until - time.monotonic()))
        except TimeoutError:
            break
        except (ConnectionError, OSError):
            slow_end = "connection dropped without a close frame"
            break
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            slow_end = f"closed by the server with {code}"
            break
        if b"broadcast_event" in payload:
            slow_got += 1
    for s in (slow, fast, sender):
        s.close()
    time.sleep(1.0)
    return [
        f"  {sent:,} broadcasts of 1 KB over {seconds:.0f} s to a reader that never reads: "
        + f"slow client {slow_end} after {slow_got:,} broadcasts"
        + f"; fast client got {fast_got:,}/{sent:,}; RSS peak {mib(peak)}, after {mib(server.status('VmRSS'))}"
    ]


def attack_half_open(server, count=2000, hold=15.0):
    """Opens `count` TCP connections that send half an HTTP request and then nothing."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))
    socks = []
    for _ in range(count):
        try:
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /socket/websocket HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    opened = len(socks)
    good_during = good_client_ok(server.port)
    start = time.monotonic()
    open_left = opened
    closed_at = None
    while time.monotonic() - start < hold:
        open_left = 0
        for s in socks:
            try:
                s.setblocking(False)
                data = s.recv(1, socket.MSG_PEEK)
                if data != b"":
                    open_left += 1
            except BlockingIOError:
                open_left += 1
            except OSError:
                pass
        if open_left == 0:
            closed_at = time.monotonic() - start
            break
        time.sleep(0.25)
    for s in socks:
        s.close()
    return [
        f"  {opened:,} half-open requests: good client served meanwhile: {good_during}; "
        + (f"all closed by the server within {closed_at:.1f} s" if closed_at is not None else f"{open_left:,} still open after {hold:.0f} s")
        + f"; RSS {mib(server.status('VmRSS'))}"
    ]


ATTACKS = {
    "deep": ("Deeply nested payloads (echo on rooms:lobby)", attack_deep_payloads),
    "pongs": ("Heartbeats whose replies are never read", attack_unread_pongs),
    "broadcasts": ("A joined client that never reads", attack_unread_broadcasts),
    "half-open": ("Half-open HTTP requests", attack_half_open),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default="target/release/slipstream")
    parser.add_argument("--only", nargs="*", choices=list(ATTACKS))
    parser.add_argument("serve_args", nargs="*", help="extra arguments for `slipstream serve`")
    args = parser.parse_args()
    for name in args.only or list(ATTACKS):
        title, attack = ATTACKS[name]
        server = Server(args.binary, args.serve_args)
        try:
            idle = server.status("VmRSS")
            print(f"{title} (server idle: {mib(idle)})")
            for row in attack(server):
                print(row)
            alive = server.alive()
            print(f"  server alive afterwards: {alive}; a good client is served: {alive and good_client_ok(server.port)}")
            sys.stdout.flush()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
