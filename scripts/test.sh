#!/usr/bin/env bash
# Runs every drydock test: unit, HTTP (Rocket's local client), the real binary, and the
# browser tests (headless Chromium), and Octopus's own clients (Node, Python). Installs
# Chromium, ChromeDriver, curl, Node.js, npm, Python 3 and pip first if they are missing
# and we are root (as in CI), and starts a throw-away PostgreSQL; extra arguments go to
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || ! command -v curl >/dev/null \
  || ! command -v node >/dev/null || ! command -v npm >/dev/null \
  || ! python3 -m pip --version >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update
    packages="chromium chromium-driver curl"
    # Node from Debian only if there is none at all (a newer one may be installed otherwise).
    command -v node >/dev/null || packages="$packages nodejs"
    command -v npm >/dev/null || packages="$packages npm"
    python3 -m pip --version >/dev/null 2>&1 || packages="$packages python3 python3-pip"
    apt-get install -y $packages
  else
    echo "The browser tests need Debian's chromium and chromium-driver, the README test curl," >&2
    echo "the Octopus client tests Node.js, npm, Python 3 and pip:" >&2
    echo "  sudo apt-get install -y chromium chromium-driver curl nodejs npm python3 python3-pip" >&2
    exit 1
  fi
fi

# PostgreSQL, the second database backend: a throw-away cluster (scripts/postgres.sh),
# stopped at the end. The tests read its address from DRYDOCK_TEST_POSTGRES (set it to
# use a server of your own instead).
source scripts/postgres.sh
start_postgres

log=$(mktemp)
trap 'rm -f "$log"; stop_postgres' EXIT
reports=target/tmp
rm -f "$reports"/report-*.txt
status=0
# The whole suite on SQLite (unit tests, integration tests, browser tests) ...
start=$SECONDS
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
# The tests that stop what dead nodes' scripts left, once more as in a container: in a
# PID namespace of its own, where the server's session leader is outside and every
# session reads as 0 (root only: it takes `unshare`; not when arguments pick tests).
if [ "$(id -u)" = 0 ] && [ $# -eq 0 ]; then
  unshare --pid --fork --mount-proc cargo test --locked --test it -- \
    recovery:: crash_loop:: system_tasks::node_health launcher::as_root \
    new_user::a_restarted cluster_nodes::a_node_killed attacks::a_second_node_under \
    second_attack::a_script_cannot_make_cleanup 2>&1 | tee -a "$log" || status=$?
fi
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
