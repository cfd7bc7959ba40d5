#!/bin/bash
# The local target from a fresh Debian/Ubuntu machine: installs coturn, openssl and the npm packages if needed
# (scripts/install-deps.sh local; root or sudo), then runs coturn on this machine with the local stack and prints
# the iceServers to use. Flags go to `npm run local`, e.g.: bash scripts/local.sh --listen 192.168.1.20 --json
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh local
exec npm run --silent local -- "$@"
