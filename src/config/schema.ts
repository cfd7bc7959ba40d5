/**
 * The stack configuration schema: one entry per `coturn:<key>`, with its type, default and description.
 *
 * Each key is validated on its own (so one bad key never hides another, `keyChecks.ts`), then the rules across keys
 * (`crossKeyRules.ts`) run over the keys that parsed. docs/config-reference.md is generated from these definitions.
 * The formats of single values are in `valueFormats.ts`; which keys each kind of stack reads, in `keyChecks.ts`.
 */
import { z } from "zod";
import { MAX_CREDENTIAL_TTL_SECONDS, MIN_CREDENTIAL_TTL_SECONDS } from "./credentialLifetime";
import { ephemeralTimeToLiveProblem } from "./stackTags";
import { PEM_CERT, PEM_KEY, SSH_PUBLIC_KEY, authSecret, cloudflareToken, decimalNumber, flag, isFqdn, wholeNumber } from "./valueFormats";

/** The Pulumi project name, and so the config namespace: `pulumi config set coturn:domain …`. */
export const CONFIG_NAMESPACE = "coturn";

/**
 * The clouds `pulumi up` deploys to. Adding one: its adapter (src/clouds/), its profile and data tables (src/config/,
 * src/cost/, src/global/), its example stack (stacks/Pulumi.<cloud>-example.yaml) and its rows in the table-driven
 * tests (CONTRIBUTING.md). The other values of `coturn:cloud`: `local`, which runs coturn on this machine with
 * `npm run local` instead of deploying anything; and `global`, the stack that puts region stacks behind one name.
 */
export const DEPLOY_CLOUDS = ["aws", "gcp", "digitalocean"] as const;
/** Every value of `coturn:cloud`. */
export const CLOUDS = [...DEPLOY_CLOUDS, "local", "global"] as const;
/** A value of `coturn:cloud`. */
export type Cloud = (typeof CLOUDS)[number];
/** The `coturn:cloud` value of a local stack: coturn as a process on this machine, started by `npm run local`. */
export const LOCAL_CLOUD = "local" satisfies Cloud;
/** The `coturn:cloud` value of a global stack: GeoDNS in front of region stacks, no server of its own. */
export const GLOBAL_CLOUD = "global" satisfies Cloud;
/** A cloud that `pulumi up` deploys a TURN server to (every `coturn:cloud` value except `local` and `global`). */
export type DeployCloud = (typeof DEPLOY_CLOUDS)[number];

/** How the global stack puts regions behind the shared name. */
export const GEO_DNS_MODES = ["load-balancer", "dns-records"] as const;
/** A GeoDNS mode. */
export type GeoDnsMode = (typeof GEO_DNS_MODES)[number];
/** Cloudflare steering policies the global stack offers (both use each pool's coordinates). */
export const STEERING_POLICIES = ["proximity", "geo"] as const;
/** A steering policy. */
export type SteeringPolicy = (typeof STEERING_POLICIES)[number];
/** The most servers one region stack runs (each has its own static IP, VM and certificate). */
export const MAX_SERVERS_PER_REGION = 10;

/** Listener names: `udp`/`tcp` on 3478, `tls`/`dtls` on 5349, `tls-443` (TURN over TLS on 443). */
export const LISTENERS = ["udp", "tcp", "tls", "dtls", "tls-443"] as const;
/** One TURN listener a stack can turn on. */
export type Listener = (typeof LISTENERS)[number];

/** Official images the VM can boot from (looked up at deploy time, never hard-coded). */
export const IMAGES = ["debian-12", "ubuntu-24.04"] as const;
/** A VM image choice. */
export type ImageChoice = (typeof IMAGES)[number];

/** How the TLS certificate for `turns:` reaches the VM. */
export const TLS_MODES = ["self-signed", "provided", "acme"] as const;
/** A TLS certificate mode. */
export type TlsMode = (typeof TLS_MODES)[number];

/** Fixed listener ports; the relay range may not overlap them. */
export const LISTENER_PORTS = { plain: 3478, tls: 5349, tls443: 443 } as const;

