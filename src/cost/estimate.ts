/**
 * The monthly cost of relaying a given load: on each cloud (VMs, static IPs, egress) and on managed TURN services
 * (per-GB list prices, free tiers), from the shipped price file. Pure.
 *
 * Traffic model (docs/sizing-and-cost.md, "What it costs"): a relayed call sends each participant's stream through the relay once; the
 * server receives it (ingress, free everywhere) and sends it on (egress, billed by clouds). Managed services bill as
 * they say: Twilio the bytes its TURN client sends and receives (twice the egress), Cloudflare server-to-client only.
 */
import type { DeployCloud } from "../config/schema";
import { networkLimit } from "../config/networkLimits";
import { TIGHT_BANDWIDTH_SHARE } from "../config/capacity";
import { CLOUD_PRICES, MANAGED_TURN_PRICES, type VmPrice } from "./prices";

/** Hours in a billing month, as the clouds count them. */
export const HOURS_PER_MONTH = 730;

/** The load to price. */
export interface CostLoad {
  /** Calls per month, relayed or not. */
  readonly callsPerMonth: number;
  /** Average call length, minutes. */
  readonly minutesPerCall: number;
  /** Participants per call. */
  readonly participantsPerCall: number;
  /** Bitrate per participant and direction, kbit/s. */
  readonly bitrateKbps: number;
  /** Share of calls that go through the relay (0-1). */
  readonly relayedShare: number;
}

/** One cloud deployment to price. */
export interface CloudDeployment {
  readonly cloud: DeployCloud;
  readonly region: string;
  readonly instanceType: string;
  /** Servers (VMs with a static IP each), all regions together. */
  readonly servers: number;
}

/** One row of the estimate. */
export interface CostRow {
  /** Who: `aws t4g.small ×2 (us-east-1)` or a service name. */
  readonly option: string;
  /** Fixed part per month (VMs and IPs), USD. */
  readonly fixedUsd: number;
  /** GB billed. */
  readonly billedGb: number;
  /** Traffic part per month, USD. */
  readonly trafficUsd: number;
  /** Total per month, USD. */
  readonly totalUsd: number;
  /** What the row assumes (price region, free tier used). */
  readonly note: string;
}

/** GB (10^9 bytes) the relay sends to clients per month. */
export function relayEgressGb(load: CostLoad): number {
  const relayedSeconds = load.callsPerMonth * load.relayedShare * load.minutesPerCall * 60;
  return (relayedSeconds * load.participantsPerCall * load.bitrateKbps * 1000) / 8 / 1e9;
}

function vmPrice(deployment: CloudDeployment): { price: VmPrice; pricedAt: string } | undefined {
  const vms = CLOUD_PRICES[deployment.cloud].vms;
  const exact = vms[`${deployment.region}/${deployment.instanceType}`] ?? vms[`*/${deployment.instanceType}`];
  if (exact) return { price: exact, pricedAt: deployment.region };
  const elsewhere = Object.entries(vms).find(([key]) => key.endsWith(`/${deployment.instanceType}`));
  return elsewhere ? { price: elsewhere[1], pricedAt: elsewhere[0].split("/")[0] } : undefined;
}

/** Average relayed calls in progress over the month. */
export function averageRelayedCalls(load: CostLoad): number {
  return (load.callsPerMonth * load.relayedShare * load.minutesPerCall) / (HOURS_PER_MONTH * 60);
}

/**
 * Servers of `instanceType` the peak needs (the average times `peakFactor`), each kept under the share of its
 * sustained bandwidth that sizing calls tight; at least `minimum`. Undefined when the size's limit is not shipped.
 */
export function serversForPeak(cloud: string, instanceType: string, load: CostLoad, peakFactor: number, minimum = 1): number | undefined {
  const limit = networkLimit(cloud, instanceType);
  if (!limit) return undefined;
  const peakMbps = (averageRelayedCalls(load) * peakFactor * load.participantsPerCall * load.bitrateKbps) / 1000;
  return Math.max(minimum, Math.ceil(peakMbps / (limit.sustainedGbps * 1000 * TIGHT_BANDWIDTH_SHARE)));
}

/** Prices a deployment on its cloud; undefined when the price file does not know the VM size. */
export function cloudCost(deployment: CloudDeployment, load: CostLoad): CostRow | undefined {
  const found = vmPrice(deployment);
  if (!found) return undefined;
  const prices = CLOUD_PRICES[deployment.cloud];
  const fixedUsd = deployment.servers * HOURS_PER_MONTH * (found.price.usdPerHour + prices.staticIpUsdPerHour);
  const egressGb = relayEgressGb(load);
  const free = prices.freeEgressGb + found.price.includedEgressGb * deployment.servers;
  const billedGb = Math.max(0, egressGb - free);
  const trafficUsd = billedGb * prices.egressUsdPerGb;
  const pricedElsewhere = found.pricedAt !== deployment.region && found.pricedAt !== "*";
  return {
    option: `${deployment.cloud} ${deployment.instanceType} ×${deployment.servers}`,
    fixedUsd,
    billedGb,
    trafficUsd,
    totalUsd: fixedUsd + trafficUsd,
    note:
      `${free} GB free or included, then $${prices.egressUsdPerGb}/GB` +
      (pricedElsewhere ? `; VM priced at ${found.pricedAt} (no ${deployment.region} price shipped)` : ""),
  };
}

/** Prices the same load on each managed TURN service. */
export function managedCosts(load: CostLoad): CostRow[] {
  const egressGb = relayEgressGb(load);
  return MANAGED_TURN_PRICES.map((service) => {
    const countedGb = service.billing === "sent-and-received" ? egressGb * 2 : egressGb;
    const billedGb = Math.max(0, countedGb - service.freeGb);
    const trafficUsd = billedGb * service.usdPerGb;
    return {
      option: service.name,
      fixedUsd: 0,
      billedGb,
      trafficUsd,
      totalUsd: trafficUsd,
      note: `${service.billing === "sent-and-received" ? "bytes sent and received" : "server-to-client bytes"}; ${service.freeGb} GB free, then $${service.usdPerGb}/GB`,
    };
  });
}

/** The default deployment per cloud: the size each cloud defaults to, in a region the price file covers. */
export const DEFAULT_DEPLOYMENTS: readonly CloudDeployment[] = [
  { cloud: "aws", region: "us-east-1", instanceType: "t4g.small", servers: 1 },
  { cloud: "gcp", region: "us-central1", instanceType: "e2-small", servers: 1 },
  { cloud: "digitalocean", region: "nyc3", instanceType: "s-1vcpu-2gb", servers: 1 },
];
