#!/usr/bin/env bash
# Thumbnails and ingest on three camvault nodes sharing PostgreSQL, S3
# (versitygw), Redis and NATS behind nginx as a round-robin balancer
# (HTTP/1.1 keepalive upstream), side by side in the same run with what
# thumbnails.sh and ingest.sh measure on one node:
#
#   thumbnails  wrk (the same events, threads, connections and duration as
#               thumbnails.sh) against nginx serving the JPEGs from disk,
#               one camvault node on the embedded default, and the cluster
#               through the balancer
#   ingest      for each C: the write+fsync baseline, one node on the
#               embedded default (a fresh data directory), and the cluster
#               through the balancer (so the cameras land on different
#               nodes); then every acknowledged event must be listed by the
#               API (ingest --verify), on one node and on the cluster
#
# CPU is utime+stime from /proc, per request or event: "nodes" sums the three
# camvault processes, "lb" the balancer's nginx workers, and each backend is
# apart: postgres (the server processes serving the run's database),
# redis-server, nats-server, versitygw. "one" is the one node.
#
#   internal/sim/bench/cluster.sh          # EVENTS=200 THREADS=2 CONNS=16 DURATION=20s N=500 C="1 16" RUNS=2
#   REV=HEAD RUNS=3 DURATION=10s internal/sim/bench/cluster.sh
#   PROFILE=1 internal/sim/bench/cluster.sh  # also perf record one node during a cluster thumbnail run
#
# PostgreSQL is the machine's (.ci/services starts it if it is down; the
# script makes a database of its own and drops it at the end). Redis, NATS
# and versitygw are started by the script on ports of their own, so their
# CPU is this run's alone; every process it starts is stopped on exit.
# Needs wrk, nginx, curl, bc, psql, redis-server, nats-server, versitygw
# (and perf with PROFILE=1).
# The whole script is one compound command, read before it runs: an edit
# of this file during a run does not change the run.
{
API_PORT=${API_PORT:-28380} # the one node on the embedded default
ADMIN_PORT=${ADMIN_PORT:-28381}
source "$(dirname "$0")/lib.sh"

EVENTS=${EVENTS:-200}
THREADS=${THREADS:-2}
CONNS=${CONNS:-16}
DURATION=${DURATION:-20s}
N=${N:-500}
C=${C:-"1 16"}
HOMES=${HOMES:-1} # the seeded events' and the ingest cameras' homes
RUNS=${RUNS:-2}
NODE_PORT=${NODE_PORT:-28382} # node i: API NODE_PORT+2i, admin NODE_PORT+2i+1
LB_PORT=${LB_PORT:-28390}
NGINX_PORT=${NGINX_PORT:-28391}
REDIS_PORT=${REDIS_PORT:-28393}
NATS_PORT=${NATS_PORT:-28394}
S3_PORT=${S3_PORT:-28395}

for tool in wrk nginx curl bc psql redis-server nats-server; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (apt-get install -y wrk nginx curl bc postgresql-client redis-server nats-server)" >&2; exit 1; }
done
VERSITYGW=$(command -v versitygw || echo "$HOME/go/bin/versitygw")
[[ -x $VERSITYGW ]] || { echo "versitygw is missing: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0" >&2; exit 1; }
for port in "$API_PORT" "$ADMIN_PORT" "$LB_PORT" "$NGINX_PORT" "$REDIS_PORT" "$NATS_PORT" "$S3_PORT" \
  "$NODE_PORT" $((NODE_PORT + 1)) $((NODE_PORT + 2)) $((NODE_PORT + 3)) $((NODE_PORT + 4)) $((NODE_PORT + 5)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use; see the *_PORT variables at the top of $0" >&2
    exit 1
  fi
done

# PostgreSQL: the machine's, a database of this run's own, dropped on exit.
source "$ROOT/.ci/services" >/dev/null
PG_ADMIN=$CAMVAULT_TEST_POSTGRES
DB=cvbench_$(basename "$WORK" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')
PG_URL=$(sed "s|/[^/?]*?|/$DB?|" <<<"$PG_ADMIN")
# Every node's pool opened in full at start (4, pgx's default size here), so
# the server processes serving the run's database are known before it.
PG_URL="$PG_URL&pool_min_conns=4&pool_max_conns=4"
DB_MADE=
BACKEND_PIDS=()
cluster_cleanup() {
  # The servers first, newest first, while the backends they drain into are
  # up (a node whose NATS is gone takes long to stop); then the backends.
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    [[ " ${BACKEND_PIDS[*]} " == *" ${PIDS[i]} "* ]] || kill "${PIDS[i]}" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    [[ " ${BACKEND_PIDS[*]} " == *" $pid "* ]] || wait "$pid" 2>/dev/null || true
  done
  PIDS=("${BACKEND_PIDS[@]}")
  cleanup
  if [[ -n $DB_MADE ]]; then
    psql -q "$PG_ADMIN" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null || echo "could not drop database $DB" >&2
  fi
}
trap cluster_cleanup EXIT
trap 'exit 130' INT TERM

machine
echo "nginx:  $(nginx -v 2>&1 | cut -d/ -f2)   wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)   postgres: $(psql -Atq "$PG_ADMIN" -c 'show server_version')   redis: $(redis-server --version | grep -o 'v=[^ ]*' | cut -d= -f2)   nats: $(nats-server --version | awk '{print $NF}')   versitygw: $(go version -m "$VERSITYGW" 2>/dev/null | awk '$1 == "mod" {print $3}')"
echo "command: $(printf '%q ' env HOMES="$HOMES" EVENTS="$EVENTS" THREADS="$THREADS" CONNS="$CONNS" DURATION="$DURATION" N="$N" C="$C" RUNS="$RUNS" ${REV:+REV="$REV"} "$0")"
build
HZ=$(getconf CLK_TCK)

psql -q "$PG_ADMIN" -c "CREATE DATABASE $DB" >/dev/null
DB_MADE=1

# Redis, NATS and S3 of this run's own, each in a process group of its own
# so that Ctrl-C reaches them only through the cleanup, after the nodes.
mkdir -p "$WORK/nats" "$WORK/s3"
setsid redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
setsid nats-server -a 127.0.0.1 -p "$NATS_PORT" >"$WORK/nats.log" 2>&1 &
NATS_PID=$!
PIDS+=("$NATS_PID")
S3_KEY=cvbench S3_SECRET=cvbench-secret-$RANDOM$RANDOM
setsid "$VERSITYGW" --access "$S3_KEY" --secret "$S3_SECRET" --region us-east-1 --port "127.0.0.1:$S3_PORT" --quiet posix "$WORK/s3" \
  >"$WORK/versitygw.log" 2>&1 &
S3_PID=$!
PIDS+=("$S3_PID")
BACKEND_PIDS=("$REDIS_PID" "$NATS_PID" "$S3_PID")
for p in "$REDIS_PORT" "$NATS_PORT" "$S3_PORT"; do wait_port 127.0.0.1 "$p" "port $p"; done
curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_KEY:$S3_SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -X PUT "http://127.0.0.1:$S3_PORT/cvbench" >/dev/null

# Three nodes, one master key.
MASTER_KEY=$(head -c 32 /dev/urandom | base64)
NODE_PIDS=()
start_node() { # I
  local api=$((NODE_PORT + 2 * $1)) admin=$((NODE_PORT + 2 * $1 + 1))
  CAMVAULT_SIGNUPS_PER_ADDRESS=0 CAMVAULT_MAX_UPLOADS_PER_SECOND=1000000 CAMVAULT_MASTER_KEY=$MASTER_KEY \
    AWS_ACCESS_KEY_ID=$S3_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET AWS_REGION=us-east-1 \
    "$WORK/camvault" serve --data "$WORK/node$1" --addr "127.0.0.1:$api" --admin-addr "127.0.0.1:$admin" \
    --store "$PG_URL" --blobs "s3://cvbench?endpoint=http://127.0.0.1:$S3_PORT&region=us-east-1&prefix=run/" \
    --cache "redis://127.0.0.1:$REDIS_PORT/0" --bus "nats://127.0.0.1:$NATS_PORT" \
    2>>"$WORK/node$1.log" &
  NODE_PIDS+=($!)
  PIDS+=($!)
}
start_node 0 # the first migrates the empty database alone
wait_http "http://127.0.0.1:$((NODE_PORT + 1))/readyz"
start_node 1
start_node 2
for i in 1 2; do wait_http "http://127.0.0.1:$((NODE_PORT + 2 * i + 1))/readyz"; done
for pid in "${NODE_PIDS[@]}"; do kill -0 "$pid"; done

# The one node on the embedded default (lib.sh's).
start_camvault "$WORK/data"

# nginx: the balancer, and the JPEGs from disk, as two instances so that
# each one's workers are counted apart.
mkdir -p "$WORK/www/t" "$WORK/lb" "$WORK/static"
nginx_conf() { # DIR SERVER-BLOCK
  cat <<CONF
daemon off;
worker_processes auto;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_max_body_size 2m;
  client_body_temp_path $1/body;
  proxy_temp_path $1/proxy;
  fastcgi_temp_path $1/fastcgi;
  uwsgi_temp_path $1/uwsgi;
  scgi_temp_path $1/scgi;
  types { image/jpeg jpg; }
$2
}
CONF
}
nginx_conf "$WORK/lb" "  upstream camvault {
    server 127.0.0.1:$NODE_PORT;
    server 127.0.0.1:$((NODE_PORT + 2));
    server 127.0.0.1:$((NODE_PORT + 4));
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://camvault;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_request_buffering off;
      proxy_buffering off;
      # wrk closes its connections at the end of a run: without this the
      # requests in flight are cancelled, and pgx closes a connection whose
      # query was cancelled, so the PostgreSQL process that did the run's
      # work would exit before its CPU time is read.
      proxy_ignore_client_abort on;
    }
  }" >"$WORK/lb/nginx.conf"
