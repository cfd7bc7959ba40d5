/**
 * Rules and assembly of the global stack's config (`coturn:cloud: global`): the region list, the GeoDNS mode and what
 * each mode needs from Cloudflare. Each key was parsed on its own by `keyChecks.ts`; these are the rules across keys.
 */
import type { ConfigKey, ParsedConfigKeys } from "./schema";
import type { GlobalStackConfig } from "./stackConfig";
import { problemAdder, type ConfigProblem } from "./configProblems";
import { fullKey, type RawStackConfig } from "./rawStackConfig";

type Parsed = Partial<ParsedConfigKeys>;

/** Rules across the global stack's keys; each runs only when the keys it needs parsed. */
export function globalStackProblems(c: Parsed, raw: RawStackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const isSet = (key: ConfigKey): boolean => raw.values[fullKey(key)] !== undefined;

  if (!isSet("regions")) {
    add("regions", undefined, "is required: the region stacks behind the shared name. Set it: pulumi config set --path 'coturn:regions[0].stack' organization/coturn/aws-eu-central-1");
  }
  const regions = c.regions ?? [];
  const seenStacks = new Map<string, number>();
  const seenPools = new Map<string, number>();
  for (const [i, region] of regions.entries()) {
    const earlier = seenStacks.get(region.stack);
    if (earlier !== undefined) add(`regions[${i}].stack`, region.stack, `is listed twice (also regions[${earlier}]). List each region stack once`);
    else seenStacks.set(region.stack, i);
    if (region.pool !== undefined) {
      const claimed = seenPools.get(region.pool);
      if (claimed !== undefined) {
        add(`regions[${i}].pool`, region.pool, `is claimed by regions[${claimed}] too. Give each region its own pool, or run more servers in one region (coturn:serverCount)`);
      } else seenPools.set(region.pool, i);
    }
    if ((region.latitude === undefined) !== (region.longitude === undefined)) {
      add(`regions[${i}]`, { latitude: region.latitude, longitude: region.longitude }, "sets only one of latitude and longitude. Set both, or neither to use the cloud region's city");
    }
  }
  const serving = regions.filter((r) => !r.drain);
  if (regions.length > 0 && serving.length === 0) {
    add("regions", regions.map((r) => r.stack), "drains every region, so the shared name would answer nothing. Keep at least one region with drain: false");
  }
  const fallback = c.geoDns?.fallbackRegion;
  if (fallback !== undefined && regions.length > 0) {
    const entry = regions.find((r) => r.stack === fallback);
    if (!entry) add("geoDns.fallbackRegion", fallback, `is not one of coturn:regions[].stack (${regions.map((r) => r.stack).join(", ")}). Use one of them`);
    else if (entry.drain) add("geoDns.fallbackRegion", fallback, "is drained. Name a region that serves, or unset it to use the first one that does");
  }

  const mode = c.geoDns?.mode;
  const tokenHelp = (rights: string): string =>
    `create a token with ${rights} (Cloudflare dashboard > My Profile > API Tokens), then: pulumi config set --secret coturn:cloudflareApiToken <token>`;
  if (mode === "load-balancer") {
    if (!isSet("cloudflareZoneId")) add("cloudflareZoneId", undefined, 'is required with geoDns.mode "load-balancer" (the zone of the shared name): pulumi config set coturn:cloudflareZoneId <32 hex digits>');
    if (!isSet("cloudflareAccountId")) {
      add("cloudflareAccountId", undefined, 'is required with geoDns.mode "load-balancer" (pools and monitors belong to the account): pulumi config set coturn:cloudflareAccountId <32 hex digits>');
    }
    if (!isSet("cloudflareApiToken")) add("cloudflareApiToken", undefined, `is required with geoDns.mode "load-balancer": ${tokenHelp("Account > Load Balancing: Monitors and Pools > Edit and Zone > Load Balancers > Edit")}`);
  } else if (mode === "dns-records") {
    if (isSet("cloudflareZoneId") !== isSet("cloudflareApiToken")) {
      add(
        isSet("cloudflareZoneId") ? "cloudflareApiToken" : "cloudflareZoneId",
        undefined,
        `is required with ${isSet("cloudflareZoneId") ? "coturn:cloudflareZoneId" : "coturn:cloudflareApiToken"}: set both for records in Cloudflare, or neither to make the records by hand (${tokenHelp("Zone > DNS > Edit on the zone")})`,
      );
    }
    if (isSet("cloudflareAccountId")) add("cloudflareAccountId", c.cloudflareAccountId, 'is only used with geoDns.mode "load-balancer". Remove it');
  }
  return problems;
}

/** The typed global stack config, from keys that passed validation. */
export function assembleGlobal(raw: RawStackConfig, c: ParsedConfigKeys): GlobalStackConfig {
  const regions = (c.regions ?? []).map((r) => ({
    stack: r.stack,
    ...(r.pool === undefined ? {} : { pool: r.pool }),
    drain: r.drain,
    ...(r.latitude === undefined || r.longitude === undefined ? {} : { location: { latitude: r.latitude, longitude: r.longitude } }),
  }));
  const fallbackStack = c.geoDns.fallbackRegion ?? regions.find((r) => !r.drain)?.stack;
  if (fallbackStack === undefined) throw new Error("unreachable: a config that drains every region was refused");
  return {
    cloud: "global",
    stack: raw.stack,
    domain: c.domain,
    regions,
    mode: c.geoDns.mode,
    steering: c.geoDns.steering,
    fallbackStack,
    ttlSeconds: c.geoDns.ttl,
    monitor: c.geoDns.monitor,
    ...(c.cloudflareZoneId === undefined || c.cloudflareApiToken === undefined
      ? {}
      : {
          cloudflare: {
            zoneId: c.cloudflareZoneId,
            apiToken: c.cloudflareApiToken,
            ...(c.cloudflareAccountId === undefined ? {} : { accountId: c.cloudflareAccountId }),
          },
        }),
  };
}
