#!/usr/bin/env bash
# bench/e2e.sh: end-to-end figures of the gateway against the broker's own limit, in one run.
#
#   bench/e2e.sh            # the whole benchmark, ~6 minutes on 2 cores (plus a build if needed;
#                           longer on a loaded machine: 10.5 min at load average 14)
#   bench/e2e.sh --long     # same, with a 10-minute steady-RSS run instead of 60 s
#
# It builds Release in build-bench/ if needed (cmake + the project's dependencies), starts its own
# Mosquitto on a free loopback port with `set_tcp_nodelay true` (never 1883), and measures, with
# the load tool bench/load (streamgate_load):
#   (0) broker pass-through at max rate, QoS 0: publisher -> broker -> subscriber, no gateway;
#   (a) the gateway with a filter that republishes every event (ceiling ~1/2 pass-through: every
#       event crosses the broker twice) and with a filter that passes ~1% (ceiling = pass-through);
#   (b) a per-device TumblingWindow with 5 aggregates over 10,000 devices; RSS with 100,000 keys;
#   (c) 100 and 1,000 rules on one stream at 1 k msg/s: CPU%, RSS, KB per rule;
#   event-to-alert latency at 10 k msg/s (and the broker alone at the same rate);
#   CPU us per event at a fixed 5 k msg/s (filter; window); RSS idle with the shipped rules;
#   RSS over a steady run; stripped binary size; start-up to READY=1 with 100 rules.
# Throughput phases run --reps times, interleaved (pass-through, filter, filter 1%, window, ...),
# and report medians, so load drift on a shared box hits the gateway and its ceiling alike.
# Every run is bounded in count and time. Each figure is printed with its ratio to the same-run
# broker pass-through; the last line of stdout is a JSON summary.
#
# Options: --long  --reps N (3)  --count N (100000 events per throughput run)
#          --client raw|paho (load tool's MQTT client, default raw: see bench/README.md)
#          --phases LIST  (comma list of: passthrough,filter,window,paho,keys,rules,latency,cpu,
#                          steady,idle,startup,size; default all; passthrough is always run)
#          --build-dir DIR (build-bench)  --out FILE (also write the JSON summary there)  --keep
# Env:     STREAMGATE_BIN, STREAMGATE_LOAD_BIN: use these binaries instead of building.
#          STREAMGATE_ARGS: extra options for every gateway run (A/B runs, e.g. "--batch-delay 0").
# Needs:   mosquitto, python3 (summary, NOTIFY_SOCKET listener), strip (binutils).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LONG=0 REPS=3 COUNT=100000 CLIENT=raw PHASES=all BUILD_DIR=$ROOT/build-bench OUT='' KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --long) LONG=1 ;;
    --reps) REPS=$2; shift ;;
    --count) COUNT=$2; shift ;;
    --client) CLIENT=$2; shift ;;
    --phases) PHASES=$2; shift ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --out) OUT=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "e2e.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $REPS =~ ^[1-9][0-9]*$ && $COUNT =~ ^[1-9][0-9]*$ ]] || { echo "e2e.sh: --reps and --count take positive integers" >&2; exit 2; }
[[ $CLIENT == raw || $CLIENT == paho ]] || { echo "e2e.sh: --client raw|paho" >&2; exit 2; }
STEADY_S=60; [[ $LONG == 1 ]] && STEADY_S=600
want() { [[ $PHASES == all || ,$PHASES, == *,$1,* ]]; }

log() { printf '%s\n' "$*" >&2; }
die() { log "e2e.sh: $*"; exit 1; }
command -v python3 >/dev/null || die "python3 is needed (summary, NOTIFY_SOCKET listener)"
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[[ -x $MOSQUITTO ]] || die "mosquitto not found (apt-get install mosquitto)"
T_START=$(date +%s)

# ------------------------------------------------------------------ build
JOBS=$(nproc)
build() {
  if [[ ! -f $BUILD_DIR/CMakeCache.txt ]]; then
    local gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
    cmake -S "$ROOT" -B "$BUILD_DIR" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DSTREAMGATE_BUILD_TESTS=OFF >&2 ||
      die "cmake configure failed"
  fi
  grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$BUILD_DIR/CMakeCache.txt" ||
    log "warning: $BUILD_DIR is not a Release build; figures will be pessimistic"
  "$@"
}
SG=${STREAMGATE_BIN:-}
LOAD=${STREAMGATE_LOAD_BIN:-}
NEED_GW=0
for p in filter window keys rules latency cpu steady idle startup size; do want $p && NEED_GW=1; done
if [[ $NEED_GW == 1 && -z $SG ]]; then
  build cmake --build "$BUILD_DIR" --target streamgate -j "$JOBS" >&2 || die "building streamgate failed"
  SG=$(find "$BUILD_DIR" -name streamgate -type f -perm -u+x | head -1)
