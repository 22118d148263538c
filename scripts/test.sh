#!/usr/bin/env bash
# Runs every drydock test: unit, HTTP (Rocket's local client), the real binary, and the
# browser tests (headless Chromium), and Octopus's own TypeScript client (Node). Installs
# Chromium, ChromeDriver, curl, Node.js and npm first if they are missing and we are root
# (as in CI); extra arguments go to `cargo test`.
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

log=$(mktemp)
trap 'rm -f "$log"' EXIT
reports=target/tmp
rm -f "$reports"/report-*.txt
status=0
cargo test --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed/) p += $(i-1); if ($(i) ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
# What the fault tests counted (crash loop rounds and losses, hostile cases).
cat "$reports"/report-*.txt 2>/dev/null || true
exit "$status"
