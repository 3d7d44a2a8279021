#!/usr/bin/env bash
# Thumbnail serving benchmark: GET /api/v1/events/{id}/thumbnail (session
# check, authorization, decryption, one audit entry per view) against nginx
# serving the same JPEG files, unencrypted, from disk. Both with wrk on
# loopback, the same threads, connections and duration, cycling over the
# same EVENTS events.
#
#   internal/sim/bench/thumbnails.sh                  # EVENTS=200 THREADS=2 CONNS=16 DURATION=20s RUNS=2
#   CONNS=64 internal/sim/bench/thumbnails.sh
#   REV=HEAD internal/sim/bench/thumbnails.sh         # camvault as committed, not the work tree
#
# Needs wrk and nginx (apt-get install -y wrk nginx).
source "$(dirname "$0")/lib.sh"

EVENTS=${EVENTS:-200}
THREADS=${THREADS:-2}
CONNS=${CONNS:-16}
DURATION=${DURATION:-20s}
RUNS=${RUNS:-2}
NGINX_PORT=${NGINX_PORT:-28190}

for tool in wrk nginx curl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y wrk nginx curl" >&2; exit 1; }
done

machine
echo "nginx:  $(nginx -v 2>&1 | cut -d/ -f2)   wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
build

# Seed: EVENTS events through the API, the same JPEGs into nginx's root.
start_camvault "$WORK/data"
"$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$EVENTS" --c 4 --seed "$WORK/seed" >/dev/null
TOKEN=$(cat "$WORK/seed/token")
mkdir -p "$WORK/www/t" "$WORK/nginx"
cp "$WORK/seed/jpeg/"*.jpg "$WORK/www/t/"
sed 's|^|/api/v1/events/|; s|$|/thumbnail|' "$WORK/seed/ids" >"$WORK/camvault.paths"
sed 's|^|/t/|; s|$|.jpg|' "$WORK/seed/ids" >"$WORK/nginx.paths"

cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  types { image/jpeg jpg; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/www;
  }
}
CONF
if curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/"; then
  echo "port $NGINX_PORT is already in use; set NGINX_PORT" >&2
  exit 1
fi
nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
first=$(head -1 "$WORK/seed/ids")
wait_http "http://127.0.0.1:$NGINX_PORT/t/$first.jpg"
mapfile -t NGINX_WORKERS < <(pgrep -P "$NGINX_PID")

# Both serve the same bytes.
curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/a.jpg" "http://127.0.0.1:$API_PORT/api/v1/events/$first/thumbnail"
curl -fsS -o "$WORK/b.jpg" "http://127.0.0.1:$NGINX_PORT/t/$first.jpg"
cmp "$WORK/a.jpg" "$WORK/b.jpg"
echo "thumbnail: $(stat -c %s "$WORK/a.jpg") bytes, $EVENTS events; wrk -t$THREADS -c$CONNS -d$DURATION --latency"

bench() { # NAME PORT PATHS TOKEN PID...
  local out before reqs name=$1 port=$2 paths=$3 token=$4
  shift 4
  before=$(cpu_ms "$@")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/internal/sim/bench/paths.lua" \
    "http://127.0.0.1:$port" -- "$paths" "$token")
  if grep -q 'Non-2xx' <<<"$out"; then echo "$out"; echo "$name: some answers were not 2xx" >&2; exit 1; fi
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  echo "== $name"
  echo "$out"
  echo "$name: $(awk '/Requests\/sec/ {print $2}' <<<"$out") req/s, p50 $(awk '$1 == "50%" {print $2}' <<<"$out"), p99 $(awk '$1 == "99%" {print $2}' <<<"$out"), server CPU $(( ($(cpu_ms "$@") - before) * 1000 / reqs )) us per request"
}

# Warm both up (connections, page cache, SQLite), untimed.
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$NGINX_PORT" -- "$WORK/nginx.paths" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$API_PORT" -- "$WORK/camvault.paths" "$TOKEN" >/dev/null

for run in $(seq "$RUNS"); do
  echo
  echo "-- run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  bench nginx "$NGINX_PORT" "$WORK/nginx.paths" "" "${NGINX_WORKERS[@]}"
  bench camvault "$API_PORT" "$WORK/camvault.paths" "$TOKEN" "$CAMVAULT_PID"
done

stop_camvault
echo
echo "audit entries after the runs (each thumbnail view appends one):"
"$WORK/camvault" admin --data "$WORK/data" audit verify || true
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
