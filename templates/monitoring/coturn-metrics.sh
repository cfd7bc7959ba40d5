#!/bin/bash
# coturn-metrics: prints this server's metrics (node-exporter's page, Prometheus text format) and nothing else. It is
# the forced command of the metrics read key (`npm run status` reads the metrics over SSH with it, so no port needs to
# be open), and it reads only node-exporter on loopback. When scrapers are allowed, node-exporter wants TLS and the
# scrapers' password: the caller sends the password on stdin (never in arguments, so `ps` does not show it).
set -euo pipefail
# The lab points COTURN_METRICS_WEB_CONFIG elsewhere; over SSH no variable reaches a forced command (and this one
# only reads loopback).
readonly web_config="${COTURN_METRICS_WEB_CONFIG:-/etc/coturn/metrics-web.yml}"
readonly port="${METRICS_PORT:-9100}"
if [ -f "$web_config" ]; then
  IFS= read -r password || { echo "coturn-metrics: this server wants the metrics password (coturn:metricsPassword) on stdin" >&2; exit 2; }
  # Loopback: nothing can sit between curl and node-exporter, so the certificate (issued to the DNS name) is not checked.
  # exec with the config on stdin (a pipe into exec would run curl in a subshell and carry on below).
  exec curl --silent --show-error --fail --max-time 10 --insecure --config - "https://127.0.0.1:$port/metrics" <<< "user = \"prometheus:$password\""
fi
exec curl --silent --show-error --fail --max-time 10 "http://127.0.0.1:$port/metrics"
