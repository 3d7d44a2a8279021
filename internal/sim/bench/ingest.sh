#!/usr/bin/env bash
# Ingest benchmark: events with a 30 KiB JPEG thumbnail (no clip) uploaded to
# camvault, against a baseline that writes and fsyncs the same bytes the way
# the disk blob store does (temp file, fsync, link, directory fsync), at the
# same concurrencies, on the same filesystem.
#
#   internal/sim/bench/ingest.sh                      # N=1000, C="1 4 16", RUNS=2
#   N=2000 C="4" RUNS=3 internal/sim/bench/ingest.sh
#   REV=HEAD internal/sim/bench/ingest.sh             # camvault as committed, not the work tree
#   FSYNCS=1 internal/sim/bench/ingest.sh             # then, per C, one more run under strace: fsyncs per event
#   HOMES=16 internal/sim/bench/ingest.sh             # the cameras spread over 16 homes (default 1)
#
# Each camvault run gets a fresh data directory and server, with C paired
# cameras, one per concurrent uploader. Nothing is deleted until the end:
# on ext4 without a journal (this machine's disk), creating a file right
# after many were deleted scans past every inode freed in the last 30 s
# (recently_deleted in the kernel), which once cost the run that followed
# a deletion a third of its CPU.
source "$(dirname "$0")/lib.sh"

N=${N:-1000}
C=${C:-"1 4 16"}
RUNS=${RUNS:-2}
BASELINE_DIRS=${BASELINE_DIRS:-} # set to also run the per-event-directory baseline
HOMES=${HOMES:-1}

machine
build
echo
for c in $C; do
  for run in $(seq "$RUNS"); do
    "$WORK/ingest" --baseline "$WORK/baseline-$c-$run" --n "$N" --c "$c"
    if [[ -n $BASELINE_DIRS ]]; then
      "$WORK/ingest" --baseline "$WORK/baseline-dirs-$c-$run" --baseline-dirs --n "$N" --c "$c"
    fi
    start_camvault "$WORK/data-$c-$run"
    "$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$N" --c "$c" --homes "$HOMES" --pid "$CAMVAULT_PID"
    stop_camvault
  done
done
# fsyncs per event: strace counts the server's fsync and fdatasync calls
# during an upload run (the client's setup, a few commits, included). A
# separate run, since strace slows every call it traces.
if [[ -n ${FSYNCS:-} ]]; then
  for c in $C; do
    start_camvault "$WORK/data-fsyncs-$c"
    "$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n 20 --c 1 >/dev/null # warm up
    strace -f -c -e trace=fsync,fdatasync -p "$CAMVAULT_PID" -o "$WORK/strace-$c.txt" 2>/dev/null &
    STRACE_PID=$!
    PIDS+=("$STRACE_PID")
    sleep 1 # attached to every thread
    "$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$N" --c "$c" --homes "$HOMES" >/dev/null
    kill -INT "$STRACE_PID"
    wait "$STRACE_PID" || true
    awk -v c="$c" -v n="$N" '$NF == "fsync" || $NF == "fdatasync" { s += $4 }
      END { printf "fsyncs: c=%d events=%d fsync+fdatasync=%d per_event=%.2f\n", c, n, s, s / n }' "$WORK/strace-$c.txt"
    stop_camvault
  done
fi
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
