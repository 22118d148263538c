#!/usr/bin/env bash
# System tasks benchmark (not a test): Retention over 1M completed tasks, and Backup of a
# ~1 GB database, each measured against the same server idle. Release build, one run.
# Usage: bash bench/system.sh [tasks] [log-megabytes]   (defaults 1000000, 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-1000000}
megabytes=${2:-1024}
command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null; }
cargo build --release --locked --quiet
bin=target/release/drydock
data=$(mktemp -d /tmp/drydock-sbench.XXXXXX)
printf 'log_level = "off"\nnode_name = "bench"\nretention_interval_secs = 0\nbackup_interval_secs = 0\nsession_cleanup_interval_secs = 0\nnode_health_interval_secs = 0\n' >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
pid=
start_server() {
  "$bin" --data-dir "$data" serve --port "$port" >>"$data/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && return; sleep 0.05; done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; }
cleanup() { [ -z "$pid" ] || stop_server; rm -rf "$data"; }
trap cleanup EXIT

# Retention: 1M completed tasks, all older than the 30 days kept.
python3 bench/tasks_fill.py "$data/drydock.db" "$tasks" 40 >/dev/null
start_server
retention=$(python3 bench/system.py retention "$port" "$key")
stop_server

# Backup: grow the database to the size asked with task log lines of 200 bytes, then
# back it up under write load.
python3 - "$data/drydock.db" "$megabytes" <<'PY'
import os, sqlite3, sys
path, mb = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(path)
db.execute("INSERT INTO tasks (name, description, state, queue_time, last_updated_time) VALUES ('Deploy', 'log holder', 'Success', 0, 0)")
tid = db.execute("SELECT MAX(id) FROM tasks").fetchone()[0]
line, seq = "x" * 200, 0
while os.path.getsize(path) < mb * 1024 * 1024:
    db.executemany("INSERT INTO task_log (task_id, seq, at, stream, line) VALUES (?, ?, 0, 'stdout', ?)",
                   ((tid, seq + i, line) for i in range(200_000)))
    seq += 200_000
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
size_mb=$(( $(stat -c %s "$data/drydock.db") / 1024 / 1024 ))
start_server
backup=$(python3 bench/system.py backup "$port" "$key")
stop_server

python3 - "$retention" "$backup" "$tasks" "$size_mb" <<'PY'
import json, sys
r, b, tasks, size = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
print("drydock system tasks benchmark (release build, one run)")
print(f"Retention over {int(tasks):,} completed tasks: {r['state']} in {r['seconds']} s, {r['left']} tasks left")
print(f"  GET /api/tasks at 200/s: idle p50 {r['idle_p50']} ms p99 {r['idle_p99']} ms; during Retention p50 {r['busy_p50']} ms p99 {r['busy_p99']} ms ({r['busy_n']} requests) -> p99 ratio {r['busy_p99'] / r['idle_p99']:.2f} (aim < 3)")
print(f"Backup of a {size} MiB database: {b['state']} in {b['seconds']} s")
print(f"  POST /api/deployments: {b['post_without']:.0f} req/s without, {b['post_during']:.0f} req/s during the backup -> ratio {b['post_during'] / b['post_without']:.2f}")
PY
