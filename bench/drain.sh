#!/usr/bin/env bash
# The queue drain benchmark (not a test): release build, one run. Pre-queued
# deployments of `true` drained at task cap 1, 5 and 10, as a ratio of a bare loop
# spawning `bash -c true` at the same concurrency; see bench/drain.py.
# Usage: bash bench/drain.sh [deployments-per-cap] [caps]   (default 5000, 1,5,10)
# With PERF=1, `perf record -g` samples the server during the run (perf.data in the
# data directory, kept and named at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
caps=${2:-1,5,10}
cargo build --release --locked --quiet
bin=$PWD/target/release/drydock
data=$(mktemp -d /tmp/drydock-bench.XXXXXX)
printf 'log_level = "off"\nnode_name = "bench"\n' >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
# AS_USER=nobody (as root): the server runs as that user, so scripts start without
# `setpriv` — drydock's own cost per task, apart from the switch of user.
as=()
if [ -n "${AS_USER:-}" ]; then
  chown -R "$AS_USER" "$data"
  work=$(mktemp -d /tmp/drydock-bench.XXXXXX); rmdir "$work"; mkdir -m 0711 "$work"; chown "$AS_USER" "$work"
  printf 'work_dir = "%s"\n' "$work" >>"$data/drydock.toml"
  as=(setpriv --reuid="$AS_USER" --regid="$(id -g "$AS_USER")" --clear-groups --)
fi
"${as[@]}" "$bin" --data-dir "$data" serve --port "$port" >"$data/serve.log" 2>&1 &
pid=$!
keep=""
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [ -n "$keep" ] || rm -rf "$data" ${work:+"$work"}' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
if [ "${PERF:-}" = 1 ]; then
  perf record ${PERF_ARGS:--g} -p "$pid" -o "$data/perf.data" >/dev/null 2>&1 &
  perf_pid=$!
fi
run=$(cd bench && python3 drain.py "$port" "$key" "$data" "$bin" "$count" "$caps")
if [ "${PERF:-}" = 1 ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; keep=1; echo "profile: $data/perf.data"; fi
python3 - "$run" <<'PY'
import json, sys
print("drydock queue drain (pre-queued deployments of `true`, release build, one run)")
for r in json.loads(sys.argv[1]):
    line = (f"cap {r['cap']:2}: {r['tasks']} tasks ({r['succeeded']} succeeded) in {r['seconds']:.2f} s = "
            f"{r['per_s']:7.1f}/s; bare `bash -c true` {r['bare_per_s']:7.1f}/s -> ratio {r['ratio']:.2f} (aim >= 0.85 at cap 5)")
    if "ratio_setpriv" in r:
        line += f"; through setpriv {r['bare_setpriv_per_s']:7.1f}/s -> {r['ratio_setpriv']:.2f}"
    print(line)
PY
