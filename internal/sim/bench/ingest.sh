#!/usr/bin/env bash
# Ingest benchmark: events with a 30 KiB JPEG thumbnail (no clip) uploaded to
# camvault, against a baseline that writes and fsyncs the same bytes the way
# the disk blob store does (temp file, fsync, link, directory fsync), at the
# same concurrencies, on the same filesystem.
#
#   internal/sim/bench/ingest.sh                      # N=1000, C="1 4 16", RUNS=2
#   N=2000 C="4" RUNS=3 internal/sim/bench/ingest.sh
#   REV=HEAD internal/sim/bench/ingest.sh             # camvault as committed, not the work tree
#
# Each camvault run gets a fresh data directory and server, with C paired
# cameras, one per concurrent uploader.
source "$(dirname "$0")/lib.sh"

N=${N:-1000}
C=${C:-"1 4 16"}
RUNS=${RUNS:-2}
BASELINE_DIRS=${BASELINE_DIRS:-} # set to also run the per-event-directory baseline

machine
build
echo
for c in $C; do
  for run in $(seq "$RUNS"); do
    "$WORK/ingest" --baseline "$WORK/baseline" --n "$N" --c "$c"
    if [[ -n $BASELINE_DIRS ]]; then
      "$WORK/ingest" --baseline "$WORK/baseline" --baseline-dirs --n "$N" --c "$c"
    fi
    rm -rf "$WORK/baseline" "$WORK/data"
    start_camvault "$WORK/data"
    "$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$N" --c "$c" --pid "$CAMVAULT_PID"
    stop_camvault
  done
done
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
