/**
 * The per-source limits on a VM (coturn:rateLimits): an nftables table that drops what one address sends over its
 * limits before coturn sees it, and the unit that loads it at every boot before coturn. They travel with the
 * operations files (opsFiles.ts), so a new limit applies in place, and `pulumi up` delivers them before the TURN
 * secrets: coturn never accepts a credential on a VM without them. Pure: strings only.
 */
import { LISTENER_PORTS } from "../config/schema";
import type { ServerConfig } from "../config/stackConfig";
import type { OpsFile } from "./monitoringFiles";
import { readTemplate, renderTemplate } from "./templates";

/** Where the limits land on the VM. */
export const RATE_LIMIT_PATHS = {
  rules: "/etc/coturn/nftables-limits.conf",
  unit: "/etc/systemd/system/coturn-limits.service",
} as const;

/** The unit that loads them. */
export const RATE_LIMIT_UNIT = "coturn-limits.service";

/** The nftables table the limits live in. */
export const RATE_LIMIT_TABLE = "coturn_limits";

/**
 * The limits, as the `limit` label of coturn_rate_limited_packets_total names them: each has the counter
 * `<name>_dropped` and the chain `<name>_over` (count, log, drop) in the table.
 */
export const RATE_LIMIT_NAMES = ["udp_requests", "tcp_new_connections", "tcp_connections", "ssh_new_connections"] as const;

/** One limit's name. */
export type RateLimitName = (typeof RATE_LIMIT_NAMES)[number];

/** The rendered nftables rules of a server's limits. */
export function rateLimitRules(config: Pick<ServerConfig, "stack" | "rateLimits">): string {
  return renderTemplate("coturn-limits.nft.hbs", {
    stack: config.stack,
    ports: LISTENER_PORTS,
    limits: config.rateLimits,
    overLimits: RATE_LIMIT_NAMES,
    fromCapacity: config.rateLimits.basis === "capacity",
  });
}

/** The limits' operations files. */
export function rateLimitFiles(config: ServerConfig): OpsFile[] {
  return [
    { path: RATE_LIMIT_PATHS.rules, mode: "0644", group: "root", purpose: "limits per source address (coturn:rateLimits); relayed media is never limited", content: rateLimitRules(config) },
    { path: RATE_LIMIT_PATHS.unit, mode: "0644", group: "root", purpose: "loads them at every boot, before coturn", content: readTemplate("coturn-limits.service") },
  ];
}
