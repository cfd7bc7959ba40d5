/**
 * The shared name in front of the regions: a DNS-only Cloudflare load balancer (one pool per region with its servers
 * as origins, a TCP health monitor on the TLS port, steering by the pools' coordinates, a fallback pool), or, in
 * `dns-records` mode, one A record per serving server. Users can import it into their own Pulumi programs.
 *
 * UDP is not monitored. Cloudflare's UDP check ("UDP-ICMP") pings the origin, sends one datagram and calls the origin
 * healthy when no ICMP port-unreachable comes back; our firewalls let no ICMP in or out, so a stopped coturn would
 * still look healthy. The TLS listener is served by the same coturn process as UDP, so a TCP connect to it is the
 * check that can fail when the relay is down.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { GlobalStackConfig } from "../config/stackConfig";
import type { GlobalPlan } from "../global/globalPlan";
import { CLOUDFLARE_REGIONS } from "../global/locations";

/** Inputs of `GeoDns`. */
export interface GeoDnsArgs {
  /** The validated global stack config. */
  readonly config: GlobalStackConfig;
  /** The plan (see `planGlobal`). */
  readonly plan: GlobalPlan;
}

/** A record of the shared name, as the global stack outputs it (`dns-records` mode). */
export interface SharedRecordOutput {
  /** The shared name. */
  readonly name: string;
  /** Always `A`. */
  readonly type: "A";
  /** One server's static IP. */
  readonly content: string;
  /** Seconds. */
  readonly ttl: number;
  /** The pool (region) of the server. */
  readonly pool: string;
  /** `cloudflare` when `pulumi up` manages it, `you` when it must be created by hand. */
  readonly managedBy: "cloudflare" | "you";
}

/** The shared name, answered by the nearest healthy region. */
export class GeoDns extends pulumi.ComponentResource {
  /** Cloudflare's id of the load balancer (`load-balancer` mode). */
  readonly loadBalancerId: pulumi.Output<string> | undefined;
  /** Cloudflare's id of each pool, by pool name (`load-balancer` mode). */
  readonly poolIds: Readonly<Record<string, pulumi.Output<string>>>;
  /** The records of the shared name (`dns-records` mode), managed or to create by hand. */
  readonly records: SharedRecordOutput[];

  /** Creates the load balancer or the records. */
  constructor(name: string, args: GeoDnsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:index:GeoDns", name, {}, opts);
    const { config, plan } = args;
    const provider = config.cloudflare
      ? new cloudflare.Provider(`${name}-cloudflare`, { apiToken: pulumi.secret(config.cloudflare.apiToken) }, { parent: this })
      : undefined;
    const child = { parent: this, ...(provider ? { provider } : {}) };
    this.records = [];
    this.poolIds = {};
    this.loadBalancerId = undefined;

    if (config.mode === "load-balancer") {
      const cf = config.cloudflare;
      if (!cf?.accountId) throw new Error("unreachable: load-balancer mode was validated to have a Cloudflare account");
      const monitor = new cloudflare.LoadBalancerMonitor(
        `${name}-monitor-tls`,
        {
          accountId: cf.accountId,
          type: "tcp",
          method: "connection_established",
          port: plan.monitorPort,
          interval: config.monitor.interval,
          timeout: config.monitor.timeout,
          retries: config.monitor.retries,
          consecutiveDown: config.monitor.consecutiveDown,
          consecutiveUp: config.monitor.consecutiveUp,
          description: `coturn ${config.domain}: TCP connect to TURN over TLS (${plan.monitorPort})`,
        },
        child,
      );
      const poolIds: Record<string, pulumi.Output<string>> = {};
      for (const pool of plan.pools) {
        poolIds[pool.name] = new cloudflare.LoadBalancerPool(
          `${name}-pool-${pool.name}`,
          {
            accountId: cf.accountId,
            name: `${config.domain.replaceAll(".", "-")}-${pool.name}`,
            description: `coturn ${config.domain}: ${pool.place} (stack ${pool.stack})${pool.enabled ? "" : ", drained"}`,
            enabled: pool.enabled,
            origins: pool.origins.map((o) => ({ name: o.name, address: o.address, enabled: true, weight: 1 })),
            minimumOrigins: 1,
            monitor: monitor.id,
            // Three probes from each of Cloudflare's 13 regions ("All Regions"); a server is healthy when most regions say so.
            checkRegions: [...CLOUDFLARE_REGIONS],
            latitude: pool.location.latitude,
            longitude: pool.location.longitude,
          },
          child,
        ).id;
      }
      this.poolIds = poolIds;
      const ids = (names: readonly string[]): pulumi.Output<string>[] => names.map((n) => poolIds[n]);
      this.loadBalancerId = new cloudflare.LoadBalancer(
        `${name}-load-balancer`,
        {
          zoneId: cf.zoneId,
          name: config.domain,
          description: `coturn TURN servers behind ${config.domain} (managed by pulumi, stack ${config.stack})`,
          // TURN is not HTTP: Cloudflare's proxy cannot carry it, so the load balancer only answers DNS.
          proxied: false,
          ttl: config.ttlSeconds,
          steeringPolicy: config.steering,
          // Locate the caller by its resolver's EDNS client subnet when sent, else by the resolver's address.
          locationStrategy: { preferEcs: "always", mode: "resolver_ip" },
          defaultPools: ids(plan.servingPools),
          fallbackPool: poolIds[plan.fallbackPool],
          ...(config.steering === "geo"
            ? { regionPools: Object.fromEntries(Object.entries(plan.answers).map(([code, pools]) => [code, ids(pools)])) }
            : {}),
          sessionAffinity: "none",
        },
        child,
      ).id;
    } else {
      for (const pool of plan.pools.filter((p) => p.enabled)) {
        for (const origin of pool.origins) {
          const record: SharedRecordOutput = {
            name: config.domain,
            type: "A",
            content: origin.address,
            ttl: Math.max(config.ttlSeconds, 60),
            pool: pool.name,
            managedBy: config.cloudflare ? "cloudflare" : "you",
          };
          this.records.push(record);
          if (config.cloudflare) {
            new cloudflare.DnsRecord(
              // Pool names are unique; server names are only unique within their region's project.
              `${name}-record-${pool.name}-${origin.name}`,
              {
                zoneId: config.cloudflare.zoneId,
                name: record.name,
                type: record.type,
                content: record.content,
                ttl: record.ttl,
                proxied: false,
                comment: `coturn TURN server ${origin.name} (${pool.place}): the shared name (managed by pulumi)`,
              },
              child,
            );
          }
        }
      }
    }
    this.registerOutputs({ loadBalancerId: this.loadBalancerId, records: this.records });
  }
}
