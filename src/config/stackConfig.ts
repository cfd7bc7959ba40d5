/**
 * The typed, validated description of one stack that everything downstream takes: `StackConfig` for a stack that
 * `pulumi up` deploys to a cloud, `LocalStackConfig` for a stack that `npm run local` runs on this machine. Both
 * share `CoturnSettings`, everything coturn itself is told.
 */
import type { SizingPlan } from "./capacity";
import type { RateLimits } from "./rateLimits";
import type { AcmeCa, DeployCloud, GeoDnsMode, GLOBAL_CLOUD, ImageChoice, Listener, LOCAL_CLOUD, RotationPhase, SteeringPolicy } from "./schema";

/** An inclusive UDP port range. */
export interface PortRange {
  /** First port, inclusive. */
  readonly min: number;
  /** Last port, inclusive. */
  readonly max: number;
}

/** Let's Encrypt issuance on the VM, with the DNS-01 challenge answered through Cloudflare. */
export interface AcmeSettings {
  /** Contact address of the ACME account, if any (Let's Encrypt sends no expiry emails since 2025). */
  readonly email?: string;
  /** Which Let's Encrypt CA. */
  readonly ca: AcmeCa;
  /** The CA's ACME directory URL. */
  readonly directoryUrl: string;
  /** Cloudflare API token the VM creates the `_acme-challenge` TXT records with. */
  readonly dnsApiToken: string;
}

/** TLS material for `turns:` listeners. */
export type TlsSource =
  | { readonly mode: "self-signed" }
  | { readonly mode: "provided"; readonly certificateChain: string; readonly privateKey: string }
  | ({ readonly mode: "acme" } & AcmeSettings);

/** Cloudflare DNS records that `pulumi up` manages for a region. */
export interface CloudflareDns {
  /** The zone of the names. */
  readonly zoneId: string;
  /** Token with DNS edit rights on the zone. */
  readonly apiToken: string;
  /** Whether the shared `domain` also points at this server. */
  readonly publishSharedName: boolean;
}

/** Allocation and bandwidth limits, in coturn's terms (0 = no limit where allowed). */
export interface Quotas {
  /** coturn `user-quota`. */
  readonly allocationsPerUser: number;
  /** coturn `total-quota`. */
  readonly totalAllocations: number;
  /** coturn `max-bps`. */
  readonly bytesPerSecondPerAllocation: number;
  /** coturn `bps-capacity`. */
  readonly totalBytesPerSecond: number;
}

/** SSH access: `pulumi up` delivers the auth secrets over it; admins log in only when they have keys. */
export interface SshAccess {
  /** IPv4 CIDRs allowed to reach port 22 (never empty on a cloud stack). */
  readonly allowedCidrs: readonly string[];
  /** OpenSSH public keys of the `turnops` admin user; none = no admin user. */
  readonly publicKeys: readonly string[];
}

/** Who may scrape a server's metrics (see src/monitoring). Nobody by default: they are read over SSH. */
export interface MetricsAccess {
  /** IPv4 CIDRs of Prometheus servers allowed to scrape over TLS with basic auth; empty = loopback only. */
  readonly scraperCidrs: readonly string[];
  /** The scrapers' basic-auth password (a secret), when scrapers are allowed. */
  readonly password?: string;
}

/** A secret rotation in progress, as `npm run rotate` records it in stack config. */
export interface RotationState {
  /** `added`: the new secret is active and deployed or about to be; `switched`: apps mint with it. */
  readonly phase: RotationPhase;
  /** ISO time the new secret was added. */
  readonly addedAt: string;
  /** ISO time the operator confirmed every app mints with the new secret. */
  readonly switchedAt?: string;
}

/** What coturn itself is told, the same for a cloud VM and a local process. */
export interface CoturnSettings {
  /** Pulumi stack name. */
  readonly stack: string;
  /** DNS name clients connect to. */
  readonly domain: string;
  /** TURN realm. */
  readonly realm: string;
  /** UDP relay range. */
  readonly relayPorts: PortRange;
  /** Listeners that are on. */
  readonly listeners: ReadonlySet<Listener>;
  /** Auth secrets: the first is the one apps mint with, the rest are still accepted during a rotation. */
  readonly authSecrets: readonly [string, ...string[]];
  /** TLS certificate source. */
  readonly tls: TlsSource;
  /** Quotas. */
  readonly quotas: Quotas;
}

/** A test stack's lifetime, as its stack tags record it. */
export interface EphemeralStack {
  /** Time to live as written (`4h`). */
  readonly timeToLive: string;
  /** When it ends: UTC, ISO 8601 (`2026-11-22T18:00:00Z`). */
  readonly expiresAt: string;
}

