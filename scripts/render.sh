#!/bin/bash
# Renders a stack's VM files for review, from a fresh Debian/Ubuntu machine: installs the npm packages if needed,
# then runs `npm run render`. Example: bash scripts/render.sh --stack aws-example --out out/aws-example
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  command -v npm >/dev/null || { echo "render: Node.js 20 and npm are required (https://nodejs.org)" >&2; exit 1; }
  echo "==> installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi
exec npm run --silent render -- "$@"
