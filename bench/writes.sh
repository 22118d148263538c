#!/usr/bin/env bash
# Write cost (not a test): sequential POSTs on one keep-alive connection against the
# release binary; see bench/writes.py. Usage: bash bench/writes.sh [requests-each]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
cargo build --release --locked --quiet
bin=target/release/drydock
data=$(mktemp -d /tmp/drydock-bench.XXXXXX)
printf 'log_level = "off"\n' >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
# AS_USER=nobody (as root): the server runs as that user, so scripts start without
# `setpriv` (as in bench/drain.sh).
as=()
if [ -n "${AS_USER:-}" ]; then
  work=$(mktemp -d /tmp/drydock-bench.XXXXXX); rmdir "$work"; mkdir -m 0711 "$work"
  chown -R "$AS_USER" "$data" "$work"
  printf 'work_dir = "%s"\n' "$work" >>"$data/drydock.toml"
  as=(setpriv --reuid="$AS_USER" --regid="$(id -g "$AS_USER")" --clear-groups --)
fi
"${as[@]}" "$bin" --data-dir "$data" serve --port "$port" >"$data/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" ${work:+"$work"}' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
cd bench && python3 writes.py "$port" "$key" "$n"
