#!/bin/bash
# Installs everything this project needs on a fresh Debian or Ubuntu machine, then its npm packages.
# Debian packages: the tools the tests run against rendered files (cloud-init, shellcheck), the real coturn the
# runtime tests and `npm run local` start (with sqlite3 for its user database), ssh-keygen and visudo for the rendered
# SSH and sudo files, the network-namespace lab (iproute2, nftables), Chromium for the
# browser test, and what the TLS renewal test runs the VM's coturn-tls against: certbot with its Cloudflare DNS plugin
# and jq (as on the VM), and pebble, Let's Encrypt's test ACME server; and what the boot test builds and boots its
# Debian image with (debootstrap, systemd-nspawn from systemd-container, apt-ftparchive from apt-utils, nsenter from
# util-linux); and the monitoring stack the VMs run and operators scrape with, for the metrics tests: mtail and
# prometheus-node-exporter (as on the VM), and prometheus (its promtool tests the shipped alert rules, and a real
# Prometheus scrapes the lab); and openssh-server, the sshd `npm run status` reads the lab's metrics through.
# With the argument `local` (bash scripts/install-deps.sh local), only what `npm run local` needs: ca-certificates,
# openssl and coturn, and `npm ci` only when node_modules is missing or older than package-lock.json (scripts/local.sh
# runs this before every start, and must work offline once installed).
# Run as root, or as a user with sudo. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-all}"
case "$mode" in
  all) packages=(ca-certificates openssl cloud-init shellcheck coturn sqlite3 openssh-client sudo iproute2 nftables curl chromium
    pebble certbot python3-certbot-dns-cloudflare jq debootstrap systemd-container apt-utils util-linux
    mtail prometheus-node-exporter prometheus openssh-server) ;;
  local) packages=(ca-certificates openssl coturn) ;;
  *) echo "install-deps: unknown argument \"$mode\"; use no argument (everything) or \"local\" (only what npm run local needs)" >&2; exit 2 ;;
esac
readonly mode packages

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
  # Where systemd runs, Debian's coturn, prometheus and prometheus-node-exporter packages enable and start their
  # services right away (coturn's unit ignores /etc/default/coturn, which only the old init script reads): a
  # system-wide coturn on every address holding the ports `npm run local` needs, a Prometheus and a node-exporter
  # nobody asked for. A service this script installs is masked during the installation (so it never starts), then
  # unmasked and left disabled: the tests and `npm run local` start their own. One installed before is left alone.
  held_services=()
  release_services() {
    for service in "${held_services[@]}"; do "${as_root[@]}" systemctl unmask "$service.service" >/dev/null || true; done
  }
  if [ -d /run/systemd/system ]; then
    for service in coturn prometheus prometheus-node-exporter; do
      if [[ " ${missing[*]} " == *" $service "* ]]; then held_services+=("$service"); fi
    done
  fi
  if [ "${#held_services[@]}" -gt 0 ]; then
    trap release_services EXIT
    for service in "${held_services[@]}"; do "${as_root[@]}" systemctl mask "$service.service" >/dev/null; done
  fi
  say "installing Debian packages: ${missing[*]}"
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "${#held_services[@]}" -gt 0 ]; then
    release_services
    for service in "${held_services[@]}"; do "${as_root[@]}" systemctl disable "$service.service" >/dev/null 2>&1 || true; done
    say "installed but disabled: ${held_services[*]} (npm run local and the tests start their own)"
  fi
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "install-deps: Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "  Install it from https://nodejs.org or your distribution's nodejs 20 package, then run this again." >&2
  exit 1
fi

# npm writes node_modules/.package-lock.json last, once an install is complete.
if [ "$mode" = local ] && [ -f node_modules/.package-lock.json ] && [ ! package-lock.json -nt node_modules/.package-lock.json ]; then
  exit 0
fi
say "installing npm packages (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
