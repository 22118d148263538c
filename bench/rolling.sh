#!/usr/bin/env bash
# The rolling-upgrade procedure run once against three nodes under load (not a test):
# three nodes on one SQLite data directory, deployments posted throughout by
# bench/rolling.py, and scripts/rolling-upgrade.sh replacing each node's binary with a
# "new" one in turn (a copy of this build: a patch release with no migrations, as
# `drydock database pending` reports). Prints the script's steps and the load's JSON:
# every accepted deployment must end in Success.
# Usage: bash bench/rolling.sh [debug|release]   (default debug)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:-debug}
if [ "$profile" = release ]; then cargo build --release --locked --quiet; else cargo build --locked --quiet; fi
built=$PWD/target/$profile/drydock
work=$(mktemp -d /tmp/drydock-rolling.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; pkill -9 -f "$work/bin" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/new" "$work/data"
cp "$built" "$work/bin/drydock"
cp "$built" "$work/new/drydock"
data=$work/data
printf 'task_cap = 3\nlog_level = "off"\nheartbeat_secs = 2\n' >"$data/drydock.toml"
key=$("$work/bin/drydock" --data-dir "$data" apikey create --username admin --purpose rolling | tail -n 1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_node() { # NAME PORT
  "$work/bin/drydock" --data-dir "$data" serve --port "$2" --node-name "$1" >>"$work/$1.log" 2>&1 &
  echo $! >"$work/$1.pid"
}
ports=()
args=()
for n in 1 2 3; do
  port=$(free_port)
  start_node "node-$n" "$port"
  pids+=("$(cat "$work/node-$n.pid")")
  ports+=("$port")
  args+=("node-$n=http://127.0.0.1:$port")
  echo "node-$n:$port" >>"$work/ports"
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.05; done
done
echo "== pending migrations of the new binary:"
"$work/new/drydock" --data-dir "$data" database pending
IFS=, ; port_list="${ports[*]}"; unset IFS
python3 bench/rolling.py "$port_list" "$key" "$work/stop" >"$work/load.json" &
load=$!
sleep 3
export DRYDOCK_API_KEY=$key WAIT_SECS=120
export STOP="kill -TERM \$(cat $work/{node}.pid); while kill -0 \$(cat $work/{node}.pid) 2>/dev/null; do sleep 0.1; done"
export START="cp $work/new/drydock $work/bin/drydock.next && mv $work/bin/drydock.next $work/bin/drydock && port=\$(grep '^{node}:' $work/ports | cut -d: -f2) && ($work/bin/drydock --data-dir $data serve --port \$port --node-name {node} >>$work/{node}.log 2>&1 & echo \$! >$work/{node}.pid)"
started=$SECONDS
bash scripts/rolling-upgrade.sh "${args[@]}"
echo "== rolled through 3 nodes in $((SECONDS - started)) s under load"
sleep 3
touch "$work/stop"
wait "$load"
echo "== load:"
cat "$work/load.json"
