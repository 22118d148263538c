#!/usr/bin/env bash
# What notifications cost and how fast they arrive (not a test): POST /api/deployments
# with a slow webhook receiver against none, and events per second with event-to-
# receipt latency to a fast one; see bench/webhooks.py.
# Usage: bash bench/webhooks.sh [events] [rounds-of-50-posts] [paced-rate]
# (default 1000, 6, 100).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
rounds=${2:-6}
rate=${3:-100}
config=$'node_name = "bench"\nwebhook_allow_private = true\n'
# shellcheck source=bench/serve.sh
. bench/serve.sh
run=$(cd bench && python3 webhooks.py "$port" "$key" "$n" "$rounds" "$rate")
python3 - "$run" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print("drydock notifications (release build, one run)")
p = r["post_ms"]
print(f"POST /api/deployments mean/p50/p99: no subscription {p['none'][0]:.3f}/{p['none'][1]:.3f}/{p['none'][2]:.3f} ms; "
      f"a 2 s receiver {p['slow'][0]:.3f}/{p['slow'][1]:.3f}/{p['slow'][2]:.3f} ms -> ratio {r['post_ratio']:.2f}")
for kind in ("paced", "burst"):
    k = r[kind]
    what = f"paced at {r['rate']:.0f}/s" if kind == "paced" else "as fast as 4 clients can"
    print(f"{k['events']} events {what}: received at {k['per_s']}/s; event to receipt p50 {k['p50_ms']} ms, p99 {k['p99_ms']} ms")
PY
