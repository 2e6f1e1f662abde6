#!/usr/bin/env bash
# simulate_devices.sh: publishes a simulated stream of IoT telemetry and shop events with
# mosquitto_pub, like the brief's examples.
#
#   scripts/simulate_devices.sh [-h HOST] [-p PORT] [-d SECONDS] [-r MSGS_PER_SECOND]
#
# Event time runs fast: every tick advances the events' timestamps by one minute, so the
# shipped 30-minute windows close every ~30 ticks instead of every half hour. Deterministic
# (fixed seed), so two runs publish the same events.
set -euo pipefail

host=127.0.0.1
port=1883
duration=20
rate=4
while getopts "h:p:d:r:" opt; do
  case "$opt" in
    h) host=$OPTARG ;;
    p) port=$OPTARG ;;
    d) duration=$OPTARG ;;
    r) rate=$OPTARG ;;
    *) echo "usage: $0 [-h HOST] [-p PORT] [-d SECONDS] [-r MSGS_PER_SECOND]" >&2; exit 2 ;;
  esac
done

RANDOM=42
ticks=$((duration * rate))
sleep_s=$(awk -v r="$rate" 'BEGIN { printf "%.3f", 1 / r }')
base=$(date -u -d "2024-01-15T10:00:00Z" +%s)
devices=(device_001 device_002 device_003 device_004 device_005)
categories=(electronics books clothing home toys)
event_types=(page_view page_view login purchase page_view add_to_cart purchase)

pub() {
  # -q 1: QoS 1, like a device that wants its data delivered.
  mosquitto_pub -h "$host" -p "$port" -q 1 -t "$1" -m "$2"
}

for ((i = 0; i < ticks; i++)); do
  ts=$(date -u -d "@$((base + i * 60))" +%Y-%m-%dT%H:%M:%SZ)
  if ((i % 2 == 0)); then
    d=${devices[$((RANDOM % ${#devices[@]}))]}
    status=online
    ((RANDOM % 6 == 0)) && status=offline
    battery=$((5 + RANDOM % 95))
    signal=$((-50 - RANDOM % 50))
    pub "devices/$d/telemetry" \
      "{\"device_id\":\"$d\",\"status\":\"$status\",\"battery\":$battery,\"signal\":$signal,\"timestamp\":\"$ts\"}"
  else
    user=$(printf "user_%03d" $((RANDOM % 12)))
    type=${event_types[$((RANDOM % ${#event_types[@]}))]}
    cat=${categories[$((RANDOM % ${#categories[@]}))]}
    amount=$((10 + RANDOM % 190)).$((RANDOM % 90 + 10))
    pub "shop/web/events" \
      "{\"event_id\":\"evt_$i\",\"event_type\":\"$type\",\"user_id\":\"$user\",\"product_id\":\"prod_$((RANDOM % 50))\",\"amount\":$amount,\"quantity\":1,\"category\":\"$cat\",\"timestamp\":\"$ts\"}"
  fi
  sleep "$sleep_s"
done
