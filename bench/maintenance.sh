#!/usr/bin/env bash
# Maintenance mode benchmark (not a test): release build, one run, loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null; }
cargo build --release --locked --quiet
bin=target/release/drydock
data=$(mktemp -d /tmp/drydock-mbench.XXXXXX)
printf 'log_level = "off"\nnode_name = "bench"\n' >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
echo "a long password for the bench" | "$bin" --data-dir "$data" user create --username writer --password-stdin --role "System Manager" >/dev/null
writer=$("$bin" --data-dir "$data" apikey create --username writer --purpose bench | tail -n 1)
"$bin" --data-dir "$data" serve --port "$port" >"$data/serve.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.05; done
result=$(python3 bench/maintenance.py "$port" "$admin" "$writer")
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print("drydock maintenance mode benchmark (release build, one run, wrk -t2 -c8)")
print(f"refused POST /api/deployments in maintenance: {r['refused']:.0f} req/s ({r['refused_non2xx']} refusals) vs GET /api/health {r['health']:.0f} req/s -> ratio {r['refused'] / r['health']:.2f} (aim >= 0.5)")
print(f"allowed POST /api/deployments with the mode check (non-administrator) {r['checked']:.0f} req/s vs without it (administrator) {r['unchecked']:.0f} req/s -> ratio {r['checked'] / r['unchecked']:.3f} (aim >= 0.95)")
print(f"last task's end to IsQuiet: true: {r['quiet_ms']:.0f} ms (aim < 100 ms; millisecond timestamps)")
PY
