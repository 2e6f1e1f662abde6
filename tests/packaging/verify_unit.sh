#!/usr/bin/env bash
# Checks systemd/streamgate.service with systemd-analyze, offline (no running systemd needed).
# verify needs ExecStart's binary to exist, so it checks a copy whose ExecStart is the binary
# just built; everything else in the unit is unchanged.
# usage: verify_unit.sh verify|security UNIT BINARY WORKDIR [THRESHOLD]
set -euo pipefail
mode="$1" unit="$2" binary="$3" work="$4" threshold="${5:-100}"

rm -rf "$work"
mkdir -p "$work"
copy="$work/streamgate.service"
sed "s#^ExecStart=/usr/bin/streamgate#ExecStart=$binary#" "$unit" > "$copy"
grep -q "^ExecStart=$binary " "$copy" || { echo "ExecStart=/usr/bin/streamgate not found in $unit"; exit 1; }

case "$mode" in
  verify)
    # systemd-analyze verify exits 0 even for some warnings; treat any output as a failure.
    out=$(systemd-analyze verify "$copy" 2>&1) || { echo "$out"; exit 1; }
    if [[ -n "$out" ]]; then echo "$out"; exit 1; fi
    echo "systemd-analyze verify: ok"
    ;;
  security)
    systemd-analyze security --offline=true --threshold="$threshold" "$copy" > "$work/security.txt" 2>&1 \
      && rc=0 || rc=$?
    grep -E '✗' "$work/security.txt" || true
    tail -1 "$work/security.txt"
    if [[ $rc -ne 0 ]]; then
      echo "exposure above the threshold $threshold (tenths), see $work/security.txt"
      exit 1
    fi
    ;;
  *) echo "unknown mode $mode"; exit 2 ;;
esac