fi
if [[ -z $LOAD ]]; then
  if build cmake --build "$BUILD_DIR" --target help 2>/dev/null | grep -q 'streamgate_load'; then
    build cmake --build "$BUILD_DIR" --target streamgate_load -j "$JOBS" >&2 || die "building streamgate_load failed"
    LOAD=$(find "$BUILD_DIR" -name streamgate_load -type f -perm -u+x | head -1)
  else
    # bench/load not wired into the top-level build (or Google Benchmark missing): build it alone.
    SA=$BUILD_DIR/load-standalone
    mkdir -p "$SA"
    cat >"$SA/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(streamgate_load_standalone LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
add_subdirectory("$ROOT/bench/load" load)
EOF
    { [[ -f $SA/build/CMakeCache.txt ]] || cmake -S "$SA" -B "$SA/build" -DCMAKE_BUILD_TYPE=Release >&2; } &&
      cmake --build "$SA/build" -j "$JOBS" >&2 || die "building streamgate_load failed"
    LOAD=$SA/build/load/streamgate_load
  fi
fi
[[ $NEED_GW == 0 || -x $SG ]] || die "no streamgate binary (set STREAMGATE_BIN)"
[[ -x $LOAD ]] || die "no streamgate_load binary (set STREAMGATE_LOAD_BIN)"

