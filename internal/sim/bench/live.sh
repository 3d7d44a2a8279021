#!/usr/bin/env bash
# Live view benchmarks (docs/benchmarks.md, "Live view"): time to first
# frame (warm and on demand), the latency the relay adds with many viewers
# of one camera, the revocation cut-off, and many cameras with many
# viewers each on camvault and on go2rtc side by side, server CPU per
# viewer stream from /proc.
#
# go2rtc is fetched from the Go module proxy and built here, in the work
# directory, at benchmark time (a module of its own; nothing of it enters
# this repository): GO2RTC_VERSION (default v1.9.9), or GO2RTC_BIN=path to
# use a binary built before.
#
# Knobs: MODES (default "ttff-warm ttff-demand latency revoke load"),
# TRIALS (200), REVOKE_TRIALS (100), LAT_VIEWERS (100), LAT_DURATION (30s),
# CAMERAS (100), VIEWERS (10), DURATION (60s), WARMUP (10s), REV, KEEP,
# BENCH_TMP, API_PORT/ADMIN_PORT (28180, 28181), GO2RTC_PORT (28197),
# FEED_PORT (28196).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODES=${MODES:-ttff-warm ttff-demand latency revoke load}
TRIALS=${TRIALS:-200}
REVOKE_TRIALS=${REVOKE_TRIALS:-100}
LAT_VIEWERS=${LAT_VIEWERS:-100}
LAT_DURATION=${LAT_DURATION:-30s}
CAMERAS=${CAMERAS:-100}
VIEWERS=${VIEWERS:-10}
DURATION=${DURATION:-60s}
WARMUP=${WARMUP:-10s}
GO2RTC_VERSION=${GO2RTC_VERSION:-v1.9.9}
GO2RTC_PORT=${GO2RTC_PORT:-28197}
FEED_PORT=${FEED_PORT:-28196}

# build_go2rtc builds go2rtc from the module proxy in the work directory:
# go install refuses it (its go.mod has replace directives), and its one C
# file is an input of a code generator that breaks the build.
build_go2rtc() {
  if [[ -n ${GO2RTC_BIN:-} ]]; then
    cp "$GO2RTC_BIN" "$WORK/go2rtc"
    return
  fi
  local mod=$WORK/go2rtc-mod src
  mkdir -p "$mod"
  (cd "$mod" && go mod init go2rtcbuild >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go get "github.com/AlexxIT/go2rtc@$GO2RTC_VERSION" >/dev/null 2>&1)
  src=$(cd "$mod" && go list -m -f '{{.Dir}}' "github.com/AlexxIT/go2rtc")
  cp -r "$src" "$WORK/go2rtc-src"
  chmod -R u+w "$WORK/go2rtc-src"
  rm -f "$WORK/go2rtc-src/pkg/v4l2/device/videodev2_arch.c"
  (cd "$WORK/go2rtc-src" && go build -o "$WORK/go2rtc" .)
  echo "go2rtc: $GO2RTC_VERSION, built from the module proxy's source"
}

# start_go2rtc N: go2rtc with streams cam0 .. cam(N-1), each pulling the
# bench's raw H.264 feed of that camera; sets GO2RTC_PID.
start_go2rtc() {
  local i
  {
    echo "api:"
    echo "  listen: \"127.0.0.1:$GO2RTC_PORT\""
    for m in rtsp webrtc rtmp srtp; do
      echo "$m:"
      echo "  listen: \"\""
    done
    echo "log:"
    echo "  level: error"
    echo "streams:"
    for ((i = 0; i < $1; i++)); do
      echo "  cam$i: http://127.0.0.1:$FEED_PORT/feed/$i"
    done
  } >"$WORK/go2rtc.yaml"
  "$WORK/go2rtc" -c "$WORK/go2rtc.yaml" >>"$WORK/go2rtc.log" 2>&1 &
  GO2RTC_PID=$!
  PIDS+=("$GO2RTC_PID")
  wait_http "http://127.0.0.1:$GO2RTC_PORT/api"
  kill -0 "$GO2RTC_PID"
}

build
(cd "$ROOT" && go build -o "$WORK/live" ./internal/sim/bench/live)
machine
# One camera with LAT_VIEWERS viewers, of one home, is past the default
# limits (32 viewers per camera, 16 sessions per home).
export CAMVAULT_LIVE_VIEWERS_PER_CAMERA=$((LAT_VIEWERS + 32))
export CAMVAULT_LIVE_SESSIONS_PER_HOME=$((LAT_VIEWERS + 32))
start_camvault "$WORK/data"
TARGET=http://127.0.0.1:$API_PORT

for mode in $MODES; do
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  case $mode in
  ttff-warm) "$WORK/live" --target "$TARGET" --mode ttff --warm --trials "$TRIALS" ;;
  ttff-demand) "$WORK/live" --target "$TARGET" --mode ttff --trials "$TRIALS" ;;
  latency) "$WORK/live" --target "$TARGET" --pid "$CAMVAULT_PID" --mode latency --viewers "$LAT_VIEWERS" --duration "$LAT_DURATION" --warmup "$WARMUP" ;;
  revoke) "$WORK/live" --target "$TARGET" --mode revoke --trials "$REVOKE_TRIALS" ;;
  load)
    build_go2rtc
    start_go2rtc "$CAMERAS"
    "$WORK/live" --target "$TARGET" --pid "$CAMVAULT_PID" --mode load --cameras "$CAMERAS" --viewers "$VIEWERS" \
      --duration "$DURATION" --warmup "$WARMUP" --go2rtc "http://127.0.0.1:$GO2RTC_PORT" --go2rtc-pid "$GO2RTC_PID" \
      --feed-addr "127.0.0.1:$FEED_PORT"
    ;;
  *)
    echo "unknown mode $mode" >&2
    exit 1
    ;;
  esac
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
