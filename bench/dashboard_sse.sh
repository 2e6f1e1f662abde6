#!/usr/bin/env bash
# bench/dashboard_sse.sh: gateway throughput with 50 dashboard clients connected vs none
# (issue 15: the page must not slow the worker). A benchmark, not a test: it prints figures.
#
#   bench/dashboard_sse.sh [--reps N (3)] [--count N (100000)] [--clients N (50)]
#
# Each rep runs, interleaved so load drift hits both alike: the gateway with the dashboard on
# and no client, then the same with N clients reading /events (curl -N). Both runs get a filter
# rule that republishes every event, the load tool publishes N events flat out (QoS 0) and
# receives the results; the figure is received results per second. Medians at the end, and the
# ratio clients/none (1.0 = unchanged; on a shared machine expect a few % of noise).
# Binaries: STREAMGATE_BIN, STREAMGATE_LOAD_BIN, else ./build/gateway/streamgate and
# ./build/bench/load/streamgate_load (build them first: cmake --build build).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
reps=3 count=100000 clients=50
while [[ $# -gt 0 ]]; do
  case $1 in
    --reps) reps=$2; shift ;;
    --count) count=$2; shift ;;
    --clients) clients=$2; shift ;;
    *) echo "usage: $0 [--reps N] [--count N] [--clients N]" >&2; exit 2 ;;
  esac
  shift
done
sg=${STREAMGATE_BIN:-$root/build/gateway/streamgate}
load=${STREAMGATE_LOAD_BIN:-$root/build/bench/load/streamgate_load}
[[ -x $sg && -x $load ]] || { echo "need $sg and $load (cmake --build build)" >&2; exit 1; }
# shellcheck source=scripts/deps.sh
source "$root/scripts/deps.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/sg-dash-bench.XXXXXX")
pids=()
cleanup() { streamgate_stop_started; rm -rf "$work"; }
trap cleanup EXIT
streamgate_start_broker "$work" || { echo "mosquitto did not start" >&2; exit 1; }
mkdir -p "$work/rules"
cat >"$work/rules/10-bench.sql" <<'SQL'
CREATE STREAM devices WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'timestamp', MAXOUTOFORDERNESS = '1s');
CREATE RULE pass_all WITH (TOPIC = 'bench/out/all', QOS = 0) AS
SELECT device_id, battery, sent_ns FROM devices WHERE battery < 1000;
SQL

run() {  # run MODE(0|N clients) REP -> prints the receive rate
  local n=$1 rep=$2 dport gw readers=() i rate
  dport=$(streamgate_free_port)
  "$sg" --broker "tcp://127.0.0.1:$port" --rules-dir "$work/rules" --state-db "" --qos 0 \
    --client-id "sg-dash-bench-$n-$rep" --dashboard-listen "127.0.0.1:$dport" \
    --dashboard-max-clients $((clients + 8)) >"$work/gw-$n-$rep.log" 2>&1 &
  gw=$!
  for _ in $(seq 1 100); do
    grep -q "dashboard on" "$work/gw-$n-$rep.log" 2>/dev/null && grep -q "subscribed to" "$work/gw-$n-$rep.log" && break
    sleep 0.1
  done
  for ((i = 0; i < n; i++)); do
    curl -sN "http://127.0.0.1:$dport/events" >/dev/null 2>&1 &
    readers+=($!)
  done
  sleep 2
  rm -f "$work/ready"
  "$load" receive --broker "tcp://127.0.0.1:$port" --topic bench/out/all --expect "$count" --idle 2 \
    --ready-file "$work/ready" --max-seconds 200 >"$work/recv.out" 2>/dev/null &
  local rpid=$!
  for _ in $(seq 1 150); do [[ -f $work/ready ]] && break; sleep 0.1; done
  "$load" publish --broker "tcp://127.0.0.1:$port" --count "$count" --devices 1000 --rate 0 --max-seconds 150 >/dev/null 2>&1
  wait "$rpid"
  rate=$(tail -1 "$work/recv.out" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("rate", 0))')
  local connected  # as the gateway counts them (the state event carries the last figure)
  connected=$(curl -sN --max-time 3 "http://127.0.0.1:$dport/events" 2>/dev/null | grep -m1 -o '"clients":[0-9]*' | cut -d: -f2)
  for i in "${readers[@]}"; do kill "$i" 2>/dev/null; done
  kill -TERM "$gw"; wait "$gw" 2>/dev/null
  wait "${readers[@]}" 2>/dev/null
  echo "$rate"
  echo "rep $rep, $connected dashboard clients: $rate results/s" >&2
}

none=() with=()
for ((rep = 1; rep <= reps; rep++)); do
  none+=("$(run 0 "$rep")")
  with+=("$(run "$clients" "$rep")")
done
python3 - "${none[*]}" "${with[*]}" "$clients" <<'PY'
import statistics, sys
none = [float(x) for x in sys.argv[1].split()]
with_ = [float(x) for x in sys.argv[2].split()]
m0, m1 = statistics.median(none), statistics.median(with_)
print(f"no client: median {m0:.0f} results/s {none}")
print(f"{sys.argv[3]} clients: median {m1:.0f} results/s {with_}")
print(f"ratio {m1 / m0:.3f}" if m0 else "ratio n/a")
PY