# ------------------------------------------------------------------ processes
WORK=$(mktemp -d /tmp/streamgate-e2e.XXXXXX)
RES=$WORK/results.jsonl
: >"$RES"
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  sleep 0.2
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  if [[ $KEEP == 1 ]]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # user+system, all threads
status_kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
now_ns() { date +%s%N; }
wait_for() {  # wait_for SECONDS CMD...: poll CMD every 50 ms
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )); shift
  until "$@"; do
    (( $(date +%s%N) > deadline )) && return 1
    sleep 0.05
  done
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
PORT=$(free_port)
BROKER=tcp://127.0.0.1:$PORT
# Nagle off on the broker's sockets: with it, low-rate outputs wait 20+ ms (see bench/README.md).
printf 'listener %s 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n' "$PORT" >"$WORK/mosquitto.conf"
"$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
MOSQ_PID=$!
PIDS+=("$MOSQ_PID")
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
wait_for 10 port_open || die "mosquitto did not start: $(cat "$WORK/mosquitto.log")"
log "broker: mosquitto pid $MOSQ_PID on $BROKER (set_tcp_nodelay true); work dir $WORK"
log "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ------------------------------------------------------------------ rule files
STREAM="CREATE STREAM devices WITH (TOPIC = 'devices/+/telemetry', FORMAT = 'json', TIMESTAMP = 'timestamp', MAXOUTOFORDERNESS = '1s');"
mkrules() {  # mkrules NAME SQL...
  mkdir -p "$WORK/rules/$1"
  local d=$WORK/rules/$1; shift
  printf '%s\n' "$STREAM" >"$d/00-stream.sql"
  printf '%s\n' "$@" >"$d/10-bench.sql"
}
R_FILTER_ALL="CREATE RULE pass_all WITH (TOPIC = 'bench/out/all', QOS = 0) AS
SELECT device_id, battery, sent_ns FROM devices WHERE battery < 1000;"
R_FILTER_1PCT="CREATE RULE low_battery WITH (TOPIC = 'bench/out/low', QOS = 0) AS
SELECT device_id, battery, sent_ns FROM devices WHERE battery < 1;"
R_ALERT="CREATE RULE battery_alert WITH (TOPIC = 'bench/out/alert', QOS = 0) AS
SELECT device_id, battery, signal, sent_ns FROM devices WHERE battery < 5;"
window_rule() {  # window_rule SIZE: per-device tumbling window, 5 aggregates
  echo "CREATE RULE device_window WITH (TOPIC = 'bench/out/window', QOS = 0) AS
SELECT device_id, count(*) AS reports, avg(battery) AS avg_battery, min(signal) AS min_signal,
       max(temperature) AS max_temperature, max(sent_ns) AS sent_ns
FROM devices GROUP BY device_id, TumblingWindow('$1');"
}
mkrules filter_all "$R_FILTER_ALL"
mkrules filter_1pct "$R_FILTER_1PCT"
mkrules alert "$R_ALERT"
mkrules window "$(window_rule 10s)"
mkrules keys "$(window_rule 1h)"
mkrules steady "$R_FILTER_1PCT" "$(window_rule 10s)"
mkmany() {  # mkmany N: N rules on the one stream, 10 files; 4 in 5 are filters, 1 in 5 windows
  local n=$1 d=$WORK/rules/many$1 k f
  mkdir -p "$d"
  printf '%s\n' "$STREAM" >"$d/00-stream.sql"
  for ((k = 0; k < n; k++)); do
    f=$d/$(printf '%02d' $((10 + k % 10)))-rules.sql
    case $((k % 5)) in
      0|2) printf "CREATE RULE r%d WITH (TOPIC = 'bench/out/many/%d', QOS = 0) AS\nSELECT device_id, temperature, sent_ns FROM devices\nWHERE device_id = 'device_%05d' AND temperature > %d.%d;\n" \
             "$k" "$k" $((k % 1000)) $((40 + k % 5)) $((k % 10)) >>"$f" ;;
      1|3) printf "CREATE RULE r%d WITH (TOPIC = 'bench/out/many/%d', QOS = 0) AS\nSELECT device_id, battery, signal, sent_ns FROM devices\nWHERE battery < 1 AND signal > -%d AND status = 'online' AND temperature > 44.%d;\n" \
             "$k" "$k" $((41 + k % 60)) $((k % 10)) >>"$f" ;;
      4)   printf "CREATE RULE r%d WITH (TOPIC = 'bench/out/many/%d', QOS = 0) AS\nSELECT status, count(*) AS reports, avg(battery) AS avg_battery, min(signal) AS min_signal,\n       max(temperature) AS max_temperature, max(sent_ns) AS sent_ns\nFROM devices WHERE signal < -%d GROUP BY status, TumblingWindow('10s');\n" \
             "$k" "$k" $((40 + k % 60)) >>"$f" ;;
    esac
  done
}
mkmany 100
mkmany 1000
for d in "$WORK"/rules/*; do
  [[ $NEED_GW == 1 ]] || break
  "$SG" check-rules "$d" >"$WORK/check.log" 2>&1 || die "rules in $d rejected by check-rules: $(head -5 "$WORK/check.log")"
done

# ------------------------------------------------------------------ gateway and load runs
GW_PID='' GW_LOG='' GW_N=0
start_gateway() {  # start_gateway TAG RULES_DIR [extra streamgate options]
  local tag=$1 rules=$2; shift 2
  GW_N=$((GW_N + 1))
  GW_LOG=$WORK/gw-$GW_N-$tag.log
  # shellcheck disable=SC2086  # STREAMGATE_ARGS is a list of options
  "$SG" --broker "$BROKER" --rules-dir "$rules" --state-db "$WORK/state-$GW_N.db" --log-level info \
    --qos 0 --client-id "sgbench-$GW_N" ${STREAMGATE_ARGS:-} "$@" >"$GW_LOG" 2>&1 &
  GW_PID=$!
  PIDS+=("$GW_PID")
  gw_subscribed() { grep -q 'subscribed to' "$GW_LOG" || ! kill -0 "$GW_PID" 2>/dev/null; }
  wait_for 15 gw_subscribed && kill -0 "$GW_PID" 2>/dev/null ||
    die "gateway ($tag) did not subscribe: $(tail -5 "$GW_LOG")"
}
GW_STOP_JSON='{}'
stop_gateway() {  # SIGTERM, bounded wait; GW_STOP_JSON = the counters of its "stopped:" line
  kill -TERM "$GW_PID" 2>/dev/null
  local i
  for ((i = 0; i < 200 && $(kill -0 "$GW_PID" 2>/dev/null && echo 1 || echo 0); i++)); do sleep 0.1; done
  kill -KILL "$GW_PID" 2>/dev/null && log "warning: gateway did not stop in 20 s; killed"
  wait "$GW_PID" 2>/dev/null
  GW_STOP_JSON=$(grep -o 'stopped: .*' "$GW_LOG" | tail -1 | sed 's/^stopped: //' |
    awk '{ printf "{"; for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[2] ~ /^[0-9]+$/) printf "%s\"%s\":%s", (n++ ? "," : ""), kv[1], kv[2] } printf "}" }')
  [[ -n $GW_STOP_JSON ]] || GW_STOP_JSON='{}'
}
thread_ticks() {  # {"thread name": user+system ticks, ...} summed by name over the live threads
  local f
  for f in /proc/"$1"/task/*/stat; do cat "$f" 2>/dev/null; echo; done |
    sed -n 's/^[0-9]* (\(.*\)) [A-Za-z] \(.*\)$/\1|\2/p' |
    awk -F'|' '{ split($2, a, " "); t[$1] += a[11] + a[12] } END { printf "{"; for (k in t) printf "%s\"%s\":%d", (n++ ? "," : ""), k, t[k]; printf "}" }'
}
gw_sample() {  # JSON of the gateway's CPU ticks (all, and by thread name) and memory now
  printf '{"ticks":%s,"rss_kb":%s,"hwm_kb":%s,"threads":%s}' "$(cpu_ticks "$GW_PID")" "$(status_kb "$GW_PID" VmRSS)" \
    "$(status_kb "$GW_PID" VmHWM)" "$(thread_ticks "$GW_PID")"
}
mosq_ticks() { cpu_ticks "$MOSQ_PID"; }

