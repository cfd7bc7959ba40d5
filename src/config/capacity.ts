/**
 * Sizing a region from its expected load (`coturn:capacity`): how many allocations, relay ports and bits per second
 * the peak needs per server, what `total-quota` follows from it, and whether the relay range, the quotas and the VM's
 * network can carry it. Pure: config in, numbers, problems and warnings out.
 *
 * The model, stated in docs/sizing-and-cost.md ("Sizing from expected load"): at the peak, every participant of every relayed call relays through
 * this region; a browser takes one allocation per TURN URL it is given (udp, tcp, tls, tls-443) and keeps them for
 * the call; each relayed participant's media crosses the server once in and once out, at the profile's bitrate.
 * Calls spread evenly over the region's servers (the load balancer answers every origin of a pool).
 *
 * Why this is config and not plan: all of it is a rule over config keys, or a default that follows from them.
 * Validation needs every number computed here: the problems are config errors (`coturn:relayPorts`,
 * `coturn:quotas.*`, `coturn:instanceType` cannot carry `coturn:capacity`), and the sized `total-quota` becomes the
 * validated `quotas.totalAllocations`; the inputs are config (the media bitrates of `coturn:capacity.media`, and the
 * shipped bandwidth table in `networkLimits.ts`). The warnings come from the same numbers, so they stay with them.
 * `src/plan` maps an already valid config onto what gets deployed (addresses, names, endpoints, firewall rules).
 */
import type { Listener } from "./schema";
import { networkLimit, NETWORK_LIMITS_AS_OF, type NetworkLimit } from "./networkLimits";

/** Media profiles: bitrate per participant and direction, kbit/s, payload plus RTP/UDP/IP overhead. */
export const MEDIA_BITRATES_KBPS = { audio: 100, sd: 1_000, hd: 2_500 } as const;
/** A media profile. */
export type MediaProfile = keyof typeof MEDIA_BITRATES_KBPS;

/** Headroom kept on top of the sized peak: relay ports and `total-quota`. */
export const ALLOCATION_HEADROOM = 1.25;
/** Share of the VM's sustained bandwidth above which the sizing is tight (a warning). */
export const TIGHT_BANDWIDTH_SHARE = 0.7;
/** Per-allocation cap (`max-bps`) must leave this much above the media bitrate (bursts, FEC, retransmissions). */
export const PER_ALLOCATION_HEADROOM = 1.5;

/** What sizing reads from the stack config. */
export interface SizingInput {
  /** Expected peak of concurrent relayed calls in this region. */
  readonly peakCalls: number;
  /** Participants per call. */
  readonly participantsPerCall: number;
  /** Bitrate per participant and direction, kbit/s. */
  readonly bitrateKbps: number;
  /** Listeners: browsers take one allocation per `turn:`/`turns:` URL. */
  readonly listeners: ReadonlySet<Listener>;
  /** Relay port range. */
  readonly relayPorts: { readonly min: number; readonly max: number };
  /** Servers in the region. */
  readonly serverCount: number;
  /** Cloud and VM size, for the network limit. */
  readonly cloud: string;
  readonly instanceType: string;
  /** Quotas as configured (0 = unset where allowed). */
  readonly quotas: { readonly totalAllocations: number; readonly bytesPerSecondPerAllocation: number; readonly totalBytesPerSecond: number };
}

/** One sizing problem: which key is wrong and why, with the numbers. */
export interface SizingProblem {
  /** Key without namespace (`relayPorts`, `quotas.totalAllocations`, `instanceType`). */
  readonly key: string;
  /** What is wrong and what to do. */
  readonly message: string;
}

/** The sizing of one server of the region. */
export interface SizingPlan {
  /** The load it was sized for: participants per call and bitrate per participant and direction (kbit/s). */
  readonly participantsPerCall: number;
  readonly bitrateKbps: number;
  /** Allocations per participant (browser TURN URLs). */
  readonly allocationsPerParticipant: number;
  /** Allocations one server holds at the peak. */
  readonly allocationsPerServer: number;
  /** Relay ports one server needs (one per allocation, with headroom). */
  readonly relayPortsNeeded: number;
  /** Relay ports the range gives. */
  readonly relayPortsAvailable: number;
  /** `total-quota` to render: the configured one, or the sized peak with headroom. */
  readonly totalAllocations: number;
  /** Media through one server per direction at the peak, Mbit/s. */
  readonly mbpsPerServer: number;
  /** The VM size's sustained network limit, when the shipped table knows it. */
  readonly networkLimit?: NetworkLimit;
  /** Config errors: the load cannot be carried as configured. */
  readonly problems: readonly SizingProblem[];
  /** Tight but possible. */
  readonly warnings: readonly string[];
}

const BROWSER_URL_LISTENERS: readonly Listener[] = ["udp", "tcp", "tls", "tls-443"];

