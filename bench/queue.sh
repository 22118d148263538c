#!/usr/bin/env bash
# The task queue benchmark (not a test): release build, one run, loopback.
# Usage: bash bench/queue.sh [deployments]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
cap=5
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null; }
command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --locked --quiet
bin=target/release/drydock
data=$(mktemp -d /tmp/drydock-qbench.XXXXXX)
printf 'task_cap = %s\nlog_level = "off"\nnode_name = "bench"\n' "$cap" >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
start_server() {
  "$bin" --data-dir "$data" serve --port "$port" >>"$data/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && return; sleep 0.05; done
  echo "server did not start" >&2; exit 1
}
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT

start_server
run=$(python3 bench/queue_bench.py "$port" "$key" "$data" "$pid" "$count" "$cap")
kill "$pid"; wait "$pid" 2>/dev/null || true
# Both list probes on the same mix of states (8 Success : 1 Failed : 1 Canceled), so a
# filter finds a full page in both: first 30,000 tasks, then 1,000,000.
small_total=$(python3 bench/tasks_fill.py "$data/drydock.db" 30000)
start_server
small=$(python3 bench/list_probe.py "$port" "$key")
kill "$pid"; wait "$pid" 2>/dev/null || true
python3 bench/tasks_fill.py "$data/drydock.db" 1000000 >/dev/null
start_server
big=$(python3 bench/list_probe.py "$port" "$key")

python3 - "$run" "$big" "$cap" "$small" "$small_total" <<'PY'
import json, sys
run, big, cap = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
run["small"], run["small_total"] = json.loads(sys.argv[4]), int(sys.argv[5])
print(f"drydock queue benchmark (task cap {cap}, release build, one run)")
print(f"queue-to-start into free slots (200 tasks): p50 {run['latency_p50_ms']:.0f} ms, p99 {run['latency_p99_ms']:.0f} ms  (aim: < 5 ms, < 50 ms; millisecond timestamps)")
print(f"{run['deployments']} deployments of `true`: {run['elapsed_s']} s ({run['posted_s']} s to post them), {run['tasks_per_s']} tasks/s, {run['failed']} not successful")
print(f"bare `bash -c true` x {run['deployments']} at concurrency {cap}: {run['bare_per_s']} /s -> drydock / bare = {run['ratio_to_bare']} (aim >= 0.5)")
print(f"POST /api/deployments {run['post_rps']:.0f} req/s (non-2xx {run['post_non2xx']}) vs GET /api/health {run['health_rps']:.0f} req/s -> ratio {run['post_to_health']}")
print(f"resident memory during the run: max {run['rss_max_kb'] // 1024} MiB")
print(f"task lists, p50/p99 ms, with {run['small_total']} tasks vs 1,000,000 tasks:")
for path, (p50, p99) in run["small"].items():
    b50, b99 = big[path]
    print(f"  {path:28} {p50:7.2f} / {p99:7.2f}   vs {b50:7.2f} / {b99:7.2f}   p99 ratio {b99 / p99:.2f} (aim < 1.5)")
PY