nginx_conf "$WORK/static" "  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
  }" >"$WORK/static/nginx.conf"
nginx -c "$WORK/lb/nginx.conf" -p "$WORK/lb" &
LB_PID=$!
PIDS+=("$LB_PID")
nginx -c "$WORK/static/nginx.conf" -p "$WORK/static" &
STATIC_PID=$!
PIDS+=("$STATIC_PID")
wait_port 127.0.0.1 "$LB_PORT" balancer
wait_port 127.0.0.1 "$NGINX_PORT" nginx
sleep 0.5
mapfile -t LB_WORKERS < <(pgrep -P "$LB_PID")
mapfile -t STATIC_WORKERS < <(pgrep -P "$STATIC_PID")

# CPU accounting. snap FILE PID... writes "pid ticks" lines; delta_us
# START END prints the microseconds used between them by the processes in
# END (one that was not in START counted from its start).
snap() {
  local f=$1 pid
  shift
  for pid in "$@"; do
    awk -v p="$pid" '{print p, $14 + $15}' "/proc/$pid/stat" 2>/dev/null || true
  done >"$f"
}
delta_us() {
  awk -v hz="$HZ" 'NR == FNR {s[$1] = $2; next} {d += $2 - ($1 in s ? s[$1] : 0)} END {printf "%d", d * 1000000 / hz}' "$1" "$2"
}
pg_pids() {
  # The server processes working on the run's database; the shared
  # background ones (WAL writer, checkpointer) also work for others' tests
  # on this machine, and are left out.
  psql -Atq "$PG_ADMIN" -c "SELECT pid FROM pg_stat_activity WHERE datname = '$DB'"
}
GROUPS_=(nodes lb postgres redis nats s3)
group_pids() { # NAME
  case $1 in
  nodes) echo "${NODE_PIDS[@]}" ;;
  lb) echo "${LB_WORKERS[@]}" ;;
  postgres) pg_pids | tr '\n' ' ' ;;
  redis) echo "$REDIS_PID" ;;
  nats) echo "$NATS_PID" ;;
  s3) echo "$S3_PID" ;;
  one) echo "$CAMVAULT_PID" ;;
  nginx) echo "${STATIC_WORKERS[@]}" ;;
  esac
}
snap_groups() { # SUFFIX GROUP...
  local suffix=$1 g
  shift
  for g in "$@"; do
    # shellcheck disable=SC2046
    snap "$WORK/cpu.$g.$suffix" $(group_pids "$g")
  done
}

