#!/usr/bin/env bash
# Writes the committed seed corpus fuzz/seeds/<target>/ of every fuzz target from the recorded
# Phoenix frames of tests/conformance/*.json, plus a few hand-made inputs.
# Deterministic: re-running it rewrites the same files. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - <<'PY'
import base64, glob, hashlib, json, os, shutil, struct

SEEDS = "fuzz/seeds"
TARGETS = ["ws_reader", "json_normalize", "client_inbound",
           "v1_text", "v2_text", "v2_binary_from_client", "v2_binary_from_server"]
for t in TARGETS:
    shutil.rmtree(os.path.join(SEEDS, t), ignore_errors=True)
    os.makedirs(os.path.join(SEEDS, t))

def write(target, name, data):
    with open(os.path.join(SEEDS, target, name), "wb") as f:
        f.write(data)

MASK = b"\x37\xfa\x21\x3d"

def client_frame(opcode, payload, fin=True):
    """A masked client frame, as the server reads them."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))

def record(kind, payload=b""):
    """One client_inbound record: 0 text, 1 binary, 2 raw bytes (length-prefixed), 3 settle."""
    if kind == 3:
        return b"\x03"
    return bytes([kind]) + struct.pack(">H", len(payload)) + payload

PUSH_ON_LOBBY = b"\x04\x01"  # client_inbound: the client pushes on rooms:lobby (next ref)

def payload_of(text):
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    if isinstance(frame, list) and len(frame) == 5:
        return frame[4]
    if isinstance(frame, dict) and "payload" in frame:
        return frame["payload"]
    return None

payloads = set()
codec = {t: set() for t in TARGETS[3:]}  # the codec targets: one frame per file
for path in sorted(glob.glob("tests/conformance/*.json")):
    name = os.path.basename(path)[:-5]
    if name == "index":
        continue
    scenario = json.load(open(path))
    if scenario.get("transport") != "websocket":
        continue
    v1 = scenario.get("vsn") == "1.0.0"
    first_socket = None
    ws_stream = b""
    inbound = bytes([1 if v1 else 0])
    joined = False
    for step in scenario.get("steps", []):
        sock = step.get("socket")
        if first_socket is None and sock is not None:
            first_socket = sock
        if sock is not None and sock != first_socket:
            continue
        send, expect = step.get("send"), step.get("expect")
        for frame in (send, expect):
            if frame and "text" in frame:
                codec["v1_text" if v1 else "v2_text"].add(frame["text"].encode())
        if send and "binary_base64" in send:
            codec["v2_binary_from_client"].add(base64.b64decode(send["binary_base64"]))
        if expect and "binary_base64" in expect:
            codec["v2_binary_from_server"].add(base64.b64decode(expect["binary_base64"]))
        if send:
            if "text" in send:
                ws_stream += client_frame(0x1, send["text"].encode())
                payloads.add(json.dumps(payload_of(send["text"]), ensure_ascii=False, separators=(",", ":")))
                if not joined and "phx_join" in send["text"] and "rooms:lobby" in send["text"]:
                    joined = True  # the fuzz target's client joins rooms:lobby itself
                else:
                    inbound += PUSH_ON_LOBBY
            elif "binary_base64" in send:
                ws_stream += client_frame(0x2, base64.b64decode(send["binary_base64"]))
                inbound += PUSH_ON_LOBBY
            elif "text_bytes_base64" in send:
                ws_stream += client_frame(0x1, base64.b64decode(send["text_bytes_base64"]))
            elif "ping_base64" in send:
                ws_stream += client_frame(0x9, base64.b64decode(send["ping_base64"]))
            elif "close" in send:
                code = send["close"]
                ws_stream += client_frame(0x8, struct.pack(">H", code) if code else b"")
        if expect:
            if "text" in expect:
                inbound += record(0, expect["text"].encode()) + record(3)
                payloads.add(json.dumps(payload_of(expect["text"]), ensure_ascii=False, separators=(",", ":")))
            elif "binary_base64" in expect:
                inbound += record(1, base64.b64decode(expect["binary_base64"])) + record(3)
            elif "close" in expect:
                code = expect["close"]
                body = struct.pack(">H", code) if code else b""
                inbound += record(2, bytes([0x88, len(body)]) + body)
    if ws_stream:
        write("ws_reader", name, ws_stream)
    if len(inbound) > 1:
        write("client_inbound", name, inbound)

# ws_reader: fragments with a ping between them, an oversize frame then a ping, a 64-bit length,
# a one-byte close payload, a close with a reason.
write("ws_reader", "fragments_and_ping",
      client_frame(0x1, b"he", fin=False) + client_frame(0x9, b"p") + client_frame(0x0, b"llo"))
write("ws_reader", "oversize_then_ping", client_frame(0x2, bytes(600)) + client_frame(0x9, b"hi"))
write("ws_reader", "length_64bit", bytes([0x82, 0xff]) + struct.pack(">Q", 2**63 - 1) + MASK)
write("ws_reader", "close_one_byte", client_frame(0x8, b"\x03"))
write("ws_reader", "fragments_over_limit",
      client_frame(0x2, bytes(300), fin=False) + client_frame(0x0, bytes(250)) + client_frame(0x9, b"p"))
write("ws_reader", "close_reason", client_frame(0x8, struct.pack(">H", 4000) + "bye ☃".encode()))

# json_normalize: mode byte 0 (raw text), then a payload; a few with duplicates and escapes.
payloads.discard("null")
extra = [
    '{"b":1,"a":2,"b":3}',
    '{"z":[1,{"y":2,"x":"caf\\u00e9"}],"dup":1,"dup":2,"f":2.50,"n":null}',
    '{"big":123456789012345678901234567890,"e":-1.5e-300,"emoji":"\\ud83d\\ude00"}',
    '[[[[[[[[[[{"k":[]}]]]]]]]]]]',
    ' { "a" : [ true , false , null ] } ',
]
for text in sorted(payloads) + extra:
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    write("json_normalize", "payload_" + digest, b"\x00" + text.encode())
for target, frames in codec.items():
    for frame in sorted(frames):
        write(target, "frame_" + hashlib.sha1(frame).hexdigest()[:12], frame)
PY

for t in ws_reader json_normalize client_inbound v1_text v2_text v2_binary_from_client v2_binary_from_server; do
    printf '%s: %s seeds\n' "$t" "$(ls fuzz/seeds/$t | wc -l)"
done
