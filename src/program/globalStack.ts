/**
 * The global stack: reads every region stack listed in `coturn:regions` (StackReferences), checks that they fit
 * behind one name, and only then creates the GeoDNS in front of them. Every problem of every region is reported at
 * once, before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { GeoDns, type SharedRecordOutput } from "../components/geoDns";
import type { Listener } from "../config/schema";
import type { GlobalStackConfig } from "../config/stackConfig";
import { StackConfigError, type ConfigProblem } from "../config/configProblems";
import { fullKey } from "../config/rawStackConfig";
import { planGlobal, type GlobalPlan } from "../global/globalPlan";
import type { CloudflareRegion } from "../global/locations";
import { regionFacts, type RegionFacts } from "../global/regionFacts";
import { iceServersTemplate, turnUrls, type IceServerTemplate } from "../plan/endpoints";

/** One region as the global stack outputs it: what the probe checks, server by server. */
export interface GlobalRegionOutput {
  /** The region stack. */
  readonly stack: string;
  /** Its pool. */
  readonly pool: string;
  /** `<cloud> <region>`. */
  readonly place: string;
  /** True while drained. */
  readonly drained: boolean;
  /** Its servers. */
  readonly servers: ReadonlyArray<{ readonly name: string; readonly publicIp: string; readonly domain: string }>;
}

/** The outputs of the global stack. */
export interface GlobalStackOutputs {
  /** The shared name. */
  readonly domain: string;
  /** `load-balancer` or `dns-records`. */
  readonly mode: string;
  /** turn:/turns: URLs of the shared name (listeners every serving region has). */
  readonly urls: string[];
  /** iceServers for browsers, without credentials: apps add what they mint with the regions' common secret. */
  readonly iceServers: IceServerTemplate[];
  /** Every region, drained ones included. */
  readonly regions: GlobalRegionOutput[];
  /** The pool answered when every other is unhealthy. */
  readonly fallbackPool: string;
  /** For each Cloudflare region, the serving pools nearest first (a drained region leaves every list). */
  readonly answers: Readonly<Record<CloudflareRegion, readonly string[]>>;
  /** The records of the shared name (`dns-records` mode). */
  readonly sharedRecords: SharedRecordOutput[];
  /** Cloudflare's id of the load balancer (`load-balancer` mode). */
  readonly loadBalancerId: pulumi.Output<string> | undefined;
}

/** Reads one region stack's outputs; a stack the backend does not have becomes a problem, not a crash. */
async function readRegion(index: number, stack: string): Promise<RegionFacts | ConfigProblem> {
  const key = fullKey(`regions[${index}].stack`);
  let outputs: Record<string, unknown>;
  try {
    const reference = new pulumi.StackReference(stack);
    // A stack the backend does not have rejects here; `outputs.apply` alone would never run and never report it.
    await reference.getOutputDetails("cloud");
    outputs = await new Promise<Record<string, unknown>>((resolve) => reference.outputs.apply(resolve));
  } catch (error) {
    return {
      key,
      shownValue: JSON.stringify(stack),
      message:
        `could not be read (${error instanceof Error ? error.message : String(error)}). Check the name with \`pulumi stack ls --all\` ` +
        "(self-managed backends name stacks organization/coturn/<stack>), deploy the region first, or remove it from coturn:regions",
    };
  }
  const facts = regionFacts(stack, outputs);
  return "problem" in facts ? { key, shownValue: JSON.stringify(stack), message: facts.problem } : facts;
}

/** The listeners every serving region has: the shared name's URLs may only offer what every answer serves. */
function commonListeners(plan: GlobalPlan, regions: readonly RegionFacts[]): Set<Listener> {
  const serving = regions.filter((r) => plan.pools.some((p) => p.stack === r.stack && p.enabled));
  const [first, ...rest] = serving;
  return new Set((first?.listeners ?? []).filter((l) => rest.every((r) => r.listeners.includes(l))));
}

/** Reads the regions, checks them, and creates the GeoDNS; throws a `RunError` listing every problem found. */
export async function globalStack(config: GlobalStackConfig): Promise<GlobalStackOutputs> {
  const read = await Promise.all(config.regions.map((entry, i) => readRegion(i, entry.stack)));
  const unreadable = read.filter((r): r is ConfigProblem => "key" in r);
  const regions = read as RegionFacts[];
  const result = unreadable.length > 0 ? { problems: unreadable } : planGlobal(config, regions);
  if ("problems" in result) throw new pulumi.RunError(new StackConfigError(config.stack, result.problems).message);
  const { plan } = result;

  const dns = new GeoDns(config.stack, { config, plan });
  const endpoints = { domain: config.domain, listeners: commonListeners(plan, regions) };
  return {
    domain: config.domain,
    mode: config.mode,
    urls: turnUrls(endpoints).map((u) => u.url),
    iceServers: iceServersTemplate(endpoints),
    regions: plan.pools.map((pool) => ({
      stack: pool.stack,
      pool: pool.name,
      place: pool.place,
      drained: !pool.enabled,
      servers: pool.origins.map((o) => ({ name: o.name, publicIp: o.address, domain: o.domain })),
    })),
    fallbackPool: plan.fallbackPool,
    answers: plan.answers,
    sharedRecords: dns.records,
    loadBalancerId: dns.loadBalancerId,
  };
}
