#!/bin/bash
# Installs everything this project needs on a fresh Debian or Ubuntu machine, then its npm packages.
# Debian packages: the tools the tests run against rendered files (cloud-init, shellcheck), the real coturn the
# runtime tests and `npm run local` start, the network-namespace lab (iproute2, nftables) and Chromium for the
# browser test.
# Run as root, or as a user with sudo. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly packages=(ca-certificates openssl cloud-init shellcheck coturn iproute2 nftables chromium)

say() { printf '==> %s\n' "$*"; }

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  as_root=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root, or install sudo" >&2; exit 1; }
    as_root=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  # coturn's package would start a system-wide server on boot machines with systemd; tests start their own.
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install-deps: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  Install it from https://nodejs.org or your distribution's nodejs 20 package, then run this again." >&2
  exit 1
fi

say "installing npm packages (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
