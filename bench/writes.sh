#!/usr/bin/env bash
# Write cost (not a test): sequential POSTs on one keep-alive connection against the
# release binary; see bench/writes.py. Usage: bash bench/writes.sh [requests-each]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-500}
# AS_USER=nobody (as root): see bench/serve.sh.
# shellcheck source=bench/serve.sh
. bench/serve.sh
cd bench && python3 writes.py "$port" "$key" "$n"
