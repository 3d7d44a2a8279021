#!/usr/bin/env bash
# The 10,000-camera storms of docs/benchmarks.md, one after another:
#
#   embedded   one node on the embedded default, a 30 s outage
#   faults     the same through the fault-injecting proxy
#   connects   a 5 s outage with a 2 s backoff cap: every camera retries
#              within 2 s, to measure how many connections the node admits per second
#   nodes      3 nodes on PostgreSQL, S3, Redis and NATS, all killed for 30 s
#   killnode   3 nodes on the same backends, one of them killed
#
# The last two need the backends' addresses as .ci/services exports them
# (CAMVAULT_TEST_POSTGRES, CAMVAULT_TEST_S3, CAMVAULT_TEST_NATS,
# CAMVAULT_TEST_REDIS and the AWS variables); `source .ci/services` first.
# Usage: internal/sim/bench/storm.sh [NAME...]   (default: all five)
# Knobs: CAMERAS (10000), ACCOUNTS (1000), VIEWERS (20), REV (a commit to
# build instead of the work tree), KEEP=1 to keep the work directory, OUT
# (where each run's JSON and HTML report go; default docs/benchmarks/storm).
source "$(dirname "$0")/lib.sh"
out=${OUT:-$ROOT/docs/benchmarks/storm}
mkdir -p "$out"

cameras=${CAMERAS:-10000}
common=(--accounts "${ACCOUNTS:-1000}" --cameras "$cameras" --viewers "${VIEWERS:-20}"
  --warmup 20s --event-interval 5m --timeout 4m)
runs=("$@")
[[ ${#runs[@]} -gt 0 ]] || runs=(embedded faults connects nodes killnode)

build
machine
echo "cameras: $cameras"

storm() { # name, flags...
  local name=$1; shift
  echo; echo "=== $name: camvault storm ${common[*]} $*"
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  "$WORK/camvault" --log-level warn storm "${common[@]}" "$@" \
    --dir "$WORK/$name" --json "$WORK/$name.json" --report "$WORK/$name.html" || true
  cp "$WORK/$name.json" "$WORK/$name.html" "$out/" 2>/dev/null || true
}

# shared: a fresh database for this run and a prefix of its own in the bucket.
dbs=()
drop_dbs() {
  local db
  for db in "${dbs[@]}"; do
    psql "$CAMVAULT_TEST_POSTGRES" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null || true
  done
}
shared() {
  local db="camvault_bench_$1_$$"
  psql "$CAMVAULT_TEST_POSTGRES" -q -c "CREATE DATABASE $db" >/dev/null
  dbs+=("$db")
  echo --store "$(printf '%s' "$CAMVAULT_TEST_POSTGRES" | sed "s#/[^/?]*\([?]\|\$\)#/$db\1#")" \
    --blobs "$CAMVAULT_TEST_S3&prefix=bench-$1-$$/" --bus "$CAMVAULT_TEST_NATS" --cache "$CAMVAULT_TEST_REDIS"
}

for run in "${runs[@]}"; do
  case $run in
  embedded) storm embedded --outage 30s ;;
  # Through the proxy each camera costs three sockets in this process: 5,000
  # cameras fit a file descriptor limit of 20,000, 10,000 do not.
  faults) storm faults --cameras "${FAULT_CAMERAS:-5000}" --accounts "${FAULT_ACCOUNTS:-500}" --outage 30s \
    --net-faults 'latency=20ms,jitter=10ms,reset=0.01,slice=0.5,slice_size=512' ;;
  connects) storm connects --outage 5s --backoff-cap 2s ;;
  nodes)
    shared nodes >"$WORK/flags"
    # shellcheck disable=SC2046 # the flags are split on purpose
    storm nodes --nodes 3 --outage 30s $(cat "$WORK/flags") ;;
  killnode)
    shared killnode >"$WORK/flags"
    # shellcheck disable=SC2046
    storm killnode --nodes 3 --kill-node $(cat "$WORK/flags") ;;
  *) echo "unknown run $run" >&2; exit 2 ;;
  esac
done
drop_dbs
