#!/bin/bash
# First-boot bootstrap for a coturn-pulumi TURN server; cloud-init runs it once, after packages are installed.
# It prints nothing secret: the console log is readable by anyone with ec2:GetConsoleOutput.
#
# Usage: coturn-bootstrap --certificate-names eu-central-1.turn.example.com,turn.example.com
set -euo pipefail
umask 077

readonly conf=/etc/turnserver.conf
# coturn-tls deliver waits for this before it installs anything, so it never races this script's restart.
readonly ready_marker=/var/lib/coturn-pulumi/bootstrapped
# coturn's unit starts only once this exists (its drop-in's ConditionPathExists): written after the checks below.
readonly configured_marker=/var/lib/coturn-pulumi/configured
readonly relay_sysctl=/etc/sysctl.d/60-coturn-relay.conf

log() { echo "coturn-bootstrap: $*"; }
# Errors go to the journal too (messages never hold a secret), so an operator finds them on the VM.
fail() { echo "coturn-bootstrap: ERROR: $*" >&2; logger --tag coturn-bootstrap --priority user.err -- "ERROR: $*" 2>/dev/null || true; exit 1; }

names=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --certificate-names) names="${2:-}"; shift 2 ;;
    *) fail "unknown argument '$1' (expected --certificate-names NAME[,NAME])" ;;
  esac
done
[[ "$names" =~ ^[a-z0-9.-]+(,[a-z0-9.-]+)*$ ]] || fail "--certificate-names must be DNS names separated by commas, got '$names'"
getent group turnserver >/dev/null || fail "group turnserver is missing: the coturn package did not install"

log "applying kernel settings for the relay"
# Only this file (other packages apply their own). A setting the kernel refuses is named and the bootstrap goes on:
# without it the relay drops packets in bursts, without the bootstrap it would not serve at all. In a container,
# which shares its host's kernel, the kernel-wide ones are the host's to set.
sysctl --quiet --load="$relay_sysctl" 2>/dev/null || true
where="$(systemd-detect-virt --container 2>/dev/null || true)"
while IFS='=' read -r key wanted; do
  key="$(echo "$key" | xargs)"
  wanted="$(echo "$wanted" | xargs)"
  case "$key" in ''|'#'*) continue ;; esac
  actual="$(sysctl -n "$key" 2>/dev/null || echo 'not visible here')"
  [ "$actual" = "$wanted" ] || log "WARNING: kernel setting $key is '$actual', not '$wanted'${where:+ (in a $where container)}"
done < "$relay_sysctl"

systemctl daemon-reload
if [ -f /etc/systemd/system/coturn-anchor-network.service ]; then
  log "routing the Reserved IP's anchor address"
  systemctl enable --now coturn-anchor-network.service
fi
# coturn must listen on an address this VM has: one it had to learn at boot and did not (DigitalOcean's
# anchor address) would leave it binding nothing, so say why here.
while read -r address; do
  [ -n "$(ip -o addr show to "$address")" ] || fail "$conf makes coturn listen on $address, which this VM does not have"
done < <(sed -n 's/^listening-ip=//p' "$conf")

# coturn reads its certificate from the paths in its config. Until `pulumi up` delivers the real one over SSH
# (coturn-tls deliver), a self-signed one keeps TLS on: with no readable key coturn would silently run without it.
cert="$(sed -n 's/^cert=//p' "$conf")"
key="$(sed -n 's/^pkey=//p' "$conf")"
if [ -z "$cert" ] || [ -z "$key" ]; then fail "$conf names no cert= or pkey="; fi
install -d -o root -g turnserver -m 0750 "$(dirname "$cert")" "$(dirname "$key")"
if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
  log "generating a placeholder self-signed certificate for $names"
  san="DNS:${names//,/,DNS:}"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=${names%%,*}" -addext "subjectAltName=$san" \
    -keyout "$key" -out "$cert" 2>/dev/null
fi

# coturn runs as turnserver: it must read these, and no one else may. If it cannot read the config it
# starts as an open relay with built-in defaults; if it cannot read the key, TLS is silently off.
chown root:turnserver "$conf" "$cert" "$key"
chmod 0640 "$conf" "$cert" "$key"
for file in "$conf" "$cert" "$key"; do
  runuser -u turnserver -- test -r "$file" || fail "turnserver cannot read $file"
done

if [ -f /etc/systemd/system/coturn-tls443.service ]; then
  log "forwarding TCP 443 to the TLS listener"
  systemctl enable --now coturn-tls443.service
fi
install -d -m 0755 "$(dirname "$configured_marker")"
date -u +%Y-%m-%dT%H:%M:%SZ > "$configured_marker"
log "restarting coturn with the rendered configuration"
systemctl enable coturn
systemctl restart coturn
for _ in $(seq 1 30); do
  if systemctl is-active --quiet coturn; then
    log "coturn is running"
    install -d -m 0755 "$(dirname "$ready_marker")"
    date -u +%Y-%m-%dT%H:%M:%SZ > "$ready_marker"
    exit 0
  fi
  sleep 1
done
fail "coturn did not start; see: journalctl -u coturn"
