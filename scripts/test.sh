#!/usr/bin/env bash
# Runs every drydock test: unit, HTTP (Rocket's local client), the real binary, and the
# browser tests (headless Chromium), and Octopus's own TypeScript client (Node). Installs
# Chromium, ChromeDriver, curl, Node.js and npm first if they are missing and we are root
# (as in CI), and starts a throw-away PostgreSQL; extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! command -v curl >/dev/null \
  || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update
    packages="chromium chromium-driver curl"
    # Node from Debian only if there is none at all (a newer one may be installed otherwise).
    command -v node >/dev/null || packages="$packages nodejs"
    command -v npm >/dev/null || packages="$packages npm"
    apt-get install -y $packages
  else
    echo "The browser tests need Debian's chromium and chromium-driver, the README test curl," >&2
    echo "the Octopus client test Node.js and npm:" >&2
    echo "  sudo apt-get install -y chromium chromium-driver curl nodejs npm" >&2
    exit 1
  fi
fi

# PostgreSQL, the second database backend: Debian's postgresql (installed when missing
# and we are root), a throw-away cluster in a temporary directory on 127.0.0.1 and a
# free port, stopped at the end. The tests read its address from
# DRYDOCK_TEST_POSTGRES (set it to use a server of your own instead).
pg_dir=""
pg_ctl=""
if [ -z "${DRYDOCK_TEST_POSTGRES:-}" ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$pg_bin" ]; then
    if [ "$(id -u)" = 0 ]; then
      # Only the programs: no cluster of the package's own.
      mkdir -p /etc/postgresql-common
      [ -e /etc/postgresql-common/createcluster.conf ] \
        || echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
      apt-get update
      apt-get install -y postgresql
      pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    else
      echo "The PostgreSQL tests need Debian's postgresql: sudo apt-get install -y postgresql" >&2
      echo "(or DRYDOCK_TEST_POSTGRES=postgres://user@host:port/db of a server of yours)" >&2
      exit 1
    fi
  fi
  pg_dir=$(mktemp -d /tmp/drydock-pg.XXXXXX)
  as_pg=()
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres: "$pg_dir"
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U drydock -A trust -E UTF8 --locale=C \
    --no-sync >"$pg_dir/initdb.log" 2>&1 || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  pg_ctl=("${as_pg[@]}" "$pg_bin/pg_ctl" -D "$pg_dir/data")
  "${pg_ctl[@]}" -w -l "$pg_dir/server.log" \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c max_connections=300" \
    start >/dev/null
  export DRYDOCK_TEST_POSTGRES="postgres://drydock@127.0.0.1:$pg_port/postgres"
fi
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    "${pg_ctl[@]}" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}

log=$(mktemp)
trap 'rm -f "$log"; stop_postgres' EXIT
reports=target/tmp
rm -f "$reports"/report-*.txt
status=0
# The whole suite on SQLite (unit tests, integration tests, browser tests) ...
start=$SECONDS
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
sqlite_secs=$((SECONDS - start))
# ... and the integration suite again with every test app and data directory on
# PostgreSQL (DRYDOCK_TEST_BACKEND, read by tests/it/common). Tests of SQLite's own
# files (their modes, the browser tests' data directories) stay on SQLite.
start=$SECONDS
DRYDOCK_TEST_BACKEND=postgres cargo test --locked --test it "$@" 2>&1 | tee -a "$log" || status=$?
postgres_secs=$((SECONDS - start))
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
echo "time: SQLite run ${sqlite_secs} s, PostgreSQL run ${postgres_secs} s"
# What the fault tests counted (crash loop rounds and losses, hostile cases).
cat "$reports"/report-*.txt 2>/dev/null || true
exit "$status"
