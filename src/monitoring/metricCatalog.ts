/**
 * Every metric a TURN server exports, with where it comes from. The exporter on the VM is
 * prometheus-node-exporter: its own host collectors, plus its textfile collector, which serves what the VM's
 * coturn-metrics-collect timer writes (figures read from coturn's log by mtail, and from the kernel). This list is
 * the contract between the VM and everything that reads it: the shipped alert rules, the Grafana dashboard,
 * `npm run status` and the docs. The lab tests check that the real exporter produces every name here.
 */

/** Where a metric is made. */
export type MetricSource = "coturn-log" | "collector" | "node";

/** One exported metric family. */
export interface MetricDescription {
  /** Family name as Prometheus sees it (histograms add _bucket, _sum and _count). */
  readonly name: string;
  /** Prometheus type. */
  readonly type: "counter" | "gauge" | "histogram";
  /** Label names (besides Prometheus' own job and instance). */
  readonly labels: readonly string[];
  /** Where it is made: coturn's session log (mtail), the collector script, or node-exporter's own collectors. */
  readonly source: MetricSource;
  /** What it means, in one sentence for the docs and the HELP line. */
  readonly help: string;
}

/** Values of the `transport` label of allocation and relayed-traffic metrics from coturn's log. */
export const LOG_TRANSPORTS = ["plain", "tls", "dtls"] as const;

/** Values of the `transport` label of the kernel's per-listener counters. */
export const LISTENER_TRANSPORTS = ["udp", "tcp", "tls", "dtls", "relay"] as const;

/** TURN error codes counted by `coturn_requests_refused_total` (any other code is counted as "other"). */
export const REFUSAL_CODES = ["400", "401", "403", "420", "437", "438", "440", "441", "442", "443", "446", "447", "486", "500", "508"] as const;

/** Buckets of `coturn_session_duration_seconds`: 10 s to 4 h (a call, a meeting, a long screen share). */
export const SESSION_DURATION_BUCKETS = [10, 60, 300, 900, 1800, 3600, 7200, 14400] as const;

/** The TCP port node-exporter serves on (loopback only, unless `coturn:monitoring.allowedCidrs` admits scrapers). */
export const METRICS_PORT = 9100;

