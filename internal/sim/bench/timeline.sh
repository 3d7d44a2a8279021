#!/usr/bin/env bash
# Timeline at scale: the same timeline requests with 10 thousand, 100
# thousand, 1 million and 10 million events stored in the first home (and
# a hundredth of that in the owner's second home), on SQLite, or with
# PG_URL on that PostgreSQL database (it must be empty: the server makes
# its schema).
#
#   internal/sim/bench/timeline.sh                    # SIZES="10000 100000 1000000 10000000" N=2000 C=4
#   PG_URL=postgres://postgres@127.0.0.1:5432/cvtimeline?sslmode=disable internal/sim/bench/timeline.sh
#   REV=HEAD internal/sim/bench/timeline.sh
#
# The events beyond the first five are loaded straight into the events
# table with the server stopped (see internal/sim/bench/timeline): through
# the API, 10 million events would take hours.
source "$(dirname "$0")/lib.sh"

SIZES=${SIZES:-10000 100000 1000000 10000000}
N=${N:-2000}
C=${C:-4}

machine
build
(cd "$ROOT" && go build -o "$WORK/timeline" ./internal/sim/bench/timeline)

LOAD_TARGET=(--db "$WORK/data/camvault.db")
if [[ -n ${PG_URL:-} ]]; then
  export CAMVAULT_STORE=$PG_URL # serve's --store
  LOAD_TARGET=(--postgres "$PG_URL")
  echo "store:  PostgreSQL $PG_URL"
else
  echo "store:  SQLite"
fi
serve() { start_camvault "$WORK/data"; }

serve
"$WORK/timeline" setup --target "http://127.0.0.1:$API_PORT" --out "$WORK/setup"
for size in $SIZES; do
  stop_camvault
  "$WORK/timeline" load "${LOAD_TARGET[@]}" --setup "$WORK/setup" --total "$size"
  serve
  echo
  echo "== $size events in the home ($(du -sh "$WORK/data" | cut -f1) data directory; load $(cut -d' ' -f1 /proc/loadavg))"
  "$WORK/timeline" measure --target "http://127.0.0.1:$API_PORT" --setup "$WORK/setup" --n "$N" --c "$C"
done