/** Phases of a secret rotation (see `npm run rotate`). */
export const ROTATION_PHASES = ["added", "switched"] as const;
/** A phase of a secret rotation. */
export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** Let's Encrypt's two CAs: `staging` issues untrusted certificates with generous rate limits, for test stacks. */
export const ACME_CAS = ["staging", "production"] as const;
/** A Let's Encrypt CA choice. */
export type AcmeCa = (typeof ACME_CAS)[number];
/** The ACME directory of each Let's Encrypt CA. */
export const ACME_DIRECTORY_URLS: Readonly<Record<AcmeCa, string>> = {
  staging: "https://acme-staging-v02.api.letsencrypt.org/directory",
  production: "https://acme-v02.api.letsencrypt.org/directory",
};

/**
 * One schema per config key. Keys are validated one by one; `stackConfigSchema` below joins them for types and docs.
 */
export const configKeySchemas = {
  cloud: z
    .enum(CLOUDS)
    .describe(
      "Cloud provider of this region stack: `aws`, `gcp` (Google Cloud) or `digitalocean`. `local`: coturn on your machine with `npm run local` (same " +
        "config and hardening; `pulumi up` refuses it; `region`, `availabilityZone`, `instanceType`, `image`, `ssh`, " +
        "`tags`, `ephemeral` and `rotation` may not be set). `global`: the GeoDNS stack in front of region stacks (keys: `domain`, " +
        "`regions`, `geoDns`, `cloudflareZoneId`, `cloudflareApiToken`, `cloudflareAccountId`).",
    ),
  region: z
    .string()
    .describe(
      "Cloud region the TURN server runs in: `eu-central-1` (aws), `europe-west3` (gcp), `fra1` (digitalocean). Not set for `local`.",
    ),
  availabilityZone: z
    .string()
    .optional()
    .describe(
      "Zone inside the region (`eu-central-1a` on aws, `europe-west3-a` on gcp; DigitalOcean has none). Default: the " +
        "first zone (by name) that offers `instanceType` on aws, the first zone (by name) that is up on gcp.",
    ),
  domain: z
    .string()
    .refine(isFqdn, {
      error:
        'is not a fully qualified domain name. Use the lowercase DNS name clients will connect to, e.g. "turn.example.com"',
    })
    .describe("DNS name the server answers as (`turn:`/`turns:` URLs, TLS certificate name)."),
  realm: z
    .string()
    .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: "may only contain letters, digits, dots and hyphens, e.g. example.com" })
    .optional()
    .describe("TURN realm. Default: the `domain`."),
  instanceType: z
    .string()
    .optional()
    .describe(
      "VM size. Default per cloud, each relays a few hundred calls: `t4g.small` on aws (2 vCPU, 2 GiB; Graviton `…g.` " +
        "types boot the arm64 image), `e2-small` on gcp (`t2a-`/`c4a-` types boot arm64), `s-1vcpu-2gb` on digitalocean.",
    ),
  image: z
    .enum(IMAGES)
    .optional()
    .describe(
      "Official OS image, looked up at deploy time. Default: `debian-12`, except on gcp, where only `ubuntu-24.04` runs " +
        "cloud-init (Debian's Compute Engine images ship without it).",
    ),
  relayPorts: z
    .string()
    .default("49152-65535")
    .describe("UDP port range for relayed media (`min-max`, within 1024-65535). One allocation uses one port."),
  listeners: z
    .array(z.enum(LISTENERS))
    .min(1, { error: 'is empty; a server needs at least one listener, e.g. ["udp", "tcp", "tls"]' })
    .default(["udp", "tcp", "tls", "dtls"])
    .describe(
      "Listeners to open: `udp`/`tcp` on 3478, `tls`/`dtls` on 5349, `tls-443` (TURN over TLS on 443 for clients behind strict firewalls; needs `tls`; not with `local`).",
    ),
  authSecret: authSecret.describe(
    "Required secret. Shared secret that apps mint TURN REST credentials with (`pulumi config set --secret`, 32+ characters). " +
      "Not set for `local`: `npm run local` makes a fresh one each run.",
  ),
  previousAuthSecrets: z
    .array(authSecret)
    .max(5, { error: "holds more than 5 secrets. Drop the oldest ones once their credentials have expired" })
    .default([])
    .describe(
      "Secrets still accepted during a rotation (`npm run rotate` sets them, `--secret`). Credentials minted with any of them work.",
    ),
  maxCredentialTtl: wholeNumber()
    .pipe(z.int().min(MIN_CREDENTIAL_TTL_SECONDS).max(MAX_CREDENTIAL_TTL_SECONDS))
    .default(MAX_CREDENTIAL_TTL_SECONDS)
    .describe(
      "Longest lifetime in seconds of the credentials your apps mint. `npm run mint` refuses longer ones, and `npm run rotate` keeps an old " +
        "secret this long after apps stopped minting with it. Calls outlive their credential: coturn only checks it when an allocation starts.",
    ),
  rotation: z
    .strictObject({
      phase: z.enum(ROTATION_PHASES).describe("`added`: the new secret is active, apps may still mint with the old one. `switched`: apps mint with the new one."),
      addedAt: z.iso.datetime({ offset: true, error: "is not an ISO 8601 time such as 2026-11-21T10:00:00Z" }).describe("When the new secret was added."),
      switchedAt: z.iso
        .datetime({ offset: true, error: "is not an ISO 8601 time such as 2026-11-21T10:00:00Z" })
        .optional()
        .describe("When the operator said every app mints with the new secret."),
    })
    .optional()
    .describe("Progress of a secret rotation. Written by `npm run rotate`; do not edit by hand."),
  tlsMode: z
    .enum(TLS_MODES)
    .default("self-signed")
    .describe(
      "`acme`: the VM gets and renews a Let's Encrypt certificate for `regionDomain` and `domain` (DNS-01 through Cloudflare with " +
        "`acmeDnsApiToken` or `cloudflareApiToken`). `provided`: `tlsCertificate` + `tlsPrivateKey`. `self-signed`: made on the VM (test " +
        "stacks; browsers reject it for `turns:`). `local` stacks: `self-signed` only, made fresh each run.",
    ),
  tlsCertificate: z
    .string()
    .regex(PEM_CERT, { error: "is not a PEM certificate chain. Set it from your fullchain.pem file" })
    .optional()
    .describe("PEM certificate chain (leaf first) for `tlsMode: provided`."),
  tlsPrivateKey: z
    .string()
    .regex(PEM_KEY, { error: "is not a PEM private key. Set it from your privkey.pem file, with --secret" })
    .optional()
    .describe("PEM private key for `tlsMode: provided` (set with `--secret`)."),
  regionDomain: z
    .string()
    .refine(isFqdn, { error: 'is not a fully qualified domain name. Use a lowercase DNS name such as "eu-central-1.turn.example.com"' })
    .optional()
    .describe(
      "This server's own DNS name, beside the shared `domain` (probes, GeoDNS origins; the certificate names both). Default: `<region>.<domain>`.",
    ),
  cloudflareZoneId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, { error: "is not a Cloudflare zone id (32 lowercase hex digits, on the zone's Overview page)" })
    .optional()
    .describe(
      "Cloudflare zone of your domain: `pulumi up` creates the A records of `regionDomain` (and `domain`, see `publishSharedName`), DNS only, " +
        "TTL 60 s. Unset: create them by hand (output `dnsRecords`).",
    ),
  cloudflareApiToken: cloudflareToken
    .optional()
    .describe("Cloudflare API token `pulumi up` manages the records with (`--secret`; permission Zone > DNS > Edit on that zone only)."),
  publishSharedName: flag()
    .default(true)
    .describe(
      "With `cloudflareZoneId`: also point `domain` at this server. Set `false` when a GeoDNS stack owns that name, or when several regions " +
        "would otherwise each add their own address to it.",
    ),
  acmeEmail: z
    .email({ error: 'is not an email address. Use the address Let\'s Encrypt may contact about your account, e.g. "ops@example.com"' })
    .optional()
    .describe(
      "Contact address of the Let's Encrypt account (`tlsMode: acme`). Optional: Let's Encrypt sends no expiry emails since 2025; the " +
        "renewal timer and `npm run probe` watch expiry instead.",
    ),
  acmeCa: z
    .enum(ACME_CAS)
    .optional()
    .describe("Let's Encrypt CA for `tlsMode: acme`. Default: `staging` (untrusted, for tests) when `ephemeral`, else `production`."),
  acmeDnsApiToken: cloudflareToken
    .optional()
    .describe(
      "Cloudflare API token the VM answers DNS-01 challenges with (`--secret`; Zone > DNS > Edit on the zone only; root-only on the VM). " +
        "Default: `cloudflareApiToken`. A separate token can be revoked without touching `pulumi up`.",
    ),
  quotas: z
    .strictObject({
      allocationsPerUser: wholeNumber()
        .pipe(z.int().min(1).max(1000))
        .default(12)
        .describe("Concurrent allocations per credential (coturn `user-quota`); a browser uses up to 3 per call."),
      totalAllocations: wholeNumber()
        .pipe(z.int().min(0))
        .default(0)
        .describe("Concurrent allocations on the server (coturn `total-quota`); 0 = limited only by the relay range."),
      bytesPerSecondPerAllocation: wholeNumber()
        .pipe(z.int().min(0))
        .default(2_500_000)
        .describe("Bandwidth cap per allocation and direction in bytes/s (coturn `max-bps`); 0 = none. Default 20 Mbit/s."),
      totalBytesPerSecond: wholeNumber()
        .pipe(z.int().min(0))
        .default(0)
        .describe("Bandwidth cap for the whole server in bytes/s (coturn `bps-capacity`); 0 = none."),
    })
    .prefault({})
    .describe("Allocation and bandwidth quotas."),
  ssh: z
    .strictObject({
      allowedCidrs: z
        .array(z.string())
        .default([])
        .describe(
          "Required on clouds: IPv4 CIDRs that may reach port 22, i.e. every machine that runs `pulumi up` for this stack (it delivers the " +
            "TURN secrets and the TLS material over SSH, with keys that can do nothing else) and your admins.",
        ),
      publicKeys: z
        .array(z.string().regex(SSH_PUBLIC_KEY, { error: 'is not an OpenSSH public key ("ssh-ed25519 AAAA… comment")' }))
        .default([])
        .describe("OpenSSH public keys of the `turnops` admin user (sudo, no password). Empty (the default): no admin login."),
      allowAnySource: flag()
        .default(false)
        .describe("Must be `true` to allow a source wider than /16 (e.g. `0.0.0.0/0`) in `allowedCidrs`."),
    })
    .prefault({})
    .describe("SSH access: secret delivery from `pulumi up`, and optional admin logins."),
  monitoring: z
    .strictObject({
      allowedCidrs: z
        .array(z.string())
        .default([])
        .describe(
          "IPv4 CIDRs of the Prometheus servers that may scrape the metrics endpoint (TCP 9100, TLS with the server's certificate and " +
            "basic auth as user `prometheus` with `coturn:metricsPassword`). Empty (the default): the endpoint listens on loopback only " +
            "and no port is opened; `npm run status` reads the metrics over SSH. Not wider than /16.",
        ),
    })
    .prefault({})
    .describe("Metrics: who may scrape them. Reading them over SSH (`npm run status`) needs nothing here."),
  rateLimits: z
    .strictObject({
      tcpConnectionsPerSource: wholeNumber()
        .pipe(z.int().min(10).max(100_000))
        .optional()
        .describe(
          "Concurrent TCP/TLS connections one source address may hold to the TURN listeners (3478, 5349, 443); the excess is dropped. " +
            "Default 1,000 (about 300 callers over TCP/TLS behind one NAT), or with `capacity` the allocations one server holds at the peak (256 to 4,096).",
        ),
      tcpNewConnectionsPerSecond: wholeNumber()
        .pipe(z.int().min(1).max(100_000))
        .optional()
        .describe("New TCP/TLS connections per second and source address. Default: `tcpConnectionsPerSource` / 20, at least 20."),
      tcpNewConnectionsBurst: wholeNumber()
        .pipe(z.int().min(1).max(1_000_000))
        .optional()
        .describe("How many new connections above that rate one address may open at once. Default: `tcpConnectionsPerSource` / 4."),
      udpRequestsPerSecond: wholeNumber()
        .pipe(z.int().min(10).max(1_000_000))
        .optional()
        .describe(
          "STUN/TURN requests (Allocate, Refresh, Binding…) and DTLS handshakes per second and source address to the UDP listeners. Media is " +
            "never counted. Default: `tcpConnectionsPerSource` / 5, at least 100.",
        ),
      udpRequestsBurst: wholeNumber()
        .pipe(z.int().min(10).max(10_000_000))
        .optional()
        .describe("Requests above that rate one address may send at once. Default: 2 × `tcpConnectionsPerSource`."),
      sshNewConnectionsPerMinute: wholeNumber()
        .pipe(z.int().min(4).max(10_000))
        .optional()
        .describe("New SSH connections per minute and source address (the same number at once). Default 20."),
      exemptCidrs: z
        .array(z.string())
        .default([])
        .describe("IPv4 CIDRs no per-source limit applies to (a trusted office NAT, a carrier gateway); each at most /16."),
    })
    .prefault({})
    .describe(
      "Limits per source address, enforced by nftables on the VM before coturn sees a packet; relayed media is never limited. " +
        "Excess is dropped and counted (`coturn_rate_limited_packets_total`). See docs/rate-limits.md.",
    ),
  metricsPassword: z
    .string()
    .optional()
    .describe(
      "Secret (`--secret`, 24+ characters): the basic-auth password scrapers send as user `prometheus`. Required when " +
        "`monitoring.allowedCidrs` lists a scraper. On the VM only its bcrypt hash; changing it replaces the VM.",
    ),
  tags: z
    .record(z.string().min(1, { error: "is empty. Give the tag a name" }), z.string())
    .default({})
    .describe(
      "Extra tags on every cloud resource (the stack name and project are always added): AWS tags, Google Cloud labels " +
        "(lowercase), DigitalOcean `name:value` tags.",
    ),
  serverCount: wholeNumber()
    .pipe(z.int().min(1).max(MAX_SERVERS_PER_REGION))
    .default(1)
    .describe(
      "TURN servers in this region, each with its own VM, static IP and certificate, all behind `regionDomain` (and the global stack's pool). " +
        "Server 1 keeps the stack's resource names; with 2 or more, server k also gets its own name `s<k>.<regionDomain>`.",
    ),
  capacity: z
    .strictObject({
      peakCalls: wholeNumber()
        .pipe(z.int().min(1).max(1_000_000))
        .describe("Expected peak of concurrent calls relayed through this region (all its servers together)."),
      media: z
        .enum(["audio", "sd", "hd"])
        .default("sd")
        .describe("What a participant sends: `audio` (100 kbit/s), `sd` video (1 Mbit/s), `hd` 720p video (2.5 Mbit/s), each direction with overhead."),
      bitrateKbps: wholeNumber()
        .pipe(z.int().min(8).max(50_000))
        .optional()
        .describe("Bitrate per participant and direction in kbit/s, in place of `media`'s."),
      participantsPerCall: wholeNumber().pipe(z.int().min(2).max(50)).default(2).describe("Participants per call, each relayed at the peak."),
    })
    .optional()
    .describe(
      "Sizing from expected load: checks that the relay range, the quotas and the VM's sustained network bandwidth (shipped table) carry the " +
        "peak, and sets `total-quota` to the peak with 25% headroom unless `quotas.totalAllocations` is set. See docs/sizing-and-cost.md.",
    ),
  cloudflareAccountId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, { error: "is not a Cloudflare account id (32 lowercase hex digits, on the zone's Overview page)" })
    .optional()
    .describe("Global stack, `geoDns.mode: load-balancer`: the account that owns the load balancer's pools and monitors."),
  regions: z
    .array(
      z.strictObject({
        stack: z
          .string()
          .regex(/^([A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/, {
            error: 'is not a stack name. Write it as "<org>/coturn/<stack>" (`pulumi stack ls --all` lists them), or "<stack>" in the same project',
          })
          .describe("The region stack, as `pulumi stack ls --all` names it (`organization/coturn/aws-eu-central-1` with a self-managed backend)."),
        pool: z
          .string()
          .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'is not a pool name (lowercase letters, digits, _ and -, e.g. "eu-central")' })
          .optional()
          .describe("Name of the region's pool. Default: `<cloud>-<region>` from the stack's outputs."),
        drain: z.boolean().default(false).describe("`true` takes the region out of the answers without destroying anything (see docs/global-stack.md: draining a region)."),
        latitude: decimalNumber().pipe(z.number().min(-90).max(90)).optional().describe("Where the region's servers are. Default: the cloud region's city (known regions)."),
        longitude: decimalNumber().pipe(z.number().min(-180).max(180)).optional().describe("Goes with `latitude`."),
      }),
    )
    .min(1, { error: "is empty. List at least one region stack, e.g. - stack: organization/coturn/aws-eu-central-1" })
    .optional()
    .describe("Global stack: the region stacks behind the shared `domain`, in order of preference when distances tie."),
  geoDns: z
    .strictObject({
      mode: z
        .enum(GEO_DNS_MODES)
        .default("load-balancer")
        .describe(
          "`load-balancer`: a DNS-only Cloudflare load balancer with health monitors and steering (needs the Load Balancing add-on). " +
            "`dns-records`: one A record per server on the shared name, no health checks, no steering (any Cloudflare plan, or by hand).",
        ),
      steering: z
        .enum(STEERING_POLICIES)
        .default("proximity")
        .describe(
          "`proximity`: Cloudflare sends each resolver to the nearest pool by the pools' coordinates. `geo`: each Cloudflare region " +
            "gets the pools ordered by distance from it, computed here (visible in the plan).",
        ),
      fallbackRegion: z.string().optional().describe("The `regions[].stack` answered when every pool is unhealthy. Default: the first region not drained."),
      ttl: wholeNumber()
        .pipe(z.int().min(30).max(3600))
        .default(30)
        .describe("TTL in seconds of the answers: 30 is Cloudflare's minimum for a load balancer; `dns-records` use at least 60, its minimum for records."),
      monitor: z
        .strictObject({
          interval: wholeNumber().pipe(z.int().min(10).max(3600)).default(60).describe("Seconds between checks (your plan sets the minimum: 60 on Pro)."),
          timeout: wholeNumber().pipe(z.int().min(1).max(10)).default(5).describe("Seconds before a check fails."),
          retries: wholeNumber().pipe(z.int().min(0).max(5)).default(2).describe("Immediate retries of a timed-out check."),
          consecutiveDown: wholeNumber().pipe(z.int().min(1).max(10)).default(2).describe("Failed checks in a row before a server leaves the answers."),
          consecutiveUp: wholeNumber().pipe(z.int().min(1).max(10)).default(2).describe("Passed checks in a row before it comes back."),
        })
        .prefault({})
        .describe("Health monitor: a TCP connect to each server's TLS port (5349), from every Cloudflare region."),
    })
    .prefault({})
    .describe("Global stack: how the shared name answers."),
  ephemeral: z
    .string()
    .superRefine((value, ctx) => {
      const problem = ephemeralTimeToLiveProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional()
    .describe(
      "Marks a throw-away test stack and gives it a time to live (`90m`, `4h`, `2d`; at most 30d). Its expiry goes " +
        "in the stack tags (`pulumi:tags`) and on every resource; `npm run destroy-test-stacks` destroys it once " +
        "expired. A test stack gets no deletion protection, the smallest VM and staging certificates by default.",
    ),
} as const;

/** Every known key, as a strict object: the source of the TypeScript type and of docs/config-reference.md. */
export const stackConfigSchema = z.strictObject(configKeySchemas);

/** The config keys, without namespace. */
export type ConfigKey = keyof typeof configKeySchemas;

/** Keys whose value must be stored encrypted (`pulumi config set --secret`). */
export const SECRET_KEYS: readonly ConfigKey[] = ["authSecret", "previousAuthSecrets", "tlsPrivateKey", "cloudflareApiToken", "acmeDnsApiToken", "metricsPassword"];

/** Parsed config before defaults that depend on other keys are applied. */
export type ParsedConfigKeys = z.output<typeof stackConfigSchema>;
