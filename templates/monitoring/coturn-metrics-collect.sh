#!/bin/bash
# coturn-metrics-collect: writes the figures of this TURN server that node-exporter's own collectors do not have into
# its textfile collector's folder, every 15 s (coturn-metrics-collect.timer): whether coturn runs and since when, the
# relay ports in use, the served certificate's expiry, the VM's sustained bandwidth, the kernel's per-listener
# counters (nftables table coturn_accounting), client connections per TCP listener, and the figures mtail reads off
# coturn's session log (coturn-log-metrics). One file, replaced atomically, so a scrape never sees half of it.
# Settings come from /etc/default/coturn-metrics; the project's lab sets them in the environment.
set -euo pipefail

: "${RELAY_MIN_PORT:?}" "${RELAY_MAX_PORT:?}" "${PLAIN_PORT:?}" "${TLS_PORT:?}" "${CERTIFICATE:?}" "${TEXTFILE_DIR:?}" "${MTAIL_URL:?}" "${HELP_FILE:?}"

# HELP and TYPE lines of one family; the help texts are the project's metric catalog, rendered into HELP_FILE.
family() {
  local help
  help="$(sed -n "s/^$1 //p" "$HELP_FILE" | head -n 1)"
  printf '# HELP %s %s\n# TYPE %s %s\n' "$1" "${help:-coturn-pulumi metric}" "$1" "$2"
}

# The running coturn: systemd's main process on a VM, the pid file where there is no systemd (the lab).
coturn_pid() {
  if [ -n "${COTURN_PID_FILE:-}" ]; then
    cat "$COTURN_PID_FILE" 2>/dev/null || true
  else
    systemctl show --property=MainPID --value coturn.service 2>/dev/null | grep -v '^0$' || true
  fi
}

collect() {
  family coturn_metrics_collected_timestamp_seconds gauge
  echo "coturn_metrics_collected_timestamp_seconds $(date +%s)"

  local pid start_ticks boot_time ticks
  pid="$(coturn_pid)"
  family coturn_up gauge
  if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
    echo "coturn_up 1"
    # Field 22 of /proc/PID/stat, counted after the command name (which may hold spaces), is the start in clock ticks.
    start_ticks="$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f20)"
    boot_time="$(sed -n 's/^btime //p' /proc/stat)"
    ticks="$(getconf CLK_TCK)"
    family coturn_process_start_time_seconds gauge
    echo "coturn_process_start_time_seconds $((boot_time + start_ticks / ticks))"
  else
    echo "coturn_up 0"
  fi

  family coturn_relay_ports gauge
  echo "coturn_relay_ports $((RELAY_MAX_PORT - RELAY_MIN_PORT + 1))"
  family coturn_relay_ports_in_use gauge
  echo "coturn_relay_ports_in_use $(ss -Hua "( sport >= :$RELAY_MIN_PORT and sport <= :$RELAY_MAX_PORT )" | wc -l)"

  family coturn_client_connections gauge
  echo "coturn_client_connections{transport=\"tcp\"} $(ss -Ht state established "( sport = :$PLAIN_PORT )" | wc -l)"
  echo "coturn_client_connections{transport=\"tls\"} $(ss -Ht state established "( sport = :$TLS_PORT )" | wc -l)"

  local not_after
  if not_after="$(openssl x509 -enddate -noout -in "$CERTIFICATE" 2>/dev/null)"; then
    family coturn_tls_certificate_expiry_timestamp_seconds gauge
    echo "coturn_tls_certificate_expiry_timestamp_seconds $(date -d "${not_after#notAfter=}" +%s)"
  fi

  if [ -n "${SUSTAINED_BANDWIDTH_BITS:-}" ]; then
    family coturn_vm_sustained_bandwidth_bits gauge
    echo "coturn_vm_sustained_bandwidth_bits $SUSTAINED_BANDWIDTH_BITS"
  fi

  # Counters are named TRANSPORT_in / TRANSPORT_out (nftables-accounting.conf).
  local counters
  if counters="$(nft -j list counters table inet coturn_accounting 2>/dev/null | jq -r '.nftables[] | select(.counter) | .counter | "\(.name) \(.packets) \(.bytes)"')"; then
    family coturn_listener_packets_total counter
    while read -r name packets _; do
      [ -n "$name" ] && echo "coturn_listener_packets_total{transport=\"${name%_*}\",direction=\"${name##*_}\"} $packets"
    done <<< "$counters"
    family coturn_listener_bytes_total counter
    while read -r name _ bytes; do
      [ -n "$name" ] && echo "coturn_listener_bytes_total{transport=\"${name%_*}\",direction=\"${name##*_}\"} $bytes"
    done <<< "$counters"
  fi

  # mtail's figures, with the catalog's help texts instead of mtail's ("defined at coturn.mtail:…").
  local from_log
  family coturn_log_metrics_up gauge
  if from_log="$(curl --silent --fail --max-time 5 "$MTAIL_URL")"; then
    echo "coturn_log_metrics_up 1"
    grep -E '^(# TYPE )?coturn_' <<< "$from_log" | while IFS= read -r line; do
      case "$line" in
        "# TYPE "*) read -r _ _ name type <<< "$line"; family "$name" "$type" ;;
        *) echo "$line" ;;
      esac
    done
  else
    echo "coturn_log_metrics_up 0"
  fi
}

tmp="$(mktemp "$TEXTFILE_DIR/.coturn.prom.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
collect > "$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$TEXTFILE_DIR/coturn.prom"
trap - EXIT
