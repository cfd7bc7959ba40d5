#!/bin/bash
# First-boot bootstrap for a coturn-pulumi TURN server; cloud-init runs it once, after packages are installed.
# It prints nothing secret: the console log is readable by anyone with ec2:GetConsoleOutput.
#
# Usage: coturn-bootstrap --tls-mode self-signed|provided --domain turn.example.com
set -euo pipefail
umask 077

readonly conf=/etc/turnserver.conf
readonly tls_dir=/etc/coturn/tls
readonly cert="$tls_dir/fullchain.pem"
readonly key="$tls_dir/privkey.pem"

log() { echo "coturn-bootstrap: $*"; }
fail() { echo "coturn-bootstrap: ERROR: $*" >&2; exit 1; }

tls_mode=""
domain=""
while [ "$#" -gt 0 ]; do
  case "$1" in
    --tls-mode) tls_mode="${2:-}"; shift 2 ;;
    --domain) domain="${2:-}"; shift 2 ;;
    *) fail "unknown argument '$1' (expected --tls-mode MODE --domain NAME)" ;;
  esac
done
case "$tls_mode" in
  self-signed|provided) ;;
  *) fail "--tls-mode must be self-signed or provided, got '$tls_mode'" ;;
esac
[ -n "$domain" ] || fail "--domain is required"
getent group turnserver >/dev/null || fail "group turnserver is missing: the coturn package did not install"

log "applying kernel settings for the relay"
sysctl --quiet --system

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

install -d -o root -g turnserver -m 0750 "$tls_dir"
if [ "$tls_mode" = self-signed ] && [ ! -s "$cert" ]; then
  log "generating a self-signed certificate for $domain"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
    -subj "/CN=$domain" -addext "subjectAltName=DNS:$domain" \
    -keyout "$key" -out "$cert" 2>/dev/null
fi
if [ ! -s "$cert" ] || [ ! -s "$key" ]; then
  fail "TLS certificate or key missing in $tls_dir"
fi

# coturn runs as turnserver: it must read these, and no one else may. If it cannot read the config it
# starts as an open relay with built-in defaults; if it cannot read the key, TLS is silently off.
chown root:turnserver "$conf" "$cert" "$key"
chmod 0640 "$conf" "$key"
chmod 0644 "$cert"
for file in "$conf" "$cert" "$key"; do
  runuser -u turnserver -- test -r "$file" || fail "turnserver cannot read $file"
done

if [ -f /etc/systemd/system/coturn-tls443.service ]; then
  log "forwarding TCP 443 to the TLS listener"
  systemctl enable --now coturn-tls443.service
fi
log "restarting coturn with the rendered configuration"
systemctl enable coturn
systemctl restart coturn
for _ in $(seq 1 30); do
  if systemctl is-active --quiet coturn; then
    log "coturn is running"
    exit 0
  fi
  sleep 1
done
fail "coturn did not start; see: journalctl -u coturn"
