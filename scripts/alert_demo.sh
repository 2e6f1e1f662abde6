#!/usr/bin/env bash
# alert_demo.sh: one alert going from raised to cleared over MQTT, end to end. Starts a private
# Mosquitto on a free loopback port, runs the real gateway with the shipped example alert
# (etc/examples/alert_raise_cooldown_clear.sql: `overheat`, temp > 80 per sensor, cleared after
# a minute at or below 80), publishes readings with mosquitto_pub, and prints what
# `mosquitto_sub -v` sees on the alert topic and the retained per-key state topic, plus what a
# subscriber connecting later gets retained. Exits 0 only when both the raise and the clear
# arrived (and the retained state followed them); every process it starts is stopped by PID.
#
#   bash scripts/alert_demo.sh
#   STREAMGATE_BIN=build-x/gateway/streamgate bash scripts/alert_demo.sh   # use that binary
#   STREAMGATE_BUILD_DIR=build-x bash scripts/alert_demo.sh                # build / use that tree
#   ALERT_DEMO_TIMEOUT=60 bash scripts/alert_demo.sh                       # overall bound (s)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
source "$root/scripts/deps.sh"

build=${STREAMGATE_BUILD_DIR:-build}
bin=${STREAMGATE_BIN:-$build/gateway/streamgate}
if [ ! -x "$bin" ] || ! command -v mosquitto_sub >/dev/null || ! command -v mosquitto_pub >/dev/null; then
  streamgate_install_deps
fi
if [ -z "${STREAMGATE_BIN:-}" ]; then
  echo "==> building streamgate in $build" >&2
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTREAMGATE_BUILD_BENCH=OFF >/dev/null
  fi
  cmake --build "$build" --target streamgate >&2
fi

limit=${ALERT_DEMO_TIMEOUT:-60}
deadline=$((SECONDS + limit))
rules_file=$root/etc/examples/alert_raise_cooldown_clear.sql
work=$(mktemp -d "${TMPDIR:-/tmp}/streamgate-alert-demo.XXXXXX")
pids=()
cleanup() {
  streamgate_stop_started
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "alert_demo: FAILED: $*" >&2
  echo "--- gateway log:" >&2
  cat "$work/gateway.log" >&2 2>/dev/null || true
  exit 1
}

# Waits (bounded by the demo's deadline) until `grep -q PATTERN FILE` holds.
wait_for() {
  local file=$1 pattern=$2
  while ! grep -q -- "$pattern" "$file" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

printed=0
# Prints the subscriber's lines that were not printed yet.
show_sub() {
  local total
  total=$(wc -l <"$work/sub.txt")
  if [ "$total" -gt "$printed" ]; then
    sed -n "$((printed + 1)),${total}p" "$work/sub.txt" | sed 's/^/  sub  /'
    printed=$total
  fi
}

streamgate_start_broker "$work" || fail "mosquitto did not listen on 127.0.0.1:${port:-?}"

mkdir "$work/rules.d"
cp "$rules_file" "$work/rules.d/"
"$bin" --broker "tcp://127.0.0.1:$port" --client-id streamgate-alert-demo \
  --rules-dir "$work/rules.d" --state-db "$work/state.db" --log-level info --tick-interval 50ms \
  2>"$work/gateway.log" &
gateway_pid=$!
pids+=("$gateway_pid")
until grep -q "subscribed to" "$work/gateway.log" 2>/dev/null; do
  kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway exited"
  [ "$SECONDS" -lt "$deadline" ] || fail "the gateway did not subscribe"
  sleep 0.1
done

# The live subscriber: the alert topic and every key's state topic. `-W` bounds it too.
mosquitto_sub -h 127.0.0.1 -p "$port" -i alert-demo-sub -q 1 -v -W "$limit" \
  -t 'alerts/overheat' -t 'alerts/overheat/#' >"$work/sub.txt" &
pids+=($!)
wait_for "$work/mosquitto.log" "Sending SUBACK to alert-demo-sub" || fail "mosquitto_sub did not subscribe"

echo "== broker   mosquitto on 127.0.0.1:$port (set_tcp_nodelay true)"
echo "== gateway  $bin --rules-dir <tmp>/rules.d (pid $gateway_pid) with $(basename "$rules_file"):"
grep -v '^--' "$rules_file" | grep -v '^\s*$' | sed 's/^/    /'
echo "== live subscriber: mosquitto_sub -v -t 'alerts/overheat' -t 'alerts/overheat/#'"

publish() {  # sensor temp hh:mm:ss
  local payload
  payload=$(printf '{"sensor":"%s","temp":%s,"ts":"2024-01-15T%sZ"}' "$1" "$2" "$3")
  echo "  pub  machines/$1/temp $payload"
  mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "machines/$1/temp" -m "$payload"
}

# What a dashboard connecting now gets: the retained state of every key.
late_subscriber() {
  echo "== a subscriber connecting now: mosquitto_sub --retained-only -v -t 'alerts/overheat/#'"
  mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -v --retained-only -W 2 -t 'alerts/overheat/#' \
    >"$work/late.txt" 2>/dev/null || true
  sed 's/^/  retained  /' "$work/late.txt"
}

echo "== s1 goes above 80 (raise), stays there (nothing re-sent)"
publish s1 75 10:00:00
publish s1 85 10:01:00
publish s1 90 10:02:00
wait_for "$work/sub.txt" '^alerts/overheat/s1 .*"state":"raised"' || fail "no raise on alerts/overheat/s1"
wait_for "$work/sub.txt" '^alerts/overheat {.*"state":"raised"' || fail "no raise on alerts/overheat"
show_sub
late_subscriber
grep -q '"state":"raised"' "$work/late.txt" || fail "the retained state of s1 is not 'raised'"

echo "== s1 drops to 80 or below; a minute later (event time) the alert clears"
publish s1 70 10:03:00
publish s1 72 10:04:00
wait_for "$work/sub.txt" '^alerts/overheat/s1 .*"state":"cleared"' || fail "no clear on alerts/overheat/s1"
wait_for "$work/sub.txt" '^alerts/overheat {.*"state":"cleared"' || fail "no clear on alerts/overheat"
show_sub
late_subscriber
grep -q '"state":"cleared"' "$work/late.txt" || fail "the retained state of s1 is not 'cleared'"

raise_id=$(grep '^alerts/overheat {.*"state":"raised"' "$work/sub.txt" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
clear_id=$(grep '^alerts/overheat {.*"state":"cleared"' "$work/sub.txt" | sed 's/.*"id":"\([0-9a-f]*\)".*/\1/')
[ -n "$raise_id" ] && [ "$raise_id" = "$clear_id" ] || fail "raise id '$raise_id' and clear id '$clear_id' differ"
raises=$(grep -c '"state":"raised"' "$work/sub.txt" || true)
[ "$raises" -eq 2 ] || fail "expected one raise on each topic, saw $raises raised messages"

kill -TERM "$gateway_pid"
status=0
wait "$gateway_pid" || status=$?
[ "$status" -eq 0 ] || fail "the gateway exited with $status"
echo "== raised -> cleared seen over MQTT (id $raise_id); gateway stopped (exit 0)"
