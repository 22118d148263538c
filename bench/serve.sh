# Sourced by benchmarks: starts the release `drydock serve` on a fresh data directory.
# In: $config (extra drydock.toml lines, may be empty). Out: $bin, $data, $port, $key
# (an administrator's API key), $pid; the server and its directories go at exit unless
# $keep is set. AS_USER=nobody (as root) runs the server as that user, so scripts start
# without `setpriv`: drydock's own cost per task, apart from the switch of user.
# BIN=path runs that binary instead of building (e.g. one built with frame pointers
# for `perf`: see bench/RESULTS.md).
if [ -n "${BIN:-}" ]; then bin=$(realpath "$BIN"); else
  cargo build --release --locked --quiet
  bin=$PWD/target/release/drydock
fi
data=$(mktemp -d /tmp/drydock-bench.XXXXXX)
printf 'log_level = "off"\n%s' "${config:-}" >"$data/drydock.toml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=$("$bin" --data-dir "$data" apikey create --username admin --purpose bench | tail -n 1)
as=()
work=""
if [ -n "${AS_USER:-}" ]; then
  work=$(mktemp -d /tmp/drydock-bench.XXXXXX); rmdir "$work"; mkdir -m 0711 "$work"
  chown -R "$AS_USER" "$data" "$work"
  printf 'work_dir = "%s"\n' "$work" >>"$data/drydock.toml"
  as=(setpriv --reuid="$AS_USER" --regid="$(id -g "$AS_USER")" --clear-groups --)
fi
"${as[@]}" "$bin" --data-dir "$data" serve --port "$port" >"$data/serve.log" 2>&1 &
pid=$!
keep=""
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; [ -n "$keep" ] || rm -rf "$data" ${work:+"$work"}' EXIT
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/api/health" >/dev/null && break; sleep 0.1; done