PUB_MAX=150  # bound of one publisher run in seconds (the receiver gets 30 s more)
# run_load NAME "RECEIVE OPTIONS" "PUBLISH OPTIONS": receiver subscribed first, then the publisher;
# leaves $WORK/NAME.{pub,recv}.json (the tools' JSON lines) and sets T0/T1 (ns around the run)
# and MOSQ_DT (broker CPU ticks during the run).
run_load() {
  local name=$1 ropts=$2 popts=$3 rpid m0
  rm -f "$WORK/$name.ready"
  # shellcheck disable=SC2086
  "$LOAD" receive --client "$CLIENT" --broker "$BROKER" --ready-file "$WORK/$name.ready" --max-seconds $((PUB_MAX + 30)) $ropts \
    >"$WORK/$name.recv.out" 2>"$WORK/$name.recv.err" &
  rpid=$!
  PIDS+=("$rpid")
  wait_for 15 test -f "$WORK/$name.ready" || die "receiver ($name) not ready: $(cat "$WORK/$name.recv.err")"
  m0=$(mosq_ticks)
  T0=$(now_ns)
  # shellcheck disable=SC2086
  "$LOAD" publish --client "$CLIENT" --broker "$BROKER" --max-seconds "$PUB_MAX" $popts \
    >"$WORK/$name.pub.out" 2>"$WORK/$name.pub.err" || log "warning: publisher ($name): $(tail -1 "$WORK/$name.pub.err")"
  wait "$rpid"
  T1=$(now_ns)
  MOSQ_DT=$(( $(mosq_ticks) - m0 ))
  tail -1 "$WORK/$name.pub.out" >"$WORK/$name.pub.json"
  tail -1 "$WORK/$name.recv.out" >"$WORK/$name.recv.json"
  [[ -s $WORK/$name.pub.json ]] || echo '{}' >"$WORK/$name.pub.json"
  [[ -s $WORK/$name.recv.json ]] || echo '{}' >"$WORK/$name.recv.json"
}
# record PHASE REP NAME GW_BEFORE GW_AFTER [EXTRA_JSON]: one line of results.jsonl
record() {
  local extra=${6:-}
  [[ -n $extra ]] || extra='{}'
  printf '{"phase":"%s","rep":%s,"t0_ns":%s,"t1_ns":%s,"mosq_ticks":%s,"pub":%s,"recv":%s,"gw_before":%s,"gw_after":%s,"gw_stop":%s,"extra":%s}\n' \
    "$1" "$2" "$T0" "$T1" "$MOSQ_DT" "$(cat "$WORK/$3.pub.json")" "$(cat "$WORK/$3.recv.json")" \
    "$4" "$5" "$GW_STOP_JSON" "$extra" >>"$RES"
  log "  $(tail -1 "$WORK/$3.recv.err")"
}
# gw_run PHASE REP RULES "RECEIVE OPTIONS" "PUBLISH OPTIONS": one measured gateway run
gw_run() {
  local phase=$1 rep=$2 rules=$3 ropts=$4 popts=$5 before after
  start_gateway "$phase" "$WORK/rules/$rules"
  before=$(gw_sample)
  run_load "$phase-$rep" "$ropts" "$popts"
  after=$(gw_sample)
  stop_gateway
  record "$phase" "$rep" "$phase-$rep" "$before" "$after"
}
settle() {  # wait until the gateway's CPU time stops moving (everything consumed), max 30 s
  local last=-1 cur i
  for ((i = 0; i < 60; i++)); do
    cur=$(cpu_ticks "$GW_PID")
    [[ $cur == "$last" ]] && return 0
    last=$cur
    sleep 0.5
  done
}

N=$COUNT
NO_GW='{}'
POPT_MAX="--count $N --devices 1000 --rate 0"
ROPT_TPUT="--idle 2 --read-pause-us 500"
# ------------------------------------------------------------------ (0), (a), (b): throughput
for ((rep = 1; rep <= REPS; rep++)); do
  log "== rep $rep/$REPS: (0) broker pass-through, max rate, QoS 0, $N events"
  GW_STOP_JSON='{}'
  run_load "passthrough-$rep" "--topic devices/# --expect $N $ROPT_TPUT" "$POPT_MAX"
  record passthrough "$rep" "passthrough-$rep" "$NO_GW" "$NO_GW"
  if want filter; then
    log "== rep $rep/$REPS: (a) filter rule republishing every event"
    gw_run filter_all "$rep" filter_all "--topic bench/out/all --expect $((N + 1)) $ROPT_TPUT" "$POPT_MAX --final-advance 1"
    log "== rep $rep/$REPS: (a) filter rule passing ~1%"
    gw_run filter_1pct "$rep" filter_1pct "--topic bench/out/low $ROPT_TPUT" "$POPT_MAX --final-advance 1"
  fi
  if want window; then
    # Simulated event time, 100 us apart: windows of 10 s hold 100,000 events (10 per device);
    # the sentinel 60 s later closes the last ones. Expected outputs: devices x windows.
    WINS=$(( (N * 100 + 9999999) / 10000000 ))
    log "== rep $rep/$REPS: (b) TumblingWindow(10s) per device, 5 aggregates, 10,000 devices"
    gw_run window "$rep" window "--topic bench/out/window --expect $((10000 * WINS)) $ROPT_TPUT" \
      "--count $N --devices 10000 --rate 0 --event-time sim --sim-step-us 100 --final-advance 60"
  fi
done

if want paho && [[ $CLIENT == raw ]]; then
  log "== (0) broker pass-through again with Paho clients on both ends (what the load tool would cost with Paho)"
  GW_STOP_JSON='{}'
  SAVED_CLIENT=$CLIENT CLIENT=paho
  run_load passthrough_paho "--topic devices/# --expect $N --idle 2" "$POPT_MAX"
  CLIENT=$SAVED_CLIENT
  record passthrough_paho 1 passthrough_paho "$NO_GW" "$NO_GW"