# Seed: EVENTS events through the balancer and EVENTS through the one node,
# the same JPEGs (the client makes them from their index) into nginx's root.
"$WORK/ingest" --target "http://127.0.0.1:$LB_PORT" --n "$EVENTS" --c 4 --homes "$HOMES" --seed "$WORK/seed-cluster" --verify >/dev/null
"$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$EVENTS" --c 4 --homes "$HOMES" --seed "$WORK/seed-one" >/dev/null
cp "$WORK/seed-cluster/jpeg/"*.jpg "$WORK/www/t/"
sed 's|^|/api/v1/events/|; s|$|/thumbnail|' "$WORK/seed-cluster/ids" >"$WORK/cluster.paths"
sed 's|^|/api/v1/events/|; s|$|/thumbnail|' "$WORK/seed-one/ids" >"$WORK/one.paths"
sed 's|^|/t/|; s|$|.jpg|' "$WORK/seed-cluster/ids" >"$WORK/nginx.paths"
first=$(head -1 "$WORK/seed-cluster/ids")
curl -fsS -o "$WORK/a.jpg" "http://127.0.0.1:$NGINX_PORT/t/$first.jpg"
for i in 1 2 3; do # each node, in turn, serves the same bytes
  curl -fsS -H "Authorization: Bearer $(cat "$WORK/seed-cluster/token")" -o "$WORK/b.jpg" \
    "http://127.0.0.1:$LB_PORT/api/v1/events/$first/thumbnail"
  cmp "$WORK/a.jpg" "$WORK/b.jpg"