/** Everything a region stack on a cloud needs, validated, with defaults applied. */
export interface StackConfig extends CoturnSettings {
  /** Cloud provider. */
  readonly cloud: DeployCloud;
  /** Cloud region. */
  readonly region: string;
  /** Zone inside the region, when pinned by config. */
  readonly availabilityZone?: string;
  /** VM size. */
  readonly instanceType: string;
  /** OS image. */
  readonly image: ImageChoice;
  /** SSH access. */
  readonly ssh: SshAccess;
  /** Who may scrape the metrics. */
  readonly metrics: MetricsAccess;
  /** What one source address may do before the kernel drops its excess. */
  readonly rateLimits: RateLimits;
  /** Extra resource tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** A throw-away test stack's time to live and expiry; undefined for a lasting stack. */
  readonly ephemeral: EphemeralStack | undefined;
  /** This server's own DNS name (the shared name is `domain`). */
  readonly regionDomain: string;
  /** Cloudflare DNS automation, when configured; otherwise the records are made by hand. */
  readonly cloudflare?: CloudflareDns;
  /** Longest credential lifetime apps may mint, in seconds. */
  readonly maxCredentialTtlSeconds: number;
  /** A secret rotation in progress. */
  readonly rotation?: RotationState;
  /** How many TURN servers the region runs, each with its own VM, static IP and certificate. */
  readonly serverCount: number;
  /** The sizing of each server for `coturn:capacity`, when set (its warnings are shown at preview). */
  readonly sizing?: SizingPlan;
}

/** Which of a region's servers a config describes (see `serverIdentity`). */
export interface ServerIdentity {
  /** The server's own name, when the region runs more than one. */
  readonly serverDomain?: string;
}

/** The config of one server of a region: the region's config and the server's own name. */
export type ServerConfig = StackConfig & ServerIdentity;

/**
 * A local stack (`coturn:cloud: local`): coturn as a process on this machine. It has no cloud settings, one secret
 * made fresh for each run, and a self-signed certificate made fresh for each run.
 */
export interface LocalStackConfig extends CoturnSettings {
  /** Always `local`. */
  readonly cloud: typeof LOCAL_CLOUD;
  /** The run's one secret. */
  readonly authSecrets: readonly [string];
  /** Always self-signed. */
  readonly tls: { readonly mode: "self-signed" };
}

/** One region stack behind the global stack's shared name. */
export interface GlobalRegionEntry {
  /** The region stack as a StackReference names it (`organization/coturn/aws-eu-central-1`). */
  readonly stack: string;
  /** Pool name when set in config; otherwise `<cloud>-<region>` from the stack's outputs. */
  readonly pool?: string;
  /** Out of the answers (pool disabled, no records), nothing destroyed. */
  readonly drain: boolean;
  /** Coordinates set in config; otherwise those of the cloud region's city. */
  readonly location?: GeoLocation;
}

/** A point on the globe, in decimal degrees. */
export interface GeoLocation {
  /** -90..90. */
  readonly latitude: number;
  /** -180..180. */
  readonly longitude: number;
}

/** Health monitor settings of the load balancer (Cloudflare's names). */
export interface HealthMonitorSettings {
  /** Seconds between checks. */
  readonly interval: number;
  /** Seconds before a check fails. */
  readonly timeout: number;
  /** Immediate retries of a timed-out check. */
  readonly retries: number;
  /** Failed checks in a row before an origin is unhealthy. */
  readonly consecutiveDown: number;
  /** Passed checks in a row before it is healthy again. */
  readonly consecutiveUp: number;
}

/** The global stack (`coturn:cloud: global`): the shared name in front of region stacks, validated. */
export interface GlobalStackConfig {
  /** Always `global`. */
  readonly cloud: typeof GLOBAL_CLOUD;
  /** Pulumi stack name. */
  readonly stack: string;
  /** The shared name every region's certificate carries. */
  readonly domain: string;
  /** The region stacks, in config order. */
  readonly regions: readonly GlobalRegionEntry[];
  /** Load balancer or plain records. */
  readonly mode: GeoDnsMode;
  /** Steering policy (load balancer only). */
  readonly steering: SteeringPolicy;
  /** The region answered when every pool is unhealthy: never a drained one. */
  readonly fallbackStack: string;
  /** TTL of the answers, seconds. */
  readonly ttlSeconds: number;
  /** Health monitor (load balancer only). */
  readonly monitor: HealthMonitorSettings;
  /** Cloudflare zone and token; absent in `dns-records` mode without Cloudflare (records made by hand). */
  readonly cloudflare?: GlobalCloudflare;
}

/** Cloudflare settings of the global stack. */
export interface GlobalCloudflare {
  /** Zone of the shared name. */
  readonly zoneId: string;
  /** Token: DNS edit on the zone, and Load Balancing edit on the account in `load-balancer` mode. */
  readonly apiToken: string;
  /** Account of the pools and monitors (`load-balancer` mode). */
  readonly accountId?: string;
}
