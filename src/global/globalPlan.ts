/**
 * The global stack's plan, pure: from its config and what each region stack reports, the pools (one per region, its
 * servers as origins), the order in which each Cloudflare region is answered, the fallback, and the plain records
 * of `dns-records` mode. Every way the regions do not fit together is a problem naming the region and the fix.
 */
import { LISTENER_PORTS } from "../config/schema";
import type { GeoLocation, GlobalStackConfig } from "../config/stackConfig";
import { shownValueAt, type ConfigProblem } from "../config/configProblems";
import { fullKey } from "../config/rawStackConfig";
import { CLOUDFLARE_REGIONS, CLOUDFLARE_REGION_LOCATIONS, cloudRegionLocation, distanceKm, type CloudflareRegion } from "./locations";
import type { RegionFacts } from "./regionFacts";

/** One server of a region: an origin of its pool, or a record of the shared name. */
export interface PlannedOrigin {
  /** The server's resource name in its region stack. */
  readonly name: string;
  /** Its static IP. */
  readonly address: string;
  /** Its own DNS name. */
  readonly domain: string;
}

/** One region's pool. */
export interface PlannedPool {
  /** Pool name (`<cloud>-<region>` unless set in config). */
  readonly name: string;
  /** The region stack. */
  readonly stack: string;
  /** `<cloud> <region>`, for people. */
  readonly place: string;
  /** False when drained: the pool stays, disabled and out of every answer. */
  readonly enabled: boolean;
  /** Where its servers are. */
  readonly location: GeoLocation;
  /** Its servers. */
  readonly origins: readonly PlannedOrigin[];
}

/** The whole plan. */
export interface GlobalPlan {
  /** Every region's pool, drained ones included, in config order. */
  readonly pools: readonly PlannedPool[];
  /** Pools that serve, in config order (the load balancer's default failover order). */
  readonly servingPools: readonly string[];
  /** The pool answered when every other is unhealthy. */
  readonly fallbackPool: string;
  /** For each Cloudflare region, the serving pools nearest first: the `geo` steering map, and what `proximity` picks. */
  readonly answers: Readonly<Record<CloudflareRegion, readonly string[]>>;
  /** The TCP port the health monitor connects to. */
  readonly monitorPort: number;
}

/** The plan, or every problem found. */
export type GlobalPlanResult = { readonly plan: GlobalPlan } | { readonly problems: readonly ConfigProblem[] };

/** Plans the global stack from its config and the facts of each region (in config order). */
export function planGlobal(config: GlobalStackConfig, regions: readonly RegionFacts[]): GlobalPlanResult {
  const problems: ConfigProblem[] = [];
  const add = (index: number, field: string, value: unknown, message: string): void => {
    problems.push({ key: fullKey(`regions[${index}]${field}`), shownValue: shownValueAt(`regions[${index}]${field}`, value), message });
  };
  const pools: PlannedPool[] = [];
  const poolOwner = new Map<string, number>();
  const servedBy = new Map<string, string>();
  for (const [i, facts] of regions.entries()) {
    const entry = config.regions[i];
    const name = entry.pool ?? `${facts.cloud}-${facts.region}`;
    const place = `${facts.cloud} ${facts.region}`;
    const owner = poolOwner.get(name);
    if (owner !== undefined) {
      add(i, ".stack", entry.stack, `claims pool "${name}" (${place}) like regions[${owner}]. Set coturn:regions[${i}].pool to a name of its own, or run both regions' servers in one stack (coturn:serverCount)`);
    }
    poolOwner.set(name, i);
    if (facts.domain !== config.domain) {
      add(i, ".stack", entry.stack, `serves coturn:domain "${facts.domain}", so its certificate does not name "${config.domain}". Set coturn:domain ${config.domain} on that stack and run pulumi up on it`);
    }
    if (!facts.listeners.includes("tls")) {
      add(i, ".stack", entry.stack, `has no "tls" listener: the health monitor connects to TLS port ${LISTENER_PORTS.tls}, and turns: to the shared name needs it. Add "tls" to its coturn:listeners`);
    }
    const publishes = facts.dnsRecords.find((r) => r.name === config.domain && r.managedBy === "cloudflare");
    if (publishes) {
      add(i, ".stack", entry.stack, `points the shared name ${config.domain} at its own servers (a Cloudflare record). Set coturn:publishSharedName false on that stack and run pulumi up on it first`);
    }
    for (const server of facts.servers) {
      const other = servedBy.get(server.publicIp);
      if (other !== undefined) add(i, ".stack", entry.stack, `reports IP ${server.publicIp}, which ${other} reports too. Check that each entry names a different region stack`);
      servedBy.set(server.publicIp, entry.stack);
    }
    const location = entry.location ?? cloudRegionLocation(facts.cloud, facts.region);
    if (location === undefined) {
      add(i, "", { stack: entry.stack }, `is in ${place}, whose coordinates this project does not know. Set coturn:regions[${i}].latitude and .longitude (decimal degrees)`);
    }
    pools.push({
      name,
      stack: entry.stack,
      place,
      enabled: !entry.drain,
      location: location ?? { latitude: 0, longitude: 0 },
      origins: facts.servers.map((s) => ({ name: s.name, address: s.publicIp, domain: s.domain })),
    });
  }
  problems.push(...secretProblems(config, regions));
  if (problems.length > 0) return { problems };

  const serving = pools.filter((p) => p.enabled);
  const fallback = pools.find((p) => p.stack === config.fallbackStack);
  if (fallback === undefined) throw new Error("unreachable: the fallback region was validated against coturn:regions");
  const answers = Object.fromEntries(
    CLOUDFLARE_REGIONS.map((code) => {
      const from = CLOUDFLARE_REGION_LOCATIONS[code];
      // Stable sort: equal distances keep config order, which is the operator's preference.
      const nearest = [...serving].sort((a, b) => Math.round(distanceKm(from, a.location)) - Math.round(distanceKm(from, b.location)));
      return [code, nearest.map((p) => p.name)];
    }),
  ) as Record<CloudflareRegion, string[]>;
  return {
    plan: { pools, servingPools: serving.map((p) => p.name), fallbackPool: fallback.name, answers, monitorPort: LISTENER_PORTS.tls },
  };
}

/**
 * Behind one name, a credential minted for one region must work in every region: they need a secret in common. The
 * first region that shares none with the first region is named (the fingerprints come from the VMs themselves).
 */
function secretProblems(config: GlobalStackConfig, regions: readonly RegionFacts[]): ConfigProblem[] {
  const [first, ...rest] = regions;
  if (first === undefined) return [];
  const problems: ConfigProblem[] = [];
  for (const [offset, facts] of rest.entries()) {
    if (!facts.acceptedSecretFingerprints.some((f) => first.acceptedSecretFingerprints.includes(f))) {
      problems.push({
        key: fullKey(`regions[${offset + 1}].stack`),
        shownValue: JSON.stringify(config.regions[offset + 1].stack),
        message:
          `accepts none of the secrets ${first.stack} accepts (fingerprints ${facts.acceptedSecretFingerprints.join(", ") || "none"} vs ` +
          `${first.acceptedSecretFingerprints.join(", ") || "none"}), so credentials minted for one region fail in the other. ` +
          "Set the same coturn:authSecret on every region stack (rotate them together with npm run rotate)",
      });
    }
  }
  return problems;
}
