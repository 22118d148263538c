#!/usr/bin/env bash
# The 60-second mixed load (not a test): release build, one run, loopback.
# Page views, API reads and deployments as a Project Deployer; maintenance mode toggled
# on and off every 10 s by an administrator. Reports requests/s, latency, errors (must
# be 0 apart from maintenance refusals), resident memory (idle; after a 10 s warm-up =
# start; end; growth start -> end must stay within 20%).
# Usage: bash bench/load.sh [seconds]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
cargo build --release --locked --quiet
bin=$PWD/target/release/drydock
data=$(mktemp -d /tmp/drydock-load.XXXXXX)
printf 'log_level = "off"\n%s' "${EXTRA_CONFIG:-}" >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin_key=$("$bin" --data-dir "$data" apikey create --username admin --purpose load | tail -n 1)
password="load test password 1"
printf '%s\n' "$password" | "$bin" --data-dir "$data" user create --username loaddeployer --password-stdin --role "Project Deployer" >/dev/null
deployer_key=$("$bin" --data-dir "$data" apikey create --username loaddeployer --purpose load | tail -n 1)
"$bin" --data-dir "$data" serve --port "$port" >>"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.05; done
sleep 1

result=$(python3 bench/load.py "$port" "$admin_key" "$deployer_key" "$password" "$secs" "$pid")
python3 - "$result" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"drydock mixed load ({r['seconds']} s, release build, one run, 3 processes x 4 threads, keep-alive)")
print(f"{r['requests']} requests, {r['rps']} req/s; latency p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms")
for kind, v in r["per_kind"].items():
    print(f"  {kind:9} {v['n']:7} requests  p50 {v['p50_ms']:7.2f} ms  p99 {v['p99_ms']:7.2f} ms")
print(f"statuses: {r['statuses']}")
print(f"maintenance toggled {r['toggles']} times; errors (other than maintenance refusals): {r['errors']} {r['error_samples']}")
growth = r["rss_end_kb"] / r["rss_start_kb"]
print(f"resident memory: idle {r['rss_idle_kb'] // 1024} MiB, after warm-up {r['rss_start_kb'] / 1024:.1f} MiB, "
      f"end {r['rss_end_kb'] / 1024:.1f} MiB (max {r['rss_max_kb'] / 1024:.1f}), {r['settle_s']} s later {r['rss_settled_kb'] / 1024:.1f} MiB -> growth {growth:.2f}x (limit 1.20x)")
b = r["settled"]
print(f"  {r['settle_s']} s later: anonymous {b['anon_kb'] / 1024:.1f} MiB, file-backed (the binary, libraries) {b['file_kb'] / 1024:.1f} MiB, {b['threads']} threads")
ok = r["errors"] == 0 and growth <= 1.2
print("PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
