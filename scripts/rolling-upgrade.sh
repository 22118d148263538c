#!/usr/bin/env bash
# Rolls a patch release through a drydock cluster, one node at a time, while the others
# serve: drain it, wait until it runs no task, stop it, swap its binary, start it, wait
# for /api/health, undrain it. For releases whose pending migrations are all compatible
# (`drydock database pending` with the new binary says so); for others use the
# maintenance-window procedure (docs/upgrades.md).
#
# Usage:
#   DRYDOCK_API_KEY=API-... \
#   STOP='systemctl stop drydock@{node}' \
#   START='cp /opt/new/drydock /usr/local/bin/drydock && systemctl start drydock@{node}' \
#   bash scripts/rolling-upgrade.sh node-1=http://10.0.0.1:8080 node-2=http://10.0.0.2:8080 ...
#
# {node} in STOP and START is replaced by the node's name. STOP must return once the
# node has exited (drydock stops gracefully on SIGTERM); START must start it in the
# background. WAIT_SECS bounds each wait (default 600).
set -euo pipefail
: "${DRYDOCK_API_KEY:?set DRYDOCK_API_KEY to the API key of an administrator}"
: "${STOP:?set STOP to the command that stops a node, with the placeholder for its name}"
: "${START:?set START to the command that starts a node with the new binary}"
wait_secs=${WAIT_SECS:-600}
[ "$#" -ge 1 ] || { echo "usage: $0 NAME=URL [NAME=URL ...]" >&2; exit 2; }

api() { # METHOD URL [BODY]
  curl -fsS -X "$1" -H "X-Octopus-ApiKey: $DRYDOCK_API_KEY" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} "$2"
}

# Another node's URL: the API calls about a node go through one that stays up.
other() {
  local me=$1 pair
  for pair in "${nodes[@]}"; do
    [ "${pair%%=*}" != "$me" ] && { echo "${pair#*=}"; return; }
  done
  echo ""
}

set_drain() { # NAME ON URL
  local cap
  cap=$(api GET "$3/api/octopusservernodes/OctopusServerNodes-$1" \
    | grep -o '"MaxConcurrentTasks": *[0-9]*' | grep -o '[0-9]*$')
  api PUT "$3/api/octopusservernodes/OctopusServerNodes-$1" \
    "{\"IsInMaintenanceMode\": $2, \"MaxConcurrentTasks\": ${cap:-5}}" >/dev/null
}

nodes=("$@")
placeholder='{node}'
for pair in "${nodes[@]}"; do
  name=${pair%%=*}
  url=${pair#*=}
  via=$(other "$name")
  via=${via:-$url}
  echo "== $name: draining"
  set_drain "$name" true "$via"
  deadline=$((SECONDS + wait_secs))
  until api GET "$via/api/octopusservernodes/OctopusServerNodes-$name" \
      | grep -q '"RunningTaskCount": *0[,}]'; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "$name still runs tasks after ${wait_secs}s" >&2; exit 1; }
    sleep 1
  done
  echo "== $name: stopping"
  sh -c "${STOP//"$placeholder"/$name}"
  echo "== $name: starting the new binary"
  sh -c "${START//"$placeholder"/$name}"
  deadline=$((SECONDS + wait_secs))
  until curl -fsS "$url/api/health" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "$name did not come back after ${wait_secs}s" >&2; exit 1; }
    sleep 0.5
  done
  echo "== $name: undraining"
  set_drain "$name" false "$url"
done
echo "== every node upgraded"
