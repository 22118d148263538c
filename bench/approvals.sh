#!/usr/bin/env bash
# What deployments waiting for an approval cost the queue (not a test): the claim query
# and the drain at task cap 1 with 10,000 waiting against none, as ratios in one run;
# see bench/approvals.py. Usage: bash bench/approvals.sh [tasks-per-drain] [query-reps]
# [waiting] (default 1000, 2000, 10000). AS_USER=nobody (as root): see bench/serve.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000}
reps=${2:-2000}
waiting=${3:-10000}
config=$'node_name = "bench"\n'
# shellcheck source=bench/serve.sh
. bench/serve.sh
run=$(cd bench && python3 approvals.py "$port" "$key" "$data" "$bin" "$count" "$reps" "$waiting")
python3 - "$run" "$waiting" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
w = sys.argv[2]
print(f"drydock approvals' cost to the queue (release build, one run; {w} deployments waiting vs none)")
q = r["query_us"]
print(f"claim query (5 of 200 claimable): none {q['none']:.1f} us, {w} waiting {q['waiting']:.1f} us -> ratio {r['query_ratio']:.2f}")
print(f"  the same on the queue index instead of tasks_claim: none {q['none_before']:.1f} us, waiting {q['waiting_before']:.1f} us -> ratio {r['before_ratio']:.2f}")
d = r["drain_per_s"]
print(f"drain at cap 1: none {', '.join(f'{x:.1f}' for x in d['none'])}/s; {w} waiting "
      f"{', '.join(f'{x:.1f}' for x in d['waiting'])}/s -> ratio {r['drain_ratio']:.2f}")
PY
