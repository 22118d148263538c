#!/usr/bin/env bash
# The cluster benchmark (not a test): release build, one run, nodes on loopback sharing
# one database: SQLite (one data directory), then PostgreSQL (a throw-away server from
# scripts/postgres.sh, a data directory per node as if on several hosts).
# PostgreSQL runs connect with sslmode=disable, then once more (1 node, "pg-tls") with
# sslmode=require to the same server (ssl=on) for what TLS costs.
# Usage: bash bench/cluster.sh [deployments]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
cargo build --release --locked --quiet
bin=$PWD/target/release/drydock
pids=()
dirs=()
source scripts/postgres.sh
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; for d in "${dirs[@]}"; do rm -rf "$d"; done; stop_postgres' EXIT
backend=sqlite
databases=0

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_cluster N: a fresh data directory with N nodes; sets data, key, ports, pids.
start_cluster() {
  data=$(mktemp -d /tmp/drydock-cbench.XXXXXX)
  dirs+=("$data")
  printf 'task_cap = 5\nlog_level = "off"\n' >"$data/drydock.toml"
  if [ "$backend" != sqlite ]; then
    databases=$((databases + 1))
    local name="drydock_bench_$databases"
    python3 - "$DRYDOCK_TEST_POSTGRES" "$name" <<'PY'
import subprocess, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
subprocess.run(["psql", "-h", u.hostname, "-p", str(u.port), "-U", u.username, "-d", u.path[1:],
                "-qc", f"CREATE DATABASE {sys.argv[2]}"], check=True)
PY
    local sslmode=disable
    [ "$backend" = pg-tls ] && sslmode=require
    echo "database_url = \"${DRYDOCK_TEST_POSTGRES%/*}/$name?sslmode=$sslmode\"" >>"$data/drydock.toml"
  fi
  key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
  ports=""
  pids=()
  for n in $(seq 1 "$1"); do
    port=$(free_port)
    node_dir=$data
    if [ "$backend" != sqlite ]; then
      # A data directory of its own, as on a host of its own.
      node_dir=$data/host-$n
      mkdir -p "$node_dir"
      cp "$data/drydock.toml" "$node_dir/"
    fi
    "$bin" --data-dir "$node_dir" serve --port "$port" --node-name "node-$n" >>"$data/node-$n.log" 2>&1 &
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
pickups=()
busy_lines=""
for backend in sqlite postgres pg-tls; do
  if [ "$backend" = postgres ]; then
    start_postgres
  fi
  node_counts="1 2 3"
  [ "$backend" = pg-tls ] && node_counts=1
  for nodes in $node_counts; do
    start_cluster "$nodes"
    results+=("$backend $(python3 bench/cluster.py throughput "$ports" "$key" "$count")")
    busy_lines+="$(stop_cluster)"$'\n'
  done
  [ "$backend" = pg-tls ] && continue
  start_cluster 2
  pickups+=("$backend $(python3 bench/cluster.py pickup "$ports" "$key" 200)")
  stop_cluster >/dev/null
done

python3 - "$busy_lines" "${#pickups[@]}" "${pickups[@]}" "${results[@]}" <<'PY'
import json, re, sys
busy, n = sys.argv[1], int(sys.argv[2])
split = lambda a: (a.split(" ", 1)[0], json.loads(a.split(" ", 1)[1]))
pickups = [split(a) for a in sys.argv[3:3 + n]]
runs = [split(a) for a in sys.argv[3 + n:]]
print("drydock cluster benchmark (task cap 5 per node, release build, one run, one machine;")
print("PostgreSQL nodes each with a data directory of their own, as on several hosts)")
base = runs[0][1]["tasks_per_s"]
posts = {}
for backend, r in runs:
    posts.setdefault(backend, r["posts_per_s"]) if r["nodes"] == 1 else None
    print(f"{backend:8} {r['nodes']} node(s): {r['deployments']} deployments of `true` in {r['elapsed_s']} s "
          f"({r['posted_s']} s to post) = {r['tasks_per_s']} tasks/s, ratio to 1 node on SQLite {r['tasks_per_s'] / base:.2f}; "
          f"per node {r['per_node']}; states {r['states']}; client errors {len(r['errors'])}")
for backend, p in pickups:
    print(f"{backend:8} cross-node pickup (queued on drained {p['drained']}, run by {p['nodes']}), {p['samples']} samples: "
          f"p50 {p['p50_ms']} ms, p99 {p['p99_ms']} ms, max {p['max_ms']} ms")
for backend, rate in posts.items():
    print(f"{backend:8} POST /api/deployments with 1 node, 4 clients: {rate} req/s "
          f"(ratio to SQLite {rate / posts['sqlite']:.2f})")
tls = [r for b, r in runs if b == "pg-tls"]
plain = [r for b, r in runs if b == "postgres" and r["nodes"] == 1]
if tls and plain:
    print(f"TLS to PostgreSQL (sslmode=require), 1 node: tasks/s ratio to sslmode=disable "
          f"{tls[0]['tasks_per_s'] / plain[0]['tasks_per_s']:.2f}, POST req/s ratio "
          f"{tls[0]['posts_per_s'] / plain[0]['posts_per_s']:.2f}")
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