done
echo "thumbnail: $(stat -c %s "$WORK/a.jpg") bytes, $EVENTS events in $HOMES home(s); wrk -t$THREADS -c$CONNS -d$DURATION --latency; ingest N=$N C=\"$C\""

SUMMARY=()
bench() { # NAME PORT PATHS TOKEN GROUP...
  local out reqs rps p50 p99 name=$1 port=$2 paths=$3 token=$4 g line gone
  shift 4
  snap_groups 0 "$@"
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/internal/sim/bench/paths.lua" \
    "http://127.0.0.1:$port" -- "$paths" "$token")
  snap_groups 1 "$@"
  if grep -q 'Non-2xx' <<<"$out"; then echo "$out"; echo "$name: some answers were not 2xx" >&2; exit 1; fi
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  line=$(printf '%-4s %-9s %10s %9s %9s' "$run" "$name" "$rps" "$p50" "$p99")
  for g in "$@"; do
    line+=$(printf ' %s=%d' "$g" $(($(delta_us "$WORK/cpu.$g.0" "$WORK/cpu.$g.1") / reqs)))
    # A process gone by the end took its CPU time with it: say so.
    gone=$(awk 'NR == FNR {e[$1] = 1; next} !($1 in e)' "$WORK/cpu.$g.1" "$WORK/cpu.$g.0" | wc -l)
    if ((gone > 0)); then line+=" ($gone of $g's processes ended, uncounted)"; fi
  done
  echo "== $name"
  echo "$out"
  echo "$line"
  SUMMARY+=("$line")
}

