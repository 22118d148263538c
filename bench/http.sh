#!/usr/bin/env bash
# The HTTP ceiling (not a test): requests/s of drydock's GET /api/health and GET
# /api/users/me (API key) as ratios of a bare Rocket hello-world route
# (examples/hello_rocket.rs, same Rocket, same machine, same run), wrk -t2 -c32.
# Issue 16 aims: health >= 0.7, users/me >= 0.5. Usage: bash bench/http.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null; }
command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 1; }
cargo build --release --locked --quiet
cargo build --release --locked --quiet --example hello_rocket
bin=target/release/drydock
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
data=$(mktemp -d /tmp/drydock-bench.XXXXXX)
printf 'log_level = "off"\n' >"$data/drydock.toml"
port=$(free_port); hello_port=$(free_port)
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
"$bin" --data-dir "$data" serve --port "$port" >"$data/serve.log" 2>&1 &
pid=$!
target/release/examples/hello_rocket "$hello_port" >"$data/hello.log" 2>&1 &
hello=$!
trap 'kill $pid $hello 2>/dev/null; wait $pid $hello 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && curl -fs "http://127.0.0.1:$hello_port/hello" >/dev/null && break; sleep 0.1; done
rps() { # url [header]
  if [ -n "${2:-}" ]; then wrk -t2 -c32 -d"${secs}s" -H "$2" "$1"; else wrk -t2 -c32 -d"${secs}s" "$1"; fi |
    awk '/Requests\/sec/ {print $2}'
}
bare=$(rps "http://127.0.0.1:$hello_port/hello")
health=$(rps "http://127.0.0.1:$port/api/health")
me=$(rps "http://127.0.0.1:$port/api/users/me" "X-Octopus-ApiKey: $key")
python3 - "$bare" "$health" "$me" <<'PY'
import sys
bare, health, me = map(float, sys.argv[1:])
print(f"bare Rocket hello-world      {bare:9.0f} req/s")
print(f"GET /api/health              {health:9.0f} req/s  ratio {health / bare:.2f} (aim >= 0.7)")
print(f"GET /api/users/me (API key)  {me:9.0f} req/s  ratio {me / bare:.2f} (aim >= 0.5)")
PY
