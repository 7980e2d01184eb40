#!/usr/bin/env bash
# Issue 15's figure: USERS idle joined websockets on this machine, held by NODES `slipstream
# serve` processes sharing one port (SO_REUSEPORT) and one redis-server, then ROUNDS broadcasts
# to all of them, one every EVERY seconds.
#
#   scripts/bench-100k.sh                      # USERS=100000 NODES=8 WORKERS=7
#
# `slipstream bench fanout` runs in WORKERS processes (each under the 20,000 open-files limit),
# its users spread over SOURCE_ADDRS loopback source addresses (one address has ~28,000
# ephemeral ports towards the one server address). Users connect at an even rate over RAMP and
# join `bench:fanout`; the one sender (user 0) waits RAMP + SETTLE, then broadcasts ROUNDS times;
# each delivery is recorded per round (`--per-round`), so a round's max is the time until its
# last delivery across every worker. Half-way through SETTLE each node's VmRSS is read: memory
# per connection = sum over nodes of (that - the node's idle VmRSS) / connections.
#
# Prints the bench summary, then the figures (and the CPU seconds that nodes, bench and Redis
# spent over the broadcasts). Loopback only; bounded by `timeout` (RAMP + SETTLE + ROUNDS x
# EVERY + 120 s); every process started here is killed on exit. Needs redis-server and
# a release build (cargo build --release -p slipstream-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-100000}
NODES=${NODES:-8}
WORKERS=${WORKERS:-7}
SOURCE_ADDRS=${SOURCE_ADDRS:-8}
RAMP=${RAMP:-60}     # seconds
SETTLE=${SETTLE:-20} # seconds between the end of the ramp and the first broadcast
ROUNDS=${ROUNDS:-20}
EVERY=${EVERY:-5} # seconds between broadcasts
PORT=${PORT:-4100}
BIN=${BIN:-target/release/slipstream}
OUT=${OUT:-}
ulimit -n 20000
work=$(mktemp -d)
redis_port=$((PORT + 1000))
pids=()
bench_pid=
cleanup() {
    if [ -n "$bench_pid" ]; then
        # The bench and its workers: the process group that setsid made.
        kill -9 -- "-$bench_pid" 2>/dev/null || true
    fi
    kill -9 "${pids[@]}" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids+=($!)
sleep 0.5
nodes=()
for n in $(seq 1 "$NODES"); do
    "$BIN" serve --port "$PORT" --reuse-port --pubsub "redis://127.0.0.1:$redis_port" --node "n$n" \
        --max-connections 19000 >"$work/node$n.out" 2>"$work/node$n.err" &
    pids+=($!)
    nodes+=($!)
done
sleep 2
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
idle_rss=()
idle_fds=()
for pid in "${nodes[@]}"; do
    idle_rss+=("$(rss "$pid")")
    idle_fds+=("$(fds "$pid")")
done
# Rounds are sent at RAMP + SETTLE + k x EVERY (k < ROUNDS); the run stops one period after the
# last, so its deliveries are in.
hold=$((SETTLE + ROUNDS * EVERY))
hold_ms=$((hold * 1000))
rate=$(awk -v e="$EVERY" 'BEGIN { printf "%.6f/s", 1 / e }')
start=$(date +%s.%N)
# In a process group of its own (killed whole on exit); at the time limit, SIGINT: the workers
# stop and write their results.
setsid timeout -s INT -k 30 $((RAMP + hold + EVERY + 120)) "$BIN" bench fanout \
    --url "ws://127.0.0.1:$PORT/socket/websocket" --users "$USERS" --senders 1 \
    --rate "$rate" --send-after "$((RAMP + SETTLE))s" --per-round \
    --ramp-up "${RAMP}s" --duration "${hold_ms}ms" --workers "$WORKERS" \
    --source-addrs "$SOURCE_ADDRS" --quiet --out "$work/run.json" &
bench_pid=$!
# CPU seconds (user + system) of processes: the nodes, or the bench's process group.
cpu() { awk -v t="$(getconf CLK_TCK)" '{ s += $14 + $15 } END { printf "%.2f", s / t }' "$@" 2>/dev/null; }
bench_cpu() { cpu $(pgrep -g "$bench_pid" | sed "s|.*|/proc/&/stat|"); }
node_stats=$(for pid in "${nodes[@]}"; do echo "/proc/$pid/stat"; done)
sleep $((RAMP + SETTLE / 2))
loaded_rss=()
conns=()
for i in "${!nodes[@]}"; do
    loaded_rss+=("$(rss "${nodes[$i]}")")
    conns+=($(($(fds "${nodes[$i]}") - idle_fds[i])))
done
cpu0_nodes=$(cpu $node_stats)
cpu0_bench=$(bench_cpu)
cpu0_redis=$(cpu "/proc/${pids[0]}/stat")
# Just before the stop: every round sent and (by then) delivered.
sleep $((SETTLE - SETTLE / 2 + ROUNDS * EVERY - 1))
cpu1_nodes=$(cpu $node_stats)
cpu1_bench=$(bench_cpu)
cpu1_redis=$(cpu "/proc/${pids[0]}/stat")
code=0
wait "$bench_pid" || code=$?
echo "bench exit status: $code (started $(date -u -d "@${start%.*}" '+%F %T UTC'))"
echo
echo "node  idle VmRSS KiB  VmRSS KiB before the broadcasts  VmHWM KiB at the end  connections"
sum_extra=0
sum_conns=0
for i in "${!nodes[@]}"; do
    echo "n$((i + 1))    ${idle_rss[$i]}  ${loaded_rss[$i]}  $(hwm "${nodes[$i]}")  ${conns[$i]}"
    sum_extra=$((sum_extra + loaded_rss[i] - idle_rss[i]))
    sum_conns=$((sum_conns + conns[i]))
done
awk -v k="$sum_extra" -v c="$sum_conns" 'BEGIN {
    printf "server: %d connections open before the broadcasts, %d KiB over idle: %.1f KiB per connection\n", c, k, (c ? k / c : 0) }'