/** Every metric family the VM exports that this project reads (node-exporter's other host families exist too). */
export const METRIC_CATALOG: readonly MetricDescription[] = [
  // coturn's session log (verbose: one line per session event and per TURN request, never per packet), via mtail.
  { name: "coturn_allocations_created_total", type: "counter", labels: ["transport"], source: "coturn-log", help: "Allocations created; transport is plain (UDP or TCP on the plain port: coturn's log does not say which), tls or dtls." },
  { name: "coturn_allocations_active", type: "gauge", labels: ["transport"], source: "coturn-log", help: "Allocations open now." },
  { name: "coturn_requests_refused_total", type: "counter", labels: ["code"], source: "coturn-log", help: "TURN requests refused, by error code: 401 wrong or expired credential, 403 forbidden peer, 486 allocation quota, 508 relay ports exhausted (the nonce challenge every client gets first is not counted)." },
  { name: "coturn_auth_challenges_total", type: "counter", labels: [], source: "coturn-log", help: "401 nonce challenges to requests without credentials: the normal first step of every allocation." },
  { name: "coturn_sessions_closed_total", type: "counter", labels: ["reason"], source: "coturn-log", help: "Sessions closed: reason is client (the client closed it), timeout (allocation lifetime ran out) or error (a socket error ended it)." },
  { name: "coturn_session_duration_seconds", type: "histogram", labels: [], source: "coturn-log", help: "How long sessions lasted, from allocation to close." },
  { name: "coturn_relayed_bytes_total", type: "counter", labels: ["transport", "side", "direction"], source: "coturn-log", help: "Bytes relayed, reported by coturn every 4096 packets of a session and when it closes; side is client or peer, direction received or sent (by the server)." },
  { name: "coturn_relayed_packets_total", type: "counter", labels: ["transport", "side", "direction"], source: "coturn-log", help: "Packets relayed, reported like coturn_relayed_bytes_total." },
  { name: "coturn_starts_total", type: "counter", labels: [], source: "coturn-log", help: "coturn starts seen in its log since the VM booted (more than one means restarts)." },
  { name: "coturn_log_lines_suppressed_total", type: "counter", labels: [], source: "coturn-log", help: "coturn log lines journald dropped over coturn's rate limit (30,000 per 30 s): while it grows, the figures from the log are lower bounds." },
  // The collector script (every 15 s), from the kernel and the VM's files.
  { name: "coturn_up", type: "gauge", labels: [], source: "collector", help: "1 when a turnserver process runs, else 0." },
  { name: "coturn_process_start_time_seconds", type: "gauge", labels: [], source: "collector", help: "When the running turnserver process started (Unix time)." },
  { name: "coturn_relay_ports", type: "gauge", labels: [], source: "collector", help: "UDP ports in the relay range (coturn:relayPorts)." },
  { name: "coturn_relay_ports_in_use", type: "gauge", labels: [], source: "collector", help: "UDP ports of the relay range bound by coturn now (one per allocation, plus reserved ones)." },
  { name: "coturn_tls_certificate_expiry_timestamp_seconds", type: "gauge", labels: [], source: "collector", help: "notAfter of the certificate coturn serves (Unix time)." },
  { name: "coturn_vm_sustained_bandwidth_bits", type: "gauge", labels: [], source: "collector", help: "The VM size's sustained network bandwidth in bit/s, from the project's sizing table." },
  { name: "coturn_listener_bytes_total", type: "counter", labels: ["transport"], source: "collector", help: "Bytes arriving at each TURN listener (clients' media and requests) and at the relay range (peers' media), counted by the kernel (nftables): both directions of relayed media. What leaves the VM is node_network_transmit_bytes_total." },
  { name: "coturn_listener_packets_total", type: "counter", labels: ["transport"], source: "collector", help: "Packets arriving at each TURN listener and at the relay range, counted like coturn_listener_bytes_total." },
  { name: "coturn_rate_limited_packets_total", type: "counter", labels: ["limit"], source: "collector", help: "Packets the per-source limits (coturn:rateLimits) dropped before coturn saw them: limit is udp_requests (STUN requests and DTLS handshakes), tcp_new_connections, tcp_connections (concurrent) or ssh_new_connections. The kernel journal names the addresses (prefix coturn-limits)." },
  { name: "coturn_client_connections", type: "gauge", labels: ["transport"], source: "collector", help: "Established client connections to the TCP (tcp) and TLS (tls) listeners." },
  { name: "coturn_log_metrics_up", type: "gauge", labels: [], source: "collector", help: "1 when mtail answered the collector with the figures from coturn's log, else 0 (they are missing then)." },
  { name: "coturn_metrics_collected_timestamp_seconds", type: "gauge", labels: [], source: "collector", help: "When the collector last wrote these figures (Unix time); stale figures mean it stopped." },
  // node-exporter's own collectors.
  { name: "node_cpu_seconds_total", type: "counter", labels: ["cpu", "mode"], source: "node", help: "CPU time by mode." },
  { name: "node_network_receive_bytes_total", type: "counter", labels: ["device"], source: "node", help: "Bytes received per network interface." },
  { name: "node_network_transmit_bytes_total", type: "counter", labels: ["device"], source: "node", help: "Bytes sent per network interface." },
  { name: "node_netstat_Udp_InErrors", type: "counter", labels: [], source: "node", help: "UDP datagrams the kernel could not deliver." },
  { name: "node_netstat_Udp_RcvbufErrors", type: "counter", labels: [], source: "node", help: "UDP datagrams dropped because a socket's receive buffer was full." },
  { name: "node_netstat_Udp_SndbufErrors", type: "counter", labels: [], source: "node", help: "UDP datagrams dropped because a socket's send buffer was full." },
  { name: "node_nf_conntrack_entries", type: "gauge", labels: [], source: "node", help: "Connection tracking entries in use." },
  { name: "node_nf_conntrack_entries_limit", type: "gauge", labels: [], source: "node", help: "Connection tracking table size." },
];

/** The catalog entry of a family; throws for a name the VM does not export. */
export function metricDescription(name: string): MetricDescription {
  const found = METRIC_CATALOG.find((m) => m.name === name);
  if (!found) throw new Error(`${name} is not a metric the TURN servers export (see src/monitoring/metricCatalog.ts)`);
  return found;
}
