# Shared by ingest.sh and thumbnails.sh; sourced, not run.
# Each benchmark runs in its own work directory under $BENCH_TMP (default
# /tmp) and stops only the processes it started, by their PIDs.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/cvbench.XXXXXX")
chmod 755 "$WORK" # nginx's workers read the JPEGs under it
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -z ${KEEP:-} ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup EXIT

# machine prints what the numbers were measured on.
machine() {
  echo "date:   $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu:    $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "go:     $(go version)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo ' (work tree differs from HEAD)')"
  echo "disk:   $(df -T "$WORK" | awk 'NR==2 {print $1, $2}') (work directory $WORK)"
  echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
}

# build builds camvault from the work tree, or with REV=COMMIT from that
# commit (exported with git archive, so the work tree is not touched), and
# the bench client from the work tree.
build() {
  local src=$ROOT
  if [[ -n ${REV:-} ]]; then
    src=$WORK/src
    mkdir -p "$src"
    git -C "$ROOT" archive "$REV" | tar -x -C "$src"
    echo "built:  camvault at $(git -C "$ROOT" rev-parse --short "$REV")"
  fi
  (cd "$src" && go build -o "$WORK/camvault" ./cmd/camvault)
  (cd "$ROOT" && go build -o "$WORK/ingest" ./internal/sim/bench/ingest)
}

# cpu_ms PID...: user+system CPU time the processes have used, in ms.
cpu_ms() {
  local hz pid total=0
  hz=$(getconf CLK_TCK)
  for pid in "$@"; do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat")))
  done
  echo $((total * 1000 / hz))
}

# wait_http URL [CURL ARGS...]: poll until it answers 2xx, for at most 10 s.
wait_http() {
  local i
  for i in $(seq 100); do
    if curl -fsS -o /dev/null "${@:2}" "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# start_camvault DATA_DIR: starts the server on $API_PORT/$ADMIN_PORT and
# sets CAMVAULT_PID.
API_PORT=${API_PORT:-28180}
ADMIN_PORT=${ADMIN_PORT:-28181}
start_camvault() {
  local port
  for port in "$API_PORT" "$ADMIN_PORT"; do
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
      echo "port $port is already in use; set API_PORT and ADMIN_PORT" >&2
      return 1
    fi
  done
  # Every account of a benchmark is made from loopback: no sign-up limit
  # (an environment variable, which a binary of an older commit ignores).
  # Nor a limit on uploads started per second (1000 by default, which
  # ingest passes at 16 cameras): the benchmark measures what the node
  # does, not where it sheds.
  CAMVAULT_SIGNUPS_PER_ADDRESS=0 CAMVAULT_MAX_UPLOADS_PER_SECOND=1000000 "$WORK/camvault" serve --data "$1" --addr "127.0.0.1:$API_PORT" --admin-addr "127.0.0.1:$ADMIN_PORT" \
    2>>"$WORK/camvault.log" &
  CAMVAULT_PID=$!
  PIDS+=("$CAMVAULT_PID")
  wait_http "http://127.0.0.1:$ADMIN_PORT/healthz"
  kill -0 "$CAMVAULT_PID" # it, not something else, answered
}

stop_camvault() {
  kill "$CAMVAULT_PID"
  wait "$CAMVAULT_PID" 2>/dev/null || true
}
