#!/usr/bin/env bash
# The cluster benchmark (not a test): release build, one run, nodes on loopback sharing
# one data directory.
# Usage: bash bench/cluster.sh [deployments]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
cargo build --release --locked --quiet
bin=$PWD/target/release/drydock
pids=()
dirs=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; for d in "${dirs[@]}"; do rm -rf "$d"; done' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_cluster N: a fresh data directory with N nodes; sets data, key, ports, pids.
start_cluster() {
  data=$(mktemp -d /tmp/drydock-cbench.XXXXXX)
  dirs+=("$data")
  printf 'task_cap = 5\nlog_level = "off"\n' >"$data/drydock.toml"
  key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
  ports=""
  pids=()
  for n in $(seq 1 "$1"); do
    port=$(free_port)
    "$bin" --data-dir "$data" serve --port "$port" --node-name "node-$n" >>"$data/node-$n.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.05; done
    ports="${ports:+$ports,}$port"
  done
}

# stop_cluster: SIGTERM every node; each prints its SQLITE_BUSY counts as it stops.
stop_cluster() {
  for p in "${pids[@]}"; do kill -TERM "$p"; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  cat "$data"/node-*.log | grep "write transactions" || true
}

results=()
busy_lines=""
for nodes in 1 2 3; do
  start_cluster "$nodes"
  results+=("$(python3 bench/cluster.py throughput "$ports" "$key" "$data/drydock.db" "$count")")
  busy_lines+="$(stop_cluster)"$'\n'
done
start_cluster 2
pickup=$(python3 bench/cluster.py pickup "$ports" "$key" "$data/drydock.db" 200)
stop_cluster >/dev/null

python3 - "$pickup" "$busy_lines" "${results[@]}" <<'PY'
import json, re, sys
pickup, busy, runs = json.loads(sys.argv[1]), sys.argv[2], [json.loads(r) for r in sys.argv[3:]]
print("drydock cluster benchmark (task cap 5 per node, release build, one run, one host)")
base = runs[0]["tasks_per_s"]
for r in runs:
    print(f"{r['nodes']} node(s): {r['deployments']} deployments of `true` in {r['elapsed_s']} s "
          f"({r['posted_s']} s to post) = {r['tasks_per_s']} tasks/s, ratio to 1 node {r['tasks_per_s'] / base:.2f}; "
          f"per node {r['per_node']}; states {r['states']}; client errors {len(r['errors'])}")
print(f"cross-node pickup (queued on drained {pickup['drained']}, run by {pickup['nodes']}), {pickup['samples']} samples: "
      f"p50 {pickup['p50_ms']} ms, p99 {pickup['p99_ms']} ms, max {pickup['max_ms']} ms (aim < 1000 ms)")
writes = waited = retries = gave_up = 0
for line in busy.splitlines():
    m = re.search(r"(\d+) write transactions, (\d+) waited .*?, (\d+) retries, (\d+) gave up", line)
    if m:
        w, wt, r, g = map(int, m.groups())
        writes, waited, retries, gave_up = writes + w, waited + wt, retries + r, gave_up + g
if writes:
    print(f"SQLITE_BUSY over the throughput runs: {waited} of {writes} write transactions waited for another node's lock "
          f"({100 * waited / writes:.2f}%), {retries} retries, {gave_up} gave up")
PY