TOKEN_C=$(cat "$WORK/seed-cluster/token") TOKEN_1=$(cat "$WORK/seed-one/token")
# Warm every one up (connections, caches), untimed.
for target in "$NGINX_PORT $WORK/nginx.paths" "$API_PORT $WORK/one.paths $TOKEN_1" "$LB_PORT $WORK/cluster.paths $TOKEN_C"; do
  set -- $target
  wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$1" -- "$2" "${3:-}" >/dev/null
done

# At rest: what each group uses with no traffic (leases, heartbeats,
# polling), which every figure per request below includes.
snap_groups 0 "${GROUPS_[@]}" one
sleep 10
snap_groups 1 "${GROUPS_[@]}" one
line="at rest, ms of CPU per second:"
for g in "${GROUPS_[@]}" one; do
  line+=$(printf ' %s=%d' "$g" $(($(delta_us "$WORK/cpu.$g.0" "$WORK/cpu.$g.1") / 10000)))
done
echo "$line"

echo
echo "thumbnails"
for run in $(seq "$RUNS"); do
  echo
  echo "-- run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  bench nginx "$NGINX_PORT" "$WORK/nginx.paths" "" nginx
  bench one-node "$API_PORT" "$WORK/one.paths" "$TOKEN_1" one
  bench cluster "$LB_PORT" "$WORK/cluster.paths" "$TOKEN_C" "${GROUPS_[@]}"
done

if [[ -n ${PROFILE:-} ]]; then
  echo
  echo "profile: perf record of node 0 for 10 s of a cluster thumbnail run"
  wrk -t"$THREADS" -c"$CONNS" -d12s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$LB_PORT" -- "$WORK/cluster.paths" "$TOKEN_C" >/dev/null &
  WRK_PID=$!
  PIDS+=("$WRK_PID")
  sleep 1
  perf record -q -F 499 -g -p "${NODE_PIDS[0]}" -o "$WORK/perf.data" -- sleep 10 2>/dev/null
  wait "$WRK_PID" || true
  perf report -q -i "$WORK/perf.data" --no-children --sort dso,sym --stdio -g none 2>/dev/null >"$WORK/perf.txt"
  head -25 "$WORK/perf.txt"
  echo "by package (self time; the kernel apart):"
  awk '$1 ~ /%$/ {pct = $1 + 0; if ($3 == "[k]") {s["[kernel]"] += pct; next}
      sym = $4; for (i = 5; i <= NF; i++) sym = sym " " $i
      n = split(sym, parts, "/"); last = parts[n]; dot = index(last, ".")
      pkg = dot ? substr(sym, 1, length(sym) - length(last) + dot - 1) : sym
      s[pkg] += pct} END {for (p in s) printf "%6.1f%% %s\n", s[p], p}' "$WORK/perf.txt" | sort -rn | head -25
fi

echo
echo "ingest"
for c in $C; do
  for run in $(seq "$RUNS"); do
    echo "-- C=$c run $run (load $(cut -d' ' -f1 /proc/loadavg))"
    "$WORK/ingest" --baseline "$WORK/baseline-$c-$run" --n "$N" --c "$c"
    stop_camvault
    start_camvault "$WORK/data-$c-$run"
    "$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$N" --c "$c" --homes "$HOMES" --pid "$CAMVAULT_PID" --verify
    cpu_args=()
    for g in lb postgres redis nats s3; do
      cpu_args+=(--cpu "$g=$(group_pids "$g" | xargs | tr ' ' ',')")
    done
    "$WORK/ingest" --target "http://127.0.0.1:$LB_PORT" --n "$N" --c "$c" --homes "$HOMES" --pid "$(IFS=,; echo "${NODE_PIDS[*]}")" "${cpu_args[@]}" --verify |
      sed 's/^mode=camvault/mode=cluster/'
  done
done

echo
echo "summary of thumbnails (CPU in us per request; nodes = the three camvault processes, lb = the balancer's nginx):"
printf '%-4s %-9s %10s %9s %9s %s\n' run server "req/s" p50 p99 "CPU per request, by process group"
printf '%s\n' "${SUMMARY[@]}"
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
exit
}