awk -v n0="$cpu0_nodes" -v n1="$cpu1_nodes" -v b0="$cpu0_bench" -v b1="$cpu1_bench" \
    -v r0="$cpu0_redis" -v r1="$cpu1_redis" -v r="$ROUNDS" -v e="$EVERY" 'BEGIN {
    printf "CPU over the %d s of the %d broadcasts (heartbeats included): nodes %.1f s, bench %.1f s, redis %.2f s\n", r * e, r, n1 - n0, b1 - b0, r1 - r0 }'
cp "$work/run.json" "${OUT:-/dev/null}" 2>/dev/null || true
python3 - "$work/run.json" "$USERS" "$EVERY" <<'EOF'
import json, sys
run = json.load(open(sys.argv[1]))
users = int(sys.argv[2])
started = run["meta"]["started_unix_ms"] / 1000
connect = run["latencies"].get("connect", {"count": 0})
seconds = [i["unix_second"] for i in run["series"] if "connect" in i.get("latencies", {})]
if seconds:
    print(f"connected: {connect['count']} of {users}, the last in the second starting "
          f"{seconds[-1] - started:.0f} s after the run started (connect p99 "
          f"{connect['p99_us'] / 1000:.1f} ms, max {connect['max_us'] / 1000:.0f} ms)")
rounds = sorted((k, v) for k, v in run["latencies"].items() if k.startswith("round."))
full = [v["max_us"] / 1000 for k, v in rounds if v["count"] == users - 1]
for k, v in rounds:
    print(f"  {k}: {v['count']} deliveries, last after {v['max_us'] / 1000:.1f} ms "
          f"(p50 {v['p50_us'] / 1000:.1f} ms)")
def rank(xs, q):
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * q // 100) - 1)] if xs else float("nan")
c = run["counters"]
print(f"broadcast rounds: {len(rounds)}, {len(full)} of them delivered to all {users - 1} receivers")
every = int(sys.argv[3])
late = [x for x in full if x > every * 1000]
if late:
    print(f"{len(late)} rounds took longer than the {every} s between rounds: rounds overlapped")
print(f"last delivery over those rounds: p50 {rank(full, 50):.1f} ms, p99 {rank(full, 99):.1f} ms, "
      f"max {max(full, default=float('nan')):.1f} ms")
print(f"messages sent {c.get('messages.sent', 0)}, received {c.get('messages.received', 0)}, "
      f"lost {c.get('messages.lost', 0)}; errors: "
      + (", ".join(f"{k} {n}" for k, n in c.items() if k.startswith("errors.")) or "none"))
EOF