/** Sizes one server of the region for the peak. */
export function sizeRegion(input: SizingInput): SizingPlan {
  const problems: SizingProblem[] = [];
  const warnings: string[] = [];
  const allocationsPerParticipant = BROWSER_URL_LISTENERS.filter((l) => input.listeners.has(l)).length;
  const callsPerServer = Math.ceil(input.peakCalls / input.serverCount);
  const allocationsPerServer = callsPerServer * input.participantsPerCall * allocationsPerParticipant;
  const relayPortsNeeded = Math.ceil(allocationsPerServer * ALLOCATION_HEADROOM);
  const relayPortsAvailable = input.relayPorts.max - input.relayPorts.min + 1;
  const load =
    `${callsPerServer} calls per server × ${input.participantsPerCall} participants × ${allocationsPerParticipant} allocations ` +
    `(one per TURN URL a browser is given) = ${allocationsPerServer} allocations`;
  const split = input.serverCount < 10 ? `, or spread the calls: coturn:serverCount ${input.serverCount + 1}` : "";

  if (relayPortsAvailable < allocationsPerServer) {
    problems.push({
      key: "relayPorts",
      message: `gives ${relayPortsAvailable} relay ports, but ${load} need one port each. Widen the range (e.g. "32768-65535")${split}`,
    });
  } else if (relayPortsAvailable < relayPortsNeeded) {
    warnings.push(`coturn:relayPorts gives ${relayPortsAvailable} relay ports for ${load}: less than ${Math.round((ALLOCATION_HEADROOM - 1) * 100)}% headroom`);
  }

  const configuredQuota = input.quotas.totalAllocations;
  if (configuredQuota > 0 && configuredQuota < allocationsPerServer) {
    problems.push({ key: "quotas.totalAllocations", message: `is ${configuredQuota}, below the ${load} of the sized peak. Raise it to ${relayPortsNeeded}, or set 0 to derive it` });
  }
  const totalAllocations = configuredQuota > 0 ? configuredQuota : Math.min(relayPortsAvailable, relayPortsNeeded);

  const mbpsPerServer = (callsPerServer * input.participantsPerCall * input.bitrateKbps) / 1000;
  const bytesPerSecondPerStream = (input.bitrateKbps * 1000) / 8;
  const perAllocation = input.quotas.bytesPerSecondPerAllocation;
  if (perAllocation > 0 && perAllocation < bytesPerSecondPerStream * PER_ALLOCATION_HEADROOM) {
    problems.push({
      key: "quotas.bytesPerSecondPerAllocation",
      message:
        `is ${perAllocation} bytes/s, which would cut a ${input.bitrateKbps} kbit/s stream (${Math.round(bytesPerSecondPerStream)} bytes/s) with no room for bursts. ` +
        `Set at least ${Math.ceil(bytesPerSecondPerStream * PER_ALLOCATION_HEADROOM)}, or 0 for no cap`,
    });
  }
  const total = input.quotas.totalBytesPerSecond;
  if (total > 0 && total * 8 < mbpsPerServer * 1_000_000) {
    problems.push({
      key: "quotas.totalBytesPerSecond",
      message: `is ${total} bytes/s (${((total * 8) / 1e6).toFixed(1)} Mbit/s), below the ${mbpsPerServer.toFixed(1)} Mbit/s the peak relays per server. Raise it, or set 0 for no cap`,
    });
  }

  const limit = networkLimit(input.cloud, input.instanceType);
  if (limit === undefined) {
    warnings.push(`the network limit of ${input.cloud} ${input.instanceType} is not in the shipped table (as of ${NETWORK_LIMITS_AS_OF}): the bandwidth of ${mbpsPerServer.toFixed(1)} Mbit/s per server was not checked`);
  } else {
    const sustainedMbps = limit.sustainedGbps * 1000;
    const what = `${mbpsPerServer.toFixed(1)} Mbit/s per direction per server (${callsPerServer} calls × ${input.participantsPerCall} × ${input.bitrateKbps} kbit/s)`;
    if (mbpsPerServer > sustainedMbps) {
      problems.push({
        key: "instanceType",
        message:
          `${input.instanceType} sustains ${sustainedMbps} Mbit/s (${limit.note}), but the peak needs ${what}. ` +
          `Pick a larger size${split}`,
      });
    } else if (mbpsPerServer > sustainedMbps * TIGHT_BANDWIDTH_SHARE) {
      warnings.push(`coturn:instanceType ${input.instanceType} sustains ${sustainedMbps} Mbit/s and the peak needs ${what}: over ${TIGHT_BANDWIDTH_SHARE * 100}%, tight`);
    }
  }
  return {
    participantsPerCall: input.participantsPerCall,
    bitrateKbps: input.bitrateKbps,
    allocationsPerParticipant,
    allocationsPerServer,
    relayPortsNeeded,
    relayPortsAvailable,
    totalAllocations,
    mbpsPerServer,
    ...(limit ? { networkLimit: limit } : {}),
    problems,
    warnings,
  };
}
