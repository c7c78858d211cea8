#!/usr/bin/env bash
# perfbook load beside wrk, hey, ab and Locust (FastHttpUser) against one local nginx.
#
# nginx (one worker, tiny body) is pinned to core SERVER_CPU, every client to CLIENT_CPU;
# 50 connections, keep-alive, the same duration each. Prints requests/s and client CPU µs per
# request (user + sys from the OS), perfbook's ratios to each peer, then two accuracy checks:
# p50 against a fixed 50 ms server, and the achieved rate of --rate up to 10,000 rps.
# Installs what is missing (Debian: nginx wrk hey apache2-utils; PyPI: locust in its own venv);
# a peer that cannot be installed is skipped and named. Only 127.0.0.1 is ever loaded.
#
# Usage: bench/load_vs_peers.sh     (env: DURATION=10 CONNECTIONS=50 SERVER_CPU=0 CLIENT_CPU=1 REPEAT=1)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PY:-$ROOT/.venv/bin/python}
WORK=${WORK:-/tmp/perfbook-bench}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18089}
DELAY_PORT=${DELAY_PORT:-18090}
mkdir -p "$WORK/nginx"

install_peers() {
    local missing=()
    command -v nginx >/dev/null || missing+=(nginx)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v hey >/dev/null || missing+=(hey)
    command -v ab >/dev/null || missing+=(apache2-utils)
    if ((${#missing[@]})); then
        apt-get update -qq || true
        for pkg in "${missing[@]}"; do
            if apt-cache policy "$pkg" | grep -q 'Candidate: [0-9]'; then
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
            else
                echo "peer $pkg: no Debian package here, skipped"
            fi
        done
    fi
    if [ ! -x "$WORK/locust-venv/bin/locust" ]; then
        python3 -m venv "$WORK/locust-venv" && "$WORK/locust-venv/bin/pip" install -q locust \
            || echo "peer locust: could not be installed, skipped"
    fi
}

start_nginx() {
    cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path $WORK/nginx; proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  server { listen 127.0.0.1:$PORT; location / { default_type text/plain; return 200 "ok\n"; } }
}
CONF
    taskset -c "$SERVER_CPU" nginx -c "$WORK/nginx/nginx.conf"
}

cleanup() {
    [ -f "$WORK/nginx/nginx.pid" ] && kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null || true
    [ -n "${DELAY_PID:-}" ] && kill "$DELAY_PID" 2>/dev/null || true
}
trap cleanup EXIT

install_peers
start_nginx
taskset -c "$SERVER_CPU" "$PY" "$ROOT/bench/load_delay_server.py" "$DELAY_PORT" 0.05 &
DELAY_PID=$!
sleep 1
echo "server: nginx $(nginx -v 2>&1 | sed 's/.*\///') on core $SERVER_CPU; clients on core $CLIENT_CPU;" \
     "$CONNECTIONS connections, keep-alive, ${DURATION}s each; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$PY" "$ROOT/bench/load_bench.py" "http://127.0.0.1:$PORT/" "$DURATION" "$CONNECTIONS" "$CLIENT_CPU" "$WORK" \
      "http://127.0.0.1:$DELAY_PORT/"