fi

if want keys; then
  log "== RSS with 100,000 open window keys (TumblingWindow(1h), 1 event for each of 100,000 devices)"
  start_gateway keys "$WORK/rules/keys"
  before=$(gw_sample)
  run_load keys "--topic bench/out/window --idle 2 --first-timeout 1" \
    "--count 100000 --devices 100000 --rate 0 --event-time sim --sim-step-us 100"
  settle
  after=$(gw_sample)
  stop_gateway
  record keys 1 keys "$before" "$after"
fi

if want rules; then
  for n in 100 1000; do
    log "== (c) $n rules on one stream at 1 k msg/s for 10 s"
    start_gateway "many$n" "$WORK/rules/many$n"
    sleep 1
    before=$(gw_sample)
    run_load "many$n" "--topic bench/out/many/# --idle 2" "--count 10000 --devices 1000 --rate 1000"
    after=$(gw_sample)
    stop_gateway
    record "rules_$n" 1 "many$n" "$before" "$after" "{\"rules\":$n}"
  done
fi

if want latency; then
  log "== latency at 10 k msg/s: broker alone (1,000 devices, 10 s)"
  GW_STOP_JSON='{}'
  run_load lat_broker "--topic devices/# --expect 100000 --idle 3" "--count 100000 --devices 1000 --rate 10000"
  record latency_broker 1 lat_broker "$NO_GW" "$NO_GW"
  log "== event-to-alert latency at 10 k msg/s (alert: battery < 5, ~5% of events)"
  gw_run latency_alert 1 alert "--topic bench/out/alert --idle 3" "--count 100000 --devices 1000 --rate 10000 --final-advance 1"
fi

if want cpu; then
  log "== CPU per event at 5 k msg/s, 20 s: filter republishing every event"
  gw_run cpu_filter 1 filter_all "--topic bench/out/all --expect 100001 --idle 3" "--count 100000 --devices 1000 --rate 5000 --final-advance 1"
  log "== CPU per event at 5 k msg/s, 20 s: TumblingWindow(10s) per device, 10,000 devices"
  gw_run cpu_window 1 window "--topic bench/out/window --idle 12" "--count 100000 --devices 10000 --rate 5000 --final-advance 60"
fi

if want steady; then
  log "== steady run: 5 k msg/s for $STEADY_S s (filter 1% + 10 s window over 10,000 devices), RSS every 5 s"
  start_gateway steady "$WORK/rules/steady"
  before=$(gw_sample)
  ( while kill -0 "$GW_PID" 2>/dev/null; do printf '%s %s\n' "$(date +%s%N)" "$(status_kb "$GW_PID" VmRSS)"; sleep 5; done ) >"$WORK/steady.rss" &
  SAMPLER=$!
  PIDS+=("$SAMPLER")
  PUB_MAX=$((STEADY_S + 60))
  run_load steady "--topic bench/out/# --idle 5" "--count $((5000 * STEADY_S)) --devices 10000 --rate 5000"
  PUB_MAX=150
  after=$(gw_sample)
  kill "$SAMPLER" 2>/dev/null; wait "$SAMPLER" 2>/dev/null
  stop_gateway
  RSS_SERIES=$(awk -v t0="$T0" '$2 > 0 { printf "%s[%.1f,%s]", (n++ ? "," : ""), ($1 - t0) / 1e9, $2 }' "$WORK/steady.rss")
  record steady 1 steady "$before" "$after" "{\"seconds\":$STEADY_S,\"rss_series\":[$RSS_SERIES]}"
fi

if want idle; then
  log "== RSS idle with the shipped rules ($ROOT/etc/rules.d)"
  start_gateway idle "$ROOT/etc/rules.d"
  sleep 3
  T0=$(now_ns) T1=$T0 MOSQ_DT=0
  after=$(gw_sample)
  stop_gateway
  echo '{}' >"$WORK/idle.pub.json"; echo '{}' >"$WORK/idle.recv.json"; echo 'idle' >"$WORK/idle.recv.err"
  record idle 1 idle "$NO_GW" "$after"
fi

