#!/bin/bash
# Makes coturn's traffic leave from the DigitalOcean Reserved IP. Runs at every boot, before coturn
# (coturn-anchor-network.service); rendered by coturn-pulumi.
#
# A Reserved IP reaches the Droplet on its anchor address, a private address on the public interface.
# The Droplet's default route sends everything out from its own public IP, so a reply or relayed packet
# from the anchor address would leave with a source the client was never given (or be dropped). coturn
# therefore listens and relays on the anchor address and advertises the Reserved IP, and this script
# sends every packet from the anchor address through the anchor gateway, which maps it back onto the
# Reserved IP. Other traffic (apt) keeps the Droplet's own route.
#
# It also writes the anchor address, which no one knows before boot, over its placeholder in coturn's
# config and in the 443 redirect rules (when TURN over TLS on 443 is on).
#
# Usage: coturn-anchor-network [--config /etc/turnserver.conf] [--redirect-rules /etc/coturn/nftables-tls443.conf]
set -euo pipefail
umask 077

readonly metadata=http://169.254.169.254/metadata/v1/interfaces/public/0/anchor_ipv4
# What the rendered files say until the anchor address is known: TEST-NET-1, on no host.
readonly placeholder=192.0.2.1
# A routing table of our own: only packets from the anchor address look it up.
readonly table=4242

log() { echo "coturn-anchor-network: $*"; }
# Errors go to the journal too (messages never hold a secret), so an operator finds them on the VM.
fail() { echo "coturn-anchor-network: ERROR: $*" >&2; logger --tag coturn-anchor-network --priority user.err -- "ERROR: $*" 2>/dev/null || true; exit 1; }

conf=/etc/turnserver.conf
redirect_rules=/etc/coturn/nftables-tls443.conf
while [ "$#" -gt 0 ]; do
  case "$1" in
    --config) conf="${2:-}"; shift 2 ;;
    --redirect-rules) redirect_rules="${2:-}"; shift 2 ;;
    *) fail "unknown argument '$1' (expected --config FILE --redirect-rules FILE)" ;;
  esac
done
[ -f "$conf" ] || fail "no coturn config at '$conf'"

fetch() {
  curl --fail --silent --show-error --max-time 5 --retry 12 --retry-delay 5 --retry-connrefused "$metadata/$1" \
    || fail "cannot read $metadata/$1 from the metadata service"
}
is_ipv4() { [[ "$1" =~ ^([0-9]{1,3}\.){3}[0-9]{1,3}$ ]]; }

address="$(fetch address)"
gateway="$(fetch gateway)"
is_ipv4 "$address" || fail "the metadata service gave '$address' as anchor address, not an IPv4 address"
is_ipv4 "$gateway" || fail "the metadata service gave '$gateway' as anchor gateway, not an IPv4 address"
device="$(ip -o -4 addr show to "$address/32" | awk '{ print $2; exit }')"
[ -n "$device" ] || fail "the anchor address $address is on no interface (is a Reserved IP assigned?)"

ip route replace default via "$gateway" dev "$device" table "$table"
while ip rule del from "$address/32" table "$table" 2>/dev/null; do :; done
ip rule add from "$address/32" table "$table" priority 1000
log "traffic from the anchor address $address leaves through the anchor gateway $gateway on $device"

# Only the lines that name coturn's own address, so no other occurrence of the text can change.
p="${placeholder//./\\.}"
if grep -qE "^(listening-ip|relay-ip)=$p\$" "$conf"; then
  sed -i -E "s/^(listening-ip|relay-ip)=$p\$/\1=$address/; s#^(external-ip=[0-9.]+)/$p\$#\1/$address#" "$conf"
  log "coturn listens and relays on the anchor address $address"
fi
if [ -f "$redirect_rules" ] && grep -qE "ip daddr $p tcp dport 443 dnat to $p:" "$redirect_rules"; then
  sed -i -E "s/ip daddr $p tcp dport 443 dnat to $p:/ip daddr $address tcp dport 443 dnat to $address:/" "$redirect_rules"
  log "TCP 443 to the anchor address goes to coturn's TLS listener"
fi
grep -qx "listening-ip=$address" "$conf" \
  || fail "$conf listens on another address than the anchor address $address; rebuild the Droplet (pulumi up --replace)"
