#!/usr/bin/env bash
# demo.sh: the one-command demo. Installs what is missing (apt), builds streamgate (Release,
# ./build), starts a private Mosquitto on a free loopback port, runs the gateway with the
# shipped rules (etc/rules.d), prints every result and alert on stdout (mosquitto_sub -v) while
# a simulated device and shop stream is published for ~20 s, then stops everything cleanly.
#
#   sudo bash scripts/demo.sh            # root or sudo only needed when packages are missing
#   DEMO_SECONDS=60 bash scripts/demo.sh # longer stream
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
source "$root/scripts/deps.sh"
streamgate_install_deps

# STREAMGATE_BUILD_DIR reuses an existing build tree (its build type is left as it is).
build=${STREAMGATE_BUILD_DIR:-build}
echo "==> building streamgate in $build" >&2
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTREAMGATE_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$build" --target streamgate >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/streamgate-demo.XXXXXX")
pids=()
cleanup() {
  streamgate_stop_started
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

streamgate_start_broker "$work" || { echo "mosquitto did not listen" >&2; cat "$work/mosquitto.log" >&2; exit 1; }
echo "==> mosquitto listening on 127.0.0.1:$port" >&2

# The shipped rules plus a per-device low-battery alert (etc/examples/low_battery_alert.sql), so
# the dashboard shows alerts being raised and cleared.
mkdir -p "$work/rules"
cp "$root"/etc/rules.d/*.sql "$work/rules/"
cp "$root/etc/examples/low_battery_alert.sql" "$work/rules/70-low-battery-alert.sql"
"$build/gateway/streamgate" --broker "tcp://127.0.0.1:$port" --client-id streamgate-demo \
  --rules-dir "$work/rules" --state-db "$work/state.db" --log-level info \
  --dashboard-listen "127.0.0.1:${DEMO_DASHBOARD_PORT:-8080}" \
  2>"$work/gateway.log" &
gateway_pid=$!
pids+=("$gateway_pid")
for _ in $(seq 1 100); do
  grep -q "subscribed to" "$work/gateway.log" 2>/dev/null && break
  kill -0 "$gateway_pid" 2>/dev/null || { cat "$work/gateway.log" >&2; exit 1; }
  sleep 0.1
done
grep -E "loaded|rule '|subscribed" "$work/gateway.log" | sed 's/^/    gateway: /' >&2 || true
for _ in $(seq 1 20); do grep -q "dashboard" "$work/gateway.log" && break; sleep 0.1; done
if grep -q "dashboard on " "$work/gateway.log"; then
  echo "==> dashboard: http://127.0.0.1:${DEMO_DASHBOARD_PORT:-8080}/ (open it now; DEMO_SECONDS=120 for a longer look)" >&2
else
  grep "dashboard" "$work/gateway.log" | sed 's/^/    gateway: /' >&2 || true
fi

echo "==> results and alerts (mosquitto_sub -v 'alerts/#' 'analytics/#'):" >&2
mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -v -t 'alerts/#' -t 'analytics/#' &
pids+=($!)
sleep 0.3

seconds=${DEMO_SECONDS:-20}
echo "==> publishing ${seconds}s of simulated devices/+/telemetry and shop/+/events (event time: 1 min per message)" >&2
bash "$root/scripts/simulate_devices.sh" -p "$port" -d "$seconds" -r 4
sleep 1
echo "==> done; stopping the gateway (SIGTERM: drain, flush, disconnect)" >&2
kill -TERM "$gateway_pid"
gateway_status=0
wait "$gateway_pid" || gateway_status=$?
grep -E "stopped:" "$work/gateway.log" | sed 's/^/    gateway: /' >&2 || true
echo "==> gateway exit code $gateway_status" >&2
