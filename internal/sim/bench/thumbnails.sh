#!/usr/bin/env bash
# Thumbnail serving benchmark, three servers side by side on the same JPEG
# bytes, with wrk on loopback (the same threads, connections and duration,
# cycling over the same EVENTS events):
#
#   nginx       nginx serving the JPEG files from disk, no checks
#   nginx+peer  nginx with auth_request to internal/sim/bench/authpeer, a
#               small Go service that checks the bearer token and the
#               grant in camvault's own database (read-only) and appends
#               one synced audit row per request before nginx sends the
#               file from disk: the same kind of work from standard parts
#   camvault    GET /api/v1/events/{id}/thumbnail: session check,
#               authorization, the sealed thumbnail opened, one audit
#               entry per view committed before the bytes leave
#   go-static   internal/sim/bench/gostatic: Go's net/http serving the same
#               JPEGs from memory, no checks: the floor any Go server pays
#
# Each run prints wrk's output and, per server, req/s, p50/p99 and the
# server's CPU per request (utime+stime from /proc of nginx's workers, of
# nginx's workers plus the peer, of camvault, of go-static), then a summary.
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
PEER_NGINX_PORT=${PEER_NGINX_PORT:-28191}
PEER_PORT=${PEER_PORT:-28195}
STATIC_PORT=${STATIC_PORT:-28196}

for tool in wrk nginx curl bc; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y wrk nginx curl bc" >&2; exit 1; }
done

machine
echo "nginx:  $(nginx -v 2>&1 | cut -d/ -f2)   wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f2)"
build
(cd "$ROOT" && go build -o "$WORK/authpeer" ./internal/sim/bench/authpeer && go build -o "$WORK/gostatic" ./internal/sim/bench/gostatic)

# Seed: EVENTS events through the API, the same JPEGs into nginx's root.
start_camvault "$WORK/data"
"$WORK/ingest" --target "http://127.0.0.1:$API_PORT" --n "$EVENTS" --c 4 --seed "$WORK/seed" >/dev/null
TOKEN=$(cat "$WORK/seed/token")
mkdir -p "$WORK/www/t" "$WORK/nginx"
cp "$WORK/seed/jpeg/"*.jpg "$WORK/www/t/"
sed 's|^|/api/v1/events/|; s|$|/thumbnail|' "$WORK/seed/ids" >"$WORK/camvault.paths"
sed 's|^|/t/|; s|$|.jpg|' "$WORK/seed/ids" >"$WORK/nginx.paths"

# The peer: its own audit database beside camvault's, on the same disk.
mkdir -p "$WORK/peer"
for port in "$PEER_PORT" "$PEER_NGINX_PORT" "$STATIC_PORT"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "port $port is already in use; set PEER_PORT, PEER_NGINX_PORT and STATIC_PORT" >&2
    exit 1
  fi
done
"$WORK/authpeer" --addr "127.0.0.1:$PEER_PORT" --store "$WORK/data/camvault.db" --audit "$WORK/peer/audit.db" \
  2>>"$WORK/authpeer.log" &
