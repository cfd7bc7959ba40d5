/**
 * The DNS names of a region's server: its own name (`regionDomain`) and the shared `domain` apps use. Which A records
 * point at the server, and which names its certificate carries, follow from them. Pure, cloud- and DNS-host-neutral.
 */
import type { ServerIdentity, StackConfig } from "../config/stackConfig";

/** TTL of the records: short, so a replaced region or a drained one leaves caches within a minute (Cloudflare's minimum). */
export const DNS_RECORD_TTL_SECONDS = 60;

/** One A record that points a name at the server's static IP. */
export interface PlannedDnsRecord {
  /** Fully qualified name. */
  readonly name: string;
  /** Always `A`: the static IP is IPv4. */
  readonly type: "A";
  /** Seconds. */
  readonly ttl: number;
  /** Why the record exists. */
  readonly purpose: string;
}

/**
 * Server `index` (1-based) of a region of `serverCount` servers. A region of one server has no name of its own beyond
 * `regionDomain`; with more, server k is also `s<k>.<regionDomain>` (probes, and a certificate per server, so the
 * servers of one region never share a certificate's exact name set, which Let's Encrypt limits to 5 a week).
 */
export function serverIdentity(config: Pick<StackConfig, "regionDomain" | "serverCount">, index: number): ServerIdentity {
  return config.serverCount === 1 ? {} : { serverDomain: `s${index}.${config.regionDomain}` };
}

/**
 * The names the certificate must carry, the server's own first. The shared name is always on it, so `turns:` to the
 * shared name works whichever region answers (GeoDNS, or a record made by hand).
 */
export function certificateNames(config: Pick<StackConfig, "regionDomain" | "domain"> & ServerIdentity): string[] {
  return [...new Set([...(config.serverDomain === undefined ? [] : [config.serverDomain]), config.regionDomain, config.domain])];
}

/**
 * The A records for this server: its own name always; the shared name too unless `publishSharedName` is off (GeoDNS
 * or another stack owns it). Without Cloudflare the same list is what the operator creates by hand.
 */
export function plannedDnsRecords(config: Pick<StackConfig, "regionDomain" | "domain" | "cloudflare"> & ServerIdentity): PlannedDnsRecord[] {
  const records: PlannedDnsRecord[] = [
    ...(config.serverDomain === undefined
      ? []
      : [{ name: config.serverDomain, type: "A" as const, ttl: DNS_RECORD_TTL_SECONDS, purpose: "this server's own name" }]),
    {
      name: config.regionDomain,
      type: "A",
      ttl: DNS_RECORD_TTL_SECONDS,
      purpose: config.serverDomain === undefined ? "this server's own name" : "the region's name (one record per server)",
    },
  ];
  const shared = config.cloudflare?.publishSharedName ?? true;
  if (shared && config.domain !== config.regionDomain) {
    records.push({ name: config.domain, type: "A", ttl: DNS_RECORD_TTL_SECONDS, purpose: "the shared name apps connect to" });
  }
  return records;
}
