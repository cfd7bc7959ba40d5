#!/bin/bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what it needs, type-checks against the real
# provider SDKs, then runs every test with node's test runner. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
echo "==> type-checking (tsc -b, strict; builds the package's dist/ on the way)"
npm run --silent typecheck
echo "==> running the tests (node --test)"
npm test --silent