PEER_PID=$!
PIDS+=("$PEER_PID")
"$WORK/gostatic" --addr "127.0.0.1:$STATIC_PORT" --dir "$WORK/www/t" 2>>"$WORK/gostatic.log" &
STATIC_PID=$!
PIDS+=("$STATIC_PID")

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
  upstream authpeer {
    server 127.0.0.1:$PEER_PORT;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$PEER_NGINX_PORT;
    root $WORK/www;
    location /t/ {
      auth_request /auth;
      error_page 403 = @notfound;
    }
    location @notfound {
      return 404;
    }
    location = /auth {
      internal;
      proxy_pass http://authpeer/check;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI \$request_uri;
    }
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

# All three serve the same bytes, and the peer checks what camvault checks.
wait_http "http://127.0.0.1:$PEER_NGINX_PORT/t/$first.jpg" -H "Authorization: Bearer $TOKEN"
curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/a.jpg" "http://127.0.0.1:$API_PORT/api/v1/events/$first/thumbnail"
curl -fsS -o "$WORK/b.jpg" "http://127.0.0.1:$NGINX_PORT/t/$first.jpg"
curl -fsS -H "Authorization: Bearer $TOKEN" -o "$WORK/c.jpg" "http://127.0.0.1:$PEER_NGINX_PORT/t/$first.jpg"
cmp "$WORK/a.jpg" "$WORK/b.jpg"
cmp "$WORK/a.jpg" "$WORK/c.jpg"
wait_http "http://127.0.0.1:$STATIC_PORT/t/$first.jpg"
curl -fsS -o "$WORK/d.jpg" "http://127.0.0.1:$STATIC_PORT/t/$first.jpg"
cmp "$WORK/a.jpg" "$WORK/d.jpg"
for check in "401 " "401 Bearer cvs_notatoken" "404 Bearer $TOKEN"; do
  want=${check%% *} auth=${check#* }
  path="/t/$first.jpg"
  [[ $want == 404 ]] && path="/t/notanevent.jpg"
  got=$(curl -s -o /dev/null -w '%{http_code}' ${auth:+-H "Authorization: $auth"} "http://127.0.0.1:$PEER_NGINX_PORT$path")
  if [[ $got != "$want" ]]; then echo "the peer answered $got for $path with \"$auth\", want $want" >&2; exit 1; fi
done
echo "thumbnail: $(stat -c %s "$WORK/a.jpg") bytes, $EVENTS events; wrk -t$THREADS -c$CONNS -d$DURATION --latency"

SUMMARY=()
bench() { # NAME PORT PATHS TOKEN PID...
  local out before cpu reqs rps p50 p99 name=$1 port=$2 paths=$3 token=$4
  shift 4
  before=$(cpu_ms "$@")
  out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$ROOT/internal/sim/bench/paths.lua" \
    "http://127.0.0.1:$port" -- "$paths" "$token")
  cpu=$(( ($(cpu_ms "$@") - before) * 1000 ))
  if grep -q 'Non-2xx' <<<"$out"; then echo "$out"; echo "$name: some answers were not 2xx" >&2; exit 1; fi
  reqs=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  echo "== $name"
  echo "$out"
  echo "$name: $rps req/s, p50 $p50, p99 $p99, server CPU $(( cpu / reqs )) us per request"
  SUMMARY+=("$(printf '%-4s %-10s %10s %10s %10s %8s' "$run" "$name" "$rps" "$p50" "$p99" "$(( cpu / reqs ))")")
  eval "RPS_${name//[^a-z]/_}=$rps CPU_${name//[^a-z]/_}=$(( cpu / reqs ))"
}

# Warm all three up (connections, page cache, SQLite), untimed.
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$NGINX_PORT" -- "$WORK/nginx.paths" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$PEER_NGINX_PORT" -- "$WORK/nginx.paths" "$TOKEN" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$API_PORT" -- "$WORK/camvault.paths" "$TOKEN" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d3s -s "$ROOT/internal/sim/bench/paths.lua" "http://127.0.0.1:$STATIC_PORT" -- "$WORK/nginx.paths" >/dev/null

for run in $(seq "$RUNS"); do
  echo
  echo "-- run $run (load $(cut -d' ' -f1 /proc/loadavg))"
  bench nginx "$NGINX_PORT" "$WORK/nginx.paths" "" "${NGINX_WORKERS[@]}"
  bench nginx+peer "$PEER_NGINX_PORT" "$WORK/nginx.paths" "$TOKEN" "${NGINX_WORKERS[@]}" "$PEER_PID"
  bench camvault "$API_PORT" "$WORK/camvault.paths" "$TOKEN" "$CAMVAULT_PID"
  bench go-static "$STATIC_PORT" "$WORK/nginx.paths" "" "$STATIC_PID"
  SUMMARY+=("$(printf '%-4s camvault / nginx: %.3fx req/s, %.1fx CPU per request; camvault / nginx+peer: %.2fx req/s, %.2fx CPU; go-static / nginx: %.1fx CPU' "$run" \
    "$(bc -l <<<"$RPS_camvault / $RPS_nginx")" "$(bc -l <<<"$CPU_camvault / $CPU_nginx")" \
    "$(bc -l <<<"$RPS_camvault / $RPS_nginx_peer")" "$(bc -l <<<"$CPU_camvault / $CPU_nginx_peer")" \
    "$(bc -l <<<"$CPU_go_static / $CPU_nginx")")")
done

echo
echo "summary (CPU in us per request, server side only):"
printf '%-4s %-10s %10s %10s %10s %8s\n' run server "req/s" p50 p99 CPU
printf '%s\n' "${SUMMARY[@]}"

stop_camvault
for pid in "$PEER_PID" "$STATIC_PID"; do kill "$pid" && wait "$pid" 2>/dev/null || true; done
echo
echo "audit entries after the runs (each thumbnail view appends one):"
"$WORK/camvault" admin --data "$WORK/data" audit verify || true
echo "load:   $(cut -d' ' -f1-3 /proc/loadavg)"
