#!/usr/bin/env bash
# The foundation benchmark (not a test): one run of the release binary on loopback,
# measured with wrk (Debian's package). Reports:
#   - requests/s and p99 of GET /api/health and of GET /api/users/me with an API key
#   - p99 of GET /api/health at a steady 200/s, idle and while 16 sign-ins run at once
#     (ratio; aim < 3)
#   - resident memory of an idle `serve`
# Usage: bash bench/run.sh [seconds-per-measurement]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}

command -v wrk >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y wrk >/dev/null; }
command -v wrk >/dev/null || { echo "bench needs wrk: apt-get install -y wrk" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench needs curl" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench needs python3" >&2; exit 1; }

cargo build --release --locked --quiet
bin=target/release/drydock
data=$(mktemp -d /tmp/drydock-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin" --data-dir "$data" serve --port "$port" >"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -fs "$url/api/health" >/dev/null && break; sleep 0.1; done

password=$(cat "$data/initial-admin-password")
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
sleep 2
rss_idle_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

# wrk prints "Requests/sec: N" and, with --latency, " 99%  12.34ms".
to_ms() { awk '{ v=$1; if (v ~ /us$/) { sub(/us$/,"",v); v/=1000 } else if (v ~ /ms$/) { sub(/ms$/,"",v) } else if (v ~ /s$/) { sub(/s$/,"",v); v*=1000 } printf "%.3f", v }'; }
measure() { # connections path [header]
  local out
  local threads=2
  [ "$1" -lt 8 ] && threads=1
  if [ -n "${3:-}" ]; then out=$(wrk -t"$threads" -c"$1" -d"${secs}s" --latency -H "$3" "$url$2"); else out=$(wrk -t"$threads" -c"$1" -d"${secs}s" --latency "$url$2"); fi
  local rps p99 errors
  rps=$(echo "$out" | awk '/Requests\/sec/ {printf "%.0f", $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}' | to_ms)
  errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "$rps $p99 ${errors:-0}"
}

read -r health_rps health_p99 health_err < <(measure 32 /api/health)
read -r me_rps me_p99 me_err < <(measure 32 /api/users/me "X-Octopus-ApiKey: $key")
# Latency as a user sees it: a steady 200 requests/s, idle and then during sign-ins.
read -r idle_p50 idle_p99 idle_n < <(python3 bench/probe.py "$port" /api/health 200 "$secs")

# 16 sign-ins at once, for a little longer than the measurement.
python3 bench/logins.py "$port" "$password" 16 $((secs + 2)) >"$data/logins" &
logins_pid=$!
sleep 1
read -r busy_p50 busy_p99 busy_n < <(python3 bench/probe.py "$port" /api/health 200 "$secs")
wait "$logins_pid"
read -r logins login_failures <"$data/logins"
rss_after_kb=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)

ratio=$(awk -v a="$busy_p99" -v b="$idle_p99" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
cat <<REPORT
drydock foundation benchmark ($(nproc) cores, ${secs}s per measurement, wrk -t2 for throughput, release build)
GET /api/health            32 conns: ${health_rps} req/s, p99 ${health_p99} ms, non-2xx ${health_err}
GET /api/users/me (key)    32 conns: ${me_rps} req/s, p99 ${me_p99} ms, non-2xx ${me_err}
GET /api/health at 200/s, idle:                   p50 ${idle_p50} ms, p99 ${idle_p99} ms (${idle_n} requests)
GET /api/health at 200/s, during 16 sign-ins:     p50 ${busy_p50} ms, p99 ${busy_p99} ms (${busy_n} requests; ${logins} sign-ins done, ${login_failures} failed)
p99 during sign-ins / p99 idle: ${ratio} (aim < 3)
resident memory of serve: idle $((rss_idle_kb / 1024)) MiB (${rss_idle_kb} KiB); after the runs $((rss_after_kb / 1024)) MiB
REPORT
