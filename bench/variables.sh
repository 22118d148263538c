#!/usr/bin/env bash
# What variables cost (not a test): a deployment POST and the drain of deployments of
# `true` at task cap 1, with 50 variables against none, as ratios in one run; see
# bench/variables.py. Usage: bash bench/variables.sh [posts-each] [tasks-per-drain]
# (default 500, 1000). AS_USER=nobody (as root): see bench/serve.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
count=${2:-1000}
config=$'node_name = "bench"\n'
# shellcheck source=bench/serve.sh
. bench/serve.sh
run=$(cd bench && python3 variables.py "$port" "$key" "$data" "$bin" "$n" "$count")
python3 - "$run" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print("drydock variables' cost (release build, one run; 50 variables: 10 sensitive, 20 from library sets, 5 substituted)")
p = r["post_ms"]
print(f"POST /api/deployments (scheduled): none {p['none'][0]:.3f} ms mean ({p['none'][1]:.3f} p50); "
      f"50 variables {p['variables'][0]:.3f} ms ({p['variables'][1]:.3f}) -> ratio {r['post_ratio']:.2f}")
d = r["drain_per_s"]
print(f"drain at cap 1: none {', '.join(f'{x:.1f}' for x in d['none'])}/s; 50 variables "
      f"{', '.join(f'{x:.1f}' for x in d['variables'])}/s -> ratio {r['drain_ratio']:.2f}")
PY
