#!/bin/bash
# coturn-metrics-collect: writes the figures of this TURN server that node-exporter's own collectors do not have into
# its textfile collector's folder, every 15 s (coturn-metrics-collect.timer): whether coturn runs and since when, the
# relay ports in use, the served certificate's expiry, the VM's sustained bandwidth, the kernel's per-listener
# counters (nftables table coturn_accounting) and what the per-source limits dropped (coturn_limits), client
# connections per TCP listener, and the figures mtail reads off
# coturn's session log (coturn-log-metrics). One file, replaced atomically, so a scrape never sees half of it.
# Settings come from /etc/default/coturn-metrics; the project's lab sets them in the environment.
set -euo pipefail

: "${RELAY_MIN_PORT:?}" "${RELAY_MAX_PORT:?}" "${PLAIN_PORT:?}" "${TLS_PORT:?}" "${CERTIFICATE:?}" "${TEXTFILE_DIR:?}" "${MTAIL_URL:?}" "${HELP_FILE:?}"

# The help texts are the project's metric catalog, rendered into HELP_FILE as `name text` lines. They are read once
# per run and every figure below is formatted by bash itself: a run forks only the tools that read the figures, so
# it costs the relay's cores a few tens of milliseconds, not a process per line.
ticks="$(getconf CLK_TCK)"
declare -A HELP=()
while read -r name text; do
  [ -n "$name" ] && HELP[$name]="$text"
done < "$HELP_FILE"

# HELP and TYPE lines of one family.
family() {
  printf '# HELP %s %s\n# TYPE %s %s\n' "$1" "${HELP[$1]:-coturn-pulumi metric}" "$1" "$2"
}

# The running coturn: systemd's main process on a VM, the pid file where there is no systemd (the lab).
coturn_pid() {
  if [ -n "${COTURN_PID_FILE:-}" ]; then
    cat "$COTURN_PID_FILE" 2>/dev/null || true
  else
    systemctl show --property=MainPID --value coturn.service 2>/dev/null | grep -v '^0$' || true
  fi
}

# The served certificate's notAfter (Unix time). openssl runs only when the file changed (a renewal): the last
# answer is kept next to the output, keyed by the file's change time and size, in a name node-exporter ignores.
certificate_expiry() {
  local stamp cache="$TEXTFILE_DIR/.certificate-expiry" cached_stamp cached_expiry not_after expiry
  stamp="$(stat -L -c '%Z.%s' "$CERTIFICATE" 2>/dev/null)" || return 1
  if [ -r "$cache" ] && read -r cached_stamp cached_expiry < "$cache" && [ "$cached_stamp" = "$stamp" ]; then
    echo "$cached_expiry"
    return 0
  fi
  not_after="$(openssl x509 -enddate -noout -in "$CERTIFICATE" 2>/dev/null)" || return 1
  expiry="$(date -d "${not_after#notAfter=}" +%s)"
  echo "$stamp $expiry" > "$cache"
  echo "$expiry"
}

# `NAME PACKETS BYTES` for each counter of nftables table inet $1, read from nft's listing (one counter block is
# `counter NAME {`, then `packets P bytes B`); fails when the table is not loaded.
kernel_counters() {
  local listing word name packets bytes
  listing="$(nft list counters table inet "$1" 2>/dev/null)" || return 1
  while read -r word name _; do
    if [ "$word" = counter ]; then
      read -r _ packets _ bytes
      echo "$name $packets $bytes"
    fi
  done <<< "$listing"
}

collect() {
  family coturn_metrics_collected_timestamp_seconds gauge
  printf 'coturn_metrics_collected_timestamp_seconds %(%s)T\n' -1

  local pid stat start_ticks boot_time key value
  local -a fields
  pid="$(coturn_pid)"
  family coturn_up gauge
  if [ -n "$pid" ] && [ -r "/proc/$pid/stat" ]; then
    echo "coturn_up 1"
    # Field 22 of /proc/PID/stat, counted after the command name (which may hold spaces), is the start in clock ticks.
    read -r stat < "/proc/$pid/stat"
    read -r -a fields <<< "${stat##*) }"
    start_ticks="${fields[19]}"
    while read -r key value; do
      [ "$key" = btime ] && boot_time="$value" && break
    done < /proc/stat
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

  local expiry
  if expiry="$(certificate_expiry)"; then
    family coturn_tls_certificate_expiry_timestamp_seconds gauge
    echo "coturn_tls_certificate_expiry_timestamp_seconds $expiry"
  fi

  if [ -n "${SUSTAINED_BANDWIDTH_BITS:-}" ]; then
    family coturn_vm_sustained_bandwidth_bits gauge
    echo "coturn_vm_sustained_bandwidth_bits $SUSTAINED_BANDWIDTH_BITS"
  fi

  # Counters are named TRANSPORT_in (nftables-accounting.conf): what arrived there.
  local counters
  if counters="$(kernel_counters coturn_accounting)"; then
    family coturn_listener_packets_total counter
    while read -r name packets _; do
      [ -n "$name" ] && echo "coturn_listener_packets_total{transport=\"${name%_in}\"} $packets"
    done <<< "$counters"
    family coturn_listener_bytes_total counter
    while read -r name _ bytes; do
      [ -n "$name" ] && echo "coturn_listener_bytes_total{transport=\"${name%_in}\"} $bytes"
    done <<< "$counters"
  fi

  # What the per-source limits dropped (coturn-limits.nft): counters named LIMIT_dropped.
  if counters="$(kernel_counters coturn_limits)"; then
    family coturn_rate_limited_packets_total counter
    while read -r name packets _; do
      [ -n "$name" ] && echo "coturn_rate_limited_packets_total{limit=\"${name%_dropped}\"} $packets"
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
