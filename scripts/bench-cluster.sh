#!/usr/bin/env bash
# Many joined websockets on one machine: NODES `slipstream serve` processes sharing one port
# (SO_REUSEPORT) and one redis-server, loaded by `slipstream bench fanout` in WORKERS processes:
# one sender broadcasts RATE messages a second to every user on every node. Prints the bench
# summary, then each node's resident memory (VmRSS/VmHWM) and connection count.
#
#   USERS=100000 NODES=7 WORKERS=7 scripts/bench-cluster.sh
#
# Loopback only; bounded by RAMP + HOLD. Needs redis-server and a release build
# (cargo build --release -p slipstream-cli).
set -euo pipefail
cd "$(dirname "$0")/.."
USERS=${USERS:-20000}
NODES=${NODES:-2}
WORKERS=${WORKERS:-2}
RAMP=${RAMP:-60s}
HOLD=${HOLD:-30s}
RATE=${RATE:-1/s}
PORT=${PORT:-4100}
BIN=${BIN:-target/release/slipstream}
ulimit -n 20000
work=$(mktemp -d)
redis_port=$((PORT + 1000))
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >"$work/redis.log" 2>&1 &
pids=($!)
trap 'kill -9 "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 0.5
idle_kib=()
for n in $(seq 1 "$NODES"); do
    "$BIN" serve --port "$PORT" --reuse-port --pubsub "redis://127.0.0.1:$redis_port" --node "n$n" \
        --max-connections 19000 >"$work/node$n.out" 2>"$work/node$n.err" &
    pids+=($!)
done
sleep 1
for pid in "${pids[@]:1}"; do
    idle_kib+=("$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")")
done
"$BIN" bench fanout --url "ws://127.0.0.1:$PORT/socket/websocket" --users "$USERS" --senders 1 \
    --rate "$RATE" --ramp-up "$RAMP" --duration "$HOLD" --workers "$WORKERS" --quiet \
    --out "$work/run.json" || true
echo
echo "node  idle VmRSS KiB  loaded VmRSS KiB  VmHWM KiB  connections (established on :$PORT)"
i=0
total_extra=0
for pid in "${pids[@]:1}"; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    echo "n$((i + 1))    ${idle_kib[$i]}  $rss  $hwm"
    total_extra=$((total_extra + hwm - idle_kib[i]))
    i=$((i + 1))
done
echo "server memory over idle (sum of VmHWM minus idle VmRSS): $total_extra KiB;"
echo "divide by the users the summary says connected (not USERS, if some failed)"
