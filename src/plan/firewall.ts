/**
 * The firewall a TURN server needs, cloud-neutral: exactly the configured listeners and relay range in, SSH only
 * from configured CIDRs, metrics only from listed scrapers, and out only what coturn and the bootstrap use.
 */
import { LISTENER_PORTS } from "../config/schema";
import type { StackConfig } from "../config/stackConfig";
import { METRICS_PORT } from "../monitoring/metricCatalog";

/** One allowed flow through the firewall. */
export interface FirewallRule {
  /** Stable short name, used in resource names (`turn-udp`, `relay`, …). */
  readonly name: string;
  /** IP protocol. */
  readonly protocol: "udp" | "tcp";
  /** First port, inclusive. */
  readonly fromPort: number;
  /** Last port, inclusive. */
  readonly toPort: number;
  /** IPv4 CIDRs the rule admits (sources for ingress, destinations for egress). */
  readonly cidrs: readonly string[];
  /** Why the rule exists, shown in the cloud console. */
  readonly description: string;
}

/** Inbound and outbound rules for one server. */
export interface FirewallPlan {
  /** Inbound rules. */
  readonly ingress: readonly FirewallRule[];
  /** Outbound rules; everything else outbound is blocked. */
  readonly egress: readonly FirewallRule[];
}

const ANYWHERE = ["0.0.0.0/0"] as const;

/** Builds the firewall plan for a stack. */
export function firewallPlan(config: StackConfig): FirewallPlan {
  const on = (l: Parameters<typeof config.listeners.has>[0]): boolean => config.listeners.has(l);
  const { plain, tls, tls443 } = LISTENER_PORTS;
  const ingress: FirewallRule[] = [
    ...(on("udp") ? [rule("turn-udp", "udp", plain, plain, ANYWHERE, "TURN/STUN over UDP")] : []),
    ...(on("tcp") ? [rule("turn-tcp", "tcp", plain, plain, ANYWHERE, "TURN/STUN over TCP")] : []),
    ...(on("tls") ? [rule("turns-tls", "tcp", tls, tls, ANYWHERE, "TURN over TLS")] : []),
    ...(on("dtls") ? [rule("turns-dtls", "udp", tls, tls, ANYWHERE, "TURN over DTLS")] : []),
    ...(on("tls-443") ? [rule("turns-tls-443", "tcp", tls443, tls443, ANYWHERE, "TURN over TLS on 443")] : []),
    rule("relay", "udp", config.relayPorts.min, config.relayPorts.max, ANYWHERE, "relayed media from peers"),
    ...(config.ssh.allowedCidrs.length > 0
      ? [rule("ssh", "tcp", 22, 22, config.ssh.allowedCidrs, "SSH from configured addresses only")]
      : []),
    // Closed unless scrapers are listed: the metrics are read over SSH by default.
    ...(config.metrics.scraperCidrs.length > 0
      ? [rule("metrics", "tcp", METRICS_PORT, METRICS_PORT, config.metrics.scraperCidrs, "metrics for the listed Prometheus scrapers (TLS, basic auth)")]
      : []),
  ];
  const egress: FirewallRule[] = [
    // Relayed media goes to whatever port the peer uses; coturn's deny list, not the firewall, keeps it off
    // private and special addresses. No TCP relay is configured, so TCP out is only for packages.
    rule("relay-out", "udp", 0, 65535, ANYWHERE, "relayed media to peers"),
    rule("http-out", "tcp", 80, 80, ANYWHERE, "OS packages (apt)"),
    rule("https-out", "tcp", 443, 443, ANYWHERE, "OS packages over https, the ACME CA and the Cloudflare API"),
  ];
  return { ingress, egress };
}

function rule(
  name: string,
  protocol: FirewallRule["protocol"],
  fromPort: number,
  toPort: number,
  cidrs: readonly string[],
  description: string,
): FirewallRule {
  return { name, protocol, fromPort, toPort, cidrs, description };
}
