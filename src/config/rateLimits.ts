/**
 * Limits per source address (`coturn:rateLimits`): what one address may do to a server before the kernel drops its
 * excess, so that one abusive host cannot hurt every caller of the region. The numbers a server gets, their defaults
 * (scaled from `coturn:capacity` when it is set) and the rules of the key. Pure: config in, numbers and problems out;
 * src/render turns them into nftables rules.
 *
 * Why the defaults are what they are (docs/rate-limits.md says the same to operators): a corporate network or a
 * mobile carrier puts hundreds of callers behind one address, and a browser opens up to three TURN connections per
 * call (turn:?transport=tcp, turns: on 5349 and on 443). The base is 1,000 connections per address: about 300 callers
 * over TCP/TLS behind one NAT. With `coturn:capacity`, the base is the number of allocations one server holds at the
 * sized peak (one address may carry the whole expected load, never more), from 256 to 4,096.
 */
import type { SizingPlan } from "./capacity";
import type { ParsedConfigKeys } from "./schema";
import { ipv4CidrProblem } from "./valueFormats";
import { problemAdder, type ConfigProblem } from "./configProblems";

/** Concurrent TCP/TLS connections per address when nothing is sized: about 300 callers behind one NAT. */
export const DEFAULT_CONNECTIONS_PER_SOURCE = 1000;
/** The sized base is clamped to this range. */
export const SIZED_CONNECTIONS_RANGE = { min: 256, max: 4096 } as const;
/** New SSH connections per address and minute: `pulumi up` opens four per server, `npm run status --watch` one per read. */
export const DEFAULT_SSH_CONNECTIONS_PER_MINUTE = 20;
/** Exempt sources wider than this prefix are refused: raise the limits instead. */
export const MIN_EXEMPT_PREFIX = 16;

/** What `coturn:rateLimits` may set; unset numbers get their defaults (see `resolveRateLimits`). */
export interface RateLimitSettings {
  readonly tcpConnectionsPerSource?: number;
  readonly tcpNewConnectionsPerSecond?: number;
  readonly tcpNewConnectionsBurst?: number;
  readonly udpRequestsPerSecond?: number;
  readonly udpRequestsBurst?: number;
  readonly sshNewConnectionsPerMinute?: number;
  readonly exemptCidrs: readonly string[];
}

/** The limits a server enforces per source address, every number resolved. */
export interface RateLimits {
  /** Concurrent TCP/TLS connections to the TURN listeners (3478, 5349, 443). */
  readonly tcpConnectionsPerSource: number;
  /** New TCP/TLS connections per second, and the burst allowed above that rate. */
  readonly tcpNewConnectionsPerSecond: number;
  readonly tcpNewConnectionsBurst: number;
  /**
   * STUN/TURN requests (Allocate, Refresh, CreatePermission, ChannelBind, Binding) and DTLS handshake records to the
   * UDP listeners per second, and the burst. Media (ChannelData, Send indications, DTLS application data) is never
   * counted: a busy call is never throttled.
   */
  readonly udpRequestsPerSecond: number;
  readonly udpRequestsBurst: number;
  /** New SSH connections per minute (the burst is the same number). */
  readonly sshNewConnectionsPerMinute: number;
  /** IPv4 CIDRs no limit applies to. */
  readonly exemptCidrs: readonly string[];
  /** Where the defaults' base came from (the rendered rules say so). */
  readonly basis: "default" | "capacity";
}

/** The base the TCP and UDP defaults scale from: the sized allocations per server, clamped, or the default. */
export function connectionBase(sizing: Pick<SizingPlan, "allocationsPerServer"> | undefined): { base: number; basis: RateLimits["basis"] } {
  if (!sizing) return { base: DEFAULT_CONNECTIONS_PER_SOURCE, basis: "default" };
  const { min, max } = SIZED_CONNECTIONS_RANGE;
  return { base: Math.min(max, Math.max(min, Math.ceil(sizing.allocationsPerServer))), basis: "capacity" };
}

/**
 * Every limit, from the settings and the sizing. From the base B (connections per address): B concurrent
 * connections; B/20 new ones a second (at least 20), so a full address refills in 20 s, with a burst of B/4
 * (a meeting's worth joining at once); B/5 requests a second (at least 100) with a burst of 2B: a browser sends about
 * five requests to set up an allocation and one every few minutes to keep it.
 */
export function resolveRateLimits(settings: RateLimitSettings, sizing: Pick<SizingPlan, "allocationsPerServer"> | undefined): RateLimits {
  const { base, basis } = connectionBase(sizing);
  const tcpConnectionsPerSource = settings.tcpConnectionsPerSource ?? base;
  const tcpNewConnectionsPerSecond = settings.tcpNewConnectionsPerSecond ?? Math.max(20, Math.round(base / 20));
  const udpRequestsPerSecond = settings.udpRequestsPerSecond ?? Math.max(100, Math.round(base / 5));
  return {
    tcpConnectionsPerSource,
    tcpNewConnectionsPerSecond,
    tcpNewConnectionsBurst: settings.tcpNewConnectionsBurst ?? Math.max(tcpNewConnectionsPerSecond, Math.round(base / 4)),
    udpRequestsPerSecond,
    udpRequestsBurst: settings.udpRequestsBurst ?? Math.max(udpRequestsPerSecond, 2 * base),
    sshNewConnectionsPerMinute: settings.sshNewConnectionsPerMinute ?? DEFAULT_SSH_CONNECTIONS_PER_MINUTE,
    exemptCidrs: settings.exemptCidrs,
    basis,
  };
}

/** The parsed `coturn:rateLimits`, as the rules read it. */
type ParsedRateLimits = Partial<Pick<ParsedConfigKeys, "rateLimits">>;

/**
 * Problems of `coturn:rateLimits`: exempt sources are IPv4 CIDRs no wider than /16 (an exemption is for an office
 * NAT or a carrier gateway; to let more through, raise the limits), and a burst is at least its rate.
 */
export function rateLimitProblems(c: ParsedRateLimits): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const limits = c.rateLimits;
  if (!limits) return problems;
  for (const [i, cidr] of limits.exemptCidrs.entries()) {
    const problem = ipv4CidrProblem(cidr);
    const prefix = Number(cidr.split("/")[1]);
    if (problem) add(`rateLimits.exemptCidrs[${i}]`, cidr, problem);
    else if (prefix < MIN_EXEMPT_PREFIX) {
      add(
        `rateLimits.exemptCidrs[${i}]`,
        cidr,
        `would exempt ${(2 ** (32 - prefix)).toLocaleString("en-US")} addresses from every per-source limit (at most /${MIN_EXEMPT_PREFIX}). ` +
          "List the addresses of the NATs you trust (e.g. your office's \"203.0.113.7/32\"), or raise the limit that bites (docs/rate-limits.md)",
      );
    }
  }
  const burstRule = (burstKey: "tcpNewConnectionsBurst" | "udpRequestsBurst", rateKey: "tcpNewConnectionsPerSecond" | "udpRequestsPerSecond"): void => {
    const burst = limits[burstKey];
    const rate = limits[rateKey];
    if (burst !== undefined && rate !== undefined && burst < rate) {
      add(
        `rateLimits.${burstKey}`,
        burst,
        `is below rateLimits.${rateKey} (${rate}): the burst is how far above the rate an address may go at once, so it is at least the rate. ` +
          `Set it to ${rate} or more, or remove it (its default follows the rate)`,
      );
    }
  };
  burstRule("tcpNewConnectionsBurst", "tcpNewConnectionsPerSecond");
  burstRule("udpRequestsBurst", "udpRequestsPerSecond");
  return problems;
}
