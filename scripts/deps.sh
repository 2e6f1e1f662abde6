# deps.sh: sourced by demo.sh and test.sh. Installs the Debian 12 packages streamgate needs,
# skipping apt entirely when everything is already installed.
STREAMGATE_APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libpaho-mqttpp-dev libpaho-mqtt-dev libssl-dev
  nlohmann-json3-dev libsimdjson-dev libsqlite3-dev libspdlog-dev
  libboost-program-options-dev libgtest-dev libbenchmark-dev
  mosquitto mosquitto-clients
  # TLS test of the gateway path: the openssl command makes its certificates
  openssl
  # the dashboard: HTTP library; its browser test: headless Chromium + chromedriver
  libcpp-httplib-dev chromium chromium-driver
  # cluster mode (docs/scaling-out.md) and its tests
  nats-server libnats-dev
  # packaging tests: systemd-analyze, cpack -G DEB (dpkg-shlibdeps runs `file` and objdump)
  systemd dpkg-dev binutils file
)

streamgate_install_deps() {
  local missing=()
  local pkg
  for pkg in "${STREAMGATE_APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return 0
  fi
  echo "==> installing missing packages: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo=(sudo)
    else
      echo "error: missing packages (${missing[*]}) and not root; run as root or install sudo" >&2
      return 1
    fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The packaged mosquitto starts a system broker on port 1883 on install; the demo and the tests
# run their own brokers on free ports and never touch it.
streamgate_mosquitto_bin() {
  local p
  for p in /usr/sbin/mosquitto /usr/bin/mosquitto /usr/local/sbin/mosquitto; do
    if [ -x "$p" ]; then echo "$p"; return 0; fi
  done
  command -v mosquitto
}

# A free TCP port on 127.0.0.1 (bind port 0, read it back, close).
streamgate_free_port() {
  local port
  for port in $(shuf -i 20000-60000 -n 50); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Starts a Mosquitto of its own on a free loopback port (never 1883) for the demos: config and
# log in DIR (log_dest stdout, redirected by this shell: as root Mosquitto drops to its own user,
# which cannot write into a private temp dir; line-buffered so a SUBACK line shows at once).
# Sets `port`, appends the broker's pid to the caller's `pids`; fails if it does not listen
# within 10 s.
streamgate_start_broker() {
  local dir=$1
  port=$(streamgate_free_port) || return 1
  cat >"$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
log_dest stdout
log_type all
CONF
  stdbuf -oL "$(streamgate_mosquitto_bin)" -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

# Stops the caller's `pids` in reverse start order (subscriber, gateway: SIGTERM drains and exits
# 0, broker); a process that ignores SIGTERM for 10 s is killed.
streamgate_stop_started() {
  local i pid
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}

# Run directly (`sudo bash scripts/deps.sh`) it installs the packages; sourced, it only defines.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  streamgate_install_deps
fi
