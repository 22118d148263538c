#!/usr/bin/env bash
# The queue drain benchmark (not a test): release build, one run. Pre-queued
# deployments of `true` drained at task cap 1, 5 and 10, as a ratio of a bare loop
# spawning `bash -c true` at the same concurrency; see bench/drain.py.
# Usage: bash bench/drain.sh [deployments-per-cap] [caps]   (default 5000, 1,5,10)
# AS_USER=nobody (as root): see bench/serve.sh. With PERF=1, `perf record -g` samples
# the server during the run (perf.data in the data directory, kept and named at the end).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
caps=${2:-1,5,10}
config=$'node_name = "bench"\n'
# shellcheck source=bench/serve.sh
. bench/serve.sh
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