if want startup; then
  log "== start-up to READY=1 with 100 rules (fake NOTIFY_SOCKET), 5 runs"
  STARTUP_JSON=$(python3 - "$SG" "$BROKER" "$WORK" <<'PY'
import json, os, socket, statistics, subprocess, sys, time
sg, broker, work = sys.argv[1:4]
times, cpu = [], []
for i in range(5):
    path = os.path.join(work, f"notify-{i}.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    t0 = time.monotonic_ns()
    p = subprocess.Popen([sg, "--broker", broker, "--rules-dir", os.path.join(work, "rules", "many100"),
                          "--state-db", os.path.join(work, f"startup-{i}.db"), "--log-level", "warn",
                          "--qos", "0", "--client-id", f"sgbench-start-{i}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ready = None
    try:
        while ready is None:
            msg = s.recv(4096).decode(errors="replace")
            if "READY=1" in msg.split("\n"):
                ready = (time.monotonic_ns() - t0) / 1e6
                # CPU used until READY: separates the gateway's own start-up work from waiting
                # for a CPU on a loaded machine.
                with open(f"/proc/{p.pid}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                cpu.append((int(st[11]) + int(st[12])) * 1000 / os.sysconf("SC_CLK_TCK"))
    except socket.timeout:
        pass
    p.terminate()
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill(); p.wait()
    s.close(); os.unlink(path)
    if ready is not None:
        times.append(ready)
print(json.dumps({"runs_ms": [round(t, 2) for t in times],
                  "median_ms": round(statistics.median(times), 2) if times else None,
                  "cpu_ms": cpu, "cpu_median_ms": statistics.median(cpu) if cpu else None}))
PY
)
  printf '{"phase":"startup","rep":1,"extra":%s}\n' "$STARTUP_JSON" >>"$RES"
  log "  $STARTUP_JSON"
fi

if want size; then
  strip --strip-all -o "$WORK/streamgate.stripped" "$SG"
  printf '{"phase":"size","rep":1,"extra":{"stripped_bytes":%s,"unstripped_bytes":%s}}\n' \
    "$(stat -c %s "$WORK/streamgate.stripped")" "$(stat -c %s "$SG")" >>"$RES"
fi

# ------------------------------------------------------------------ summary
MACHINE=$(printf '{"nproc":%s,"cpu":"%s","loadavg_start":"%s","loadavg_end":"%s","mosquitto":"%s","client":"%s","reps":%s,"count":%s,"seconds":%s}' \
  "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //; s/"//g')" "$LOADAVG_START" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  "$("$MOSQUITTO" -h 2>/dev/null | head -1 | sed 's/"//g')" "$CLIENT" "$REPS" "$COUNT" $(( $(date +%s) - T_START )))
python3 - "$RES" "$MACHINE" "$CLK_TCK" "${OUT:-}" <<'PY'
# Summary of results.jsonl: medians over reps, ratios to the same-run pass-through, targets.
import json, statistics, sys
res_path, machine, clk, out_path = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
runs = [json.loads(l) for l in open(res_path) if l.strip()]
def by(phase): return [r for r in runs if r["phase"] == phase]
def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None
def g(d, *ks, default=None):
    for k in ks:
        if not isinstance(d, dict) or k not in d: return default
        d = d[k]
    return d
def span_s(r):  # first send -> last arrival at the receiver
    a, b = g(r, "pub", "first_send_ns"), g(r, "recv", "last_recv_ns")
    return (b - a) / 1e9 if a and b and b > a else None
def cpu_s(r):
    a, b = g(r, "gw_before", "ticks"), g(r, "gw_after", "ticks")
    return (b - a) / clk if a is not None and b is not None else None
def processed(r):
    return g(r, "gw_stop", "processed")
def per(a, b): return a / b if a is not None and b else None
def rnd(x, n=1): return None if x is None else round(x, n)

S = {"machine": machine}
lines = []
def say(name, value, unit="", note="", target=None, ok=None):
    v = "n/a" if value is None else (f"{value:,.0f}" if isinstance(value, (int, float)) and abs(value) >= 100 else f"{value:.3g}" if isinstance(value, float) else str(value))
    t = "" if target is None else f"  [target {target}: {'PASS' if ok else 'MISS' if ok is not None else 'n/a'}]"
    lines.append(f"{name:<52} {v:>12} {unit:<8} {note}{t}")

# (0) pass-through
pt = []
for r in by("passthrough"):
    sp = span_s(r)
    pt.append({"rate": per(g(r, "recv", "records"), sp), "delivered": per(g(r, "recv", "records"), g(r, "pub", "sent")),
               "broker_us_per_msg": per(r["mosq_ticks"] / clk * 1e6, g(r, "recv", "records"))})
PT = med([p["rate"] for p in pt])
S["passthrough"] = {"rate_median": rnd(PT), "rates": [rnd(p["rate"]) for p in pt],
                    "delivered": [rnd(p["delivered"], 4) for p in pt],
                    "broker_cpu_us_per_msg": rnd(med([p["broker_us_per_msg"] for p in pt]), 2)}
say("(0) broker pass-through, max rate QoS 0", PT, "msg/s", f"delivered {S['passthrough']['delivered']}, broker {S['passthrough']['broker_cpu_us_per_msg']} us/msg")
for r in by("passthrough_paho"):
    sp = span_s(r)
    S["passthrough_paho"] = {"rate": rnd(per(g(r, "recv", "records"), sp)),
                             "delivered": rnd(per(g(r, "recv", "records"), g(r, "pub", "sent")), 4)}
    say("(0) the same with Paho clients on both ends", S["passthrough_paho"]["rate"], "msg/s",
        f"delivered {S['passthrough_paho']['delivered']} (the load tool's own cost; see bench/README.md)")

def gw_tput(phase):
    out = []
    for r in by(phase):
        sp, p = span_s(r), processed(r)
        sent = (g(r, "pub", "sent") or 0) + (1 if g(r, "pub", "final_advance_sent") else 0)
        out.append({"ingest": per(p, sp), "output_rate": per(g(r, "recv", "records"), sp),
                    "processed": p, "sent": sent, "outputs": g(r, "recv", "records"),
                    "received_by_gateway": g(r, "gw_stop", "received"),
                    "dropped_ring_full": g(r, "gw_stop", "dropped_ring_full"),
                    "sentinel_seen": (g(r, "recv", "max_sent_ns") or 0) > (g(r, "pub", "last_send_ns") or 0),
                    "cpu_us_per_event": per((cpu_s(r) or 0) * 1e6, p),
                    "hwm_kb": g(r, "gw_after", "hwm_kb")})
    return out
def tput_block(key, phase, ceiling, ceiling_name, label):
    rs = gw_tput(phase)
    if not rs: return None
    ing = med([x["ingest"] for x in rs])
    ratio = per(ing, ceiling)
    S[key] = {"ingest_median": rnd(ing), "ingest": [rnd(x["ingest"]) for x in rs],
              "output_rate_median": rnd(med([x["output_rate"] for x in rs])),
              "ratio_to_ceiling": rnd(ratio, 3), "ceiling": ceiling_name,
              "ratio_to_passthrough": rnd(per(ing, PT), 3),
              "cpu_us_per_event_max_rate": rnd(med([x["cpu_us_per_event"] for x in rs]), 2),
              "runs": rs}
    loss = [f"{x['processed']}/{x['sent']}" for x in rs]
    say(label, ing, "msg/s", f"= {ratio:.0%} of {ceiling_name}; processed/sent {loss}" if ratio else "",
        ">= 90%", None if ratio is None else ratio >= 0.9)
    return ing
tput_block("filter_all", "filter_all", PT / 2 if PT else None, "pass-through/2", "(a) gateway ingest, filter republishing all")
if "filter_all" in S:
    say("    outputs received (msg/s)", S["filter_all"]["output_rate_median"], "msg/s", f"ratio to pass-through {S['filter_all']['ratio_to_passthrough']}")
tput_block("filter_1pct", "filter_1pct", PT, "pass-through", "(a) gateway ingest, filter passing ~1%")
tput_block("window", "window", PT, "pass-through", "(b) gateway ingest, 10 s window x 10,000 devices")

for r in by("keys"):
    S["keys_100k"] = {"processed": processed(r), "rss_kb": g(r, "gw_after", "rss_kb"), "hwm_kb": g(r, "gw_after", "hwm_kb")}
    hwm = S["keys_100k"]["hwm_kb"]
    say("(b) peak RSS with 100,000 open window keys", rnd(hwm / 1024, 1) if hwm else None, "MB",
        f"(processed {processed(r)} of {g(r, 'pub', 'sent')})", "< 64 MB", None if not hwm else hwm < 64 * 1024)

rules = {}
for n in (100, 1000):
    for r in by(f"rules_{n}"):
        el = per((g(r, "pub", "last_send_ns") or 0) - (g(r, "pub", "first_send_ns") or 0), 1e9)
        pct = per((cpu_s(r) or 0) * 100, el)
        rules[n] = {"cpu_pct": rnd(pct), "rss_kb": g(r, "gw_after", "rss_kb"), "hwm_kb": g(r, "gw_after", "hwm_kb"),
                    "processed": processed(r), "sent": g(r, "pub", "sent"), "outputs": g(r, "recv", "records"),
                    "received_by_gateway": g(r, "gw_stop", "received"), "dropped_ring_full": g(r, "gw_stop", "dropped_ring_full")}
        say(f"(c) {n} rules at 1 k msg/s: CPU", pct, "%", f"RSS {rules[n]['rss_kb']} kB, processed {processed(r)}/{g(r, 'pub', 'sent')} (ring drops {rules[n]['dropped_ring_full']})",
            "< 100% (1,000 rules)" if n == 1000 else None, (pct < 100) if n == 1000 and pct is not None else None)
if 100 in rules and 1000 in rules and rules[100]["rss_kb"] and rules[1000]["rss_kb"]:
    rules["kb_per_rule"] = rnd((rules[1000]["rss_kb"] - rules[100]["rss_kb"]) / 900, 2)
    say("(c) RSS per rule (1,000 vs 100 rules)", rules["kb_per_rule"], "kB")
if rules: S["rules"] = rules

for r in by("latency_broker"):
    l = g(r, "recv", "latency_us") or {}
    S["latency_broker_10k"] = {k: l.get(k) for k in ("n", "p50", "p90", "p99", "max")}
    say("latency at 10 k msg/s, broker alone: p50", l.get("p50"), "us", f"p99 {l.get('p99')} us, n {l.get('n')}")
for r in by("latency_alert"):
    l = g(r, "recv", "latency_us") or {}
    S["latency_alert_10k"] = {k: l.get(k) for k in ("n", "p50", "p90", "p99", "max")}
    S["latency_alert_10k"]["processed"] = processed(r)
    say("event-to-alert latency at 10 k msg/s: p50", l.get("p50"), "us")
    p99 = l.get("p99")
    say("event-to-alert latency at 10 k msg/s: p99", p99, "us", f"(broker alone p99 {g(S, 'latency_broker_10k', 'p99')} us; n {l.get('n')})",
        "< 2 ms", None if p99 is None else p99 < 2000)

for ph, label in (("cpu_filter", "filter republishing all"), ("cpu_window", "10 s window x 10,000 devices")):
    for r in by(ph):
        p = processed(r)
        us = per((cpu_s(r) or 0) * 1e6, p)
        l = g(r, "recv", "latency_us") or {}
        S[ph] = {"cpu_us_per_event": rnd(us, 2), "processed": p, "sent": g(r, "pub", "sent"),
                 "broker_us_per_event": rnd(per(r["mosq_ticks"] / clk * 1e6, g(r, "pub", "sent")), 2),
                 "latency_p50_us": l.get("p50"), "latency_p99_us": l.get("p99"), "hwm_kb": g(r, "gw_after", "hwm_kb")}
        tb, ta = g(r, "gw_before", "threads") or {}, g(r, "gw_after", "threads") or {}
        S[ph]["thread_us_per_event"] = {k: rnd(per((ta[k] - tb.get(k, 0)) / clk * 1e6, p), 2) for k in ta}
        note = f"(by thread {S[ph]['thread_us_per_event']}; broker {S[ph]['broker_us_per_event']} us/event"
        if ph == "cpu_filter": note += f"; output latency p50 {l.get('p50')} us p99 {l.get('p99')} us"
        say(f"CPU per event at 5 k msg/s, {label}", us, "us", note + ")", "< 5 us", None if us is None else us < 5)

for r in by("steady"):
    series = g(r, "extra", "rss_series") or []
    secs = g(r, "extra", "seconds")
    # Steady state: skip the first quarter of the run, at least 30 s. RSS fills in steps while
    # the first windows close and their result bursts grow allocator arenas (measured: up to
    # ~150 s at 5 k msg/s), then stays flat.
    warm = [kb for t, kb in series if t >= max(30, secs / 4)]
    growth = (warm[-1] - warm[0]) if len(warm) >= 2 else None
    S["steady"] = {"seconds": secs, "rss_first_kb": warm[0] if warm else None, "rss_last_kb": warm[-1] if warm else None,
                   "rss_max_kb": max(kb for _, kb in series) if series else None, "growth_kb": growth,
                   "hwm_kb": g(r, "gw_after", "hwm_kb"), "processed": processed(r), "sent": g(r, "pub", "sent"),
                   "cpu_us_per_event": rnd(per((cpu_s(r) or 0) * 1e6, processed(r)), 2), "series": series}
    say(f"steady {secs} s at 5 k msg/s: RSS growth after warm-up", growth, "kB",
        f"(RSS {S['steady']['rss_first_kb']} -> {S['steady']['rss_last_kb']} kB, max {S['steady']['rss_max_kb']} kB)",
        "no growth (< 1 MB)", None if growth is None else growth < 1024)

hwms = [g(r, "gw_after", "hwm_kb") for r in runs if g(r, "gw_after", "hwm_kb")]
hwms_no_keys = [g(r, "gw_after", "hwm_kb") for r in runs if g(r, "gw_after", "hwm_kb") and r["phase"] != "keys"]
S["peak_rss_kb"] = max(hwms) if hwms else None
S["peak_rss_kb_without_100k_keys"] = max(hwms_no_keys) if hwms_no_keys else None
say("peak RSS (VmHWM) over all runs except 100k keys", rnd(S["peak_rss_kb_without_100k_keys"] / 1024, 1) if hwms_no_keys else None, "MB")

for r in by("idle"):
    kb = g(r, "gw_after", "rss_kb")
    S["idle_shipped_rules"] = {"rss_kb": kb, "hwm_kb": g(r, "gw_after", "hwm_kb")}
    say("RSS idle with the shipped rules", rnd(kb / 1024, 2) if kb else None, "MB", "", "< 15 MB", None if not kb else kb < 15 * 1024)
for r in by("size"):
    b = g(r, "extra", "stripped_bytes")
    S["binary"] = r["extra"]
    say("stripped binary size", rnd(b / 1048576, 2) if b else None, "MB", f"(unstripped {g(r, 'extra', 'unstripped_bytes')} B)", "< 5 MB", None if not b else b < 5 * 1048576)
for r in by("startup"):
    m = g(r, "extra", "median_ms")
    S["startup"] = r["extra"]
    say("start-up to READY=1 with 100 rules (median of 5)", m, "ms",
        f"runs {g(r, 'extra', 'runs_ms')}; CPU used until READY {g(r, 'extra', 'cpu_median_ms')} ms", "< 100 ms", None if m is None else m < 100)

print("")
print(f"streamgate end-to-end ({machine['nproc']} CPUs, {machine['cpu']}; {machine['mosquitto']}; load tool client {machine['client']}; "
      f"{machine['reps']} reps x {machine['count']} events; {machine['seconds']} s; load average {machine['loadavg_start']} at start, {machine['loadavg_end']} at end)")
for l in lines: print(l)
js = json.dumps(S, separators=(",", ":"))
if out_path:
    with open(out_path, "w") as f: f.write(js + "\n")
print(js)
PY
