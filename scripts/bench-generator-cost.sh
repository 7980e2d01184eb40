#!/usr/bin/env bash
# What `slipstream bench` itself costs, next to a raw tokio-tungstenite loop doing the same work,
# side by side in one run against one `slipstream serve` (see BENCHMARKS.md, "The load
# generator").
#
#   scripts/bench-generator-cost.sh [ROUNDS]      # 3 rounds by default
#
# Per round, in turn:
#   * CPU: 100 users pushing `ping` in a closed loop, 100,000 round trips in all: the floor bench's
#     S5 (raw loop and our client) and `slipstream bench ping -u 100 --iterations 100000` (its
#     whole process's CPU from /usr/bin/time);
#   * memory: 1,000 and 15,000 idle joined users: the floor bench's S3 (raw loop and our client,
#     resident growth per socket) and `slipstream bench connect` (peak resident memory of the
#     process, whose growth from 1,000 to 15,000 users gives the cost of one more user).
# Prints one line per measurement, then the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}

cargo build --release -q -p slipstream-cli
cargo bench -q -p slipstream-client --bench floor --no-run 2>/dev/null
floor=$(ls -t target/release/deps/floor-* | grep -v '\.d$' | head -1)
slipstream=target/release/slipstream
log=$(mktemp)
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT

"$slipstream" serve --port 0 --idle-timeout-ms 3600000 >"$log" 2>&1 &
server=$!
for _ in $(seq 50); do
  url=$(sed -n 's/^websocket: //p' "$log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "slipstream serve did not start:" >&2; cat "$log" >&2; exit 1; }
echo "server: $url"

# The floor bench's median row for a figure: "ours raw".
floor_figure() { # scenario-args… -- figure
  local figure=${*: -1}
  "$floor" --bench --url "$url" --runs 1 "${@:1:$#-1}" |
    awk -F'|' -v f=" $figure " '$3 == f { gsub(/[^0-9.]/, " ", $4); gsub(/[^0-9.]/, " ", $5); print $4, $5 }' | tail -1
}

# CPU seconds and peak resident KB of a command, from /usr/bin/time; a failed run (exit status
# not 0: errors, users not reached) stops the script.
cpu_and_peak() {
  local line
  line=$(/usr/bin/time -f "%U %S %M %x" "$@" 2>&1 >/dev/null | tail -1)
  if [ "${line##* }" != 0 ]; then
    echo "failed (exit ${line##* }): $*" >&2
    kill -TERM $$
  fi
  awk '{ print $1 + $2, $3 }' <<<"$line"
}

cpu_raw=(); cpu_ours=(); cpu_bench=(); mem_raw=(); mem_ours=(); mem_bench=()
for round in $(seq "$rounds"); do
  read -r ours raw < <(floor_figure --scenarios s5 "CPU per 1,000 replies")
  read -r bench_cpu _ < <(cpu_and_peak "$slipstream" bench ping --url "$url" -u 100 --iterations 100000 -q)
  bench_ms=$(awk -v c="$bench_cpu" 'BEGIN { printf "%.2f", c * 1000 / 100 }')
  echo "round $round CPU per 1,000 replies: raw $raw ms, our client $ours ms, slipstream bench $bench_ms ms"
  cpu_raw+=("$raw"); cpu_ours+=("$ours"); cpu_bench+=("$bench_ms")

  read -r ours raw < <(floor_figure --scenarios s3 --sockets 15000 "resident KiB per joined socket")
  read -r _ peak_small < <(cpu_and_peak "$slipstream" bench connect --url "$url" -u 1000 -d 3s -q)
  read -r _ peak_large < <(cpu_and_peak "$slipstream" bench connect --url "$url" -u 15000 -d 3s -q)
  per_user=$(awk -v a="$peak_small" -v b="$peak_large" 'BEGIN { printf "%.1f", (b - a) / 14000 }')
  echo "round $round KiB per idle joined user: raw $raw, our client $ours, slipstream bench $per_user"
  mem_raw+=("$raw"); mem_ours+=("$ours"); mem_bench+=("$per_user")
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
r=$(median "${cpu_raw[@]}"); o=$(median "${cpu_ours[@]}"); b=$(median "${cpu_bench[@]}")
echo "median CPU per 1,000 replies: raw $r ms, our client $o ms ($(ratio "$o" "$r")), slipstream bench $b ms ($(ratio "$b" "$r"))"
r=$(median "${mem_raw[@]}"); o=$(median "${mem_ours[@]}"); b=$(median "${mem_bench[@]}")
echo "median KiB per idle joined user: raw $r, our client $o ($(ratio "$o" "$r")), slipstream bench $b ($(ratio "$b" "$r"))"
