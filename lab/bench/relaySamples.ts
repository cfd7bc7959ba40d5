/**
 * What each kind of measurement yields, derived from a window: relayed rates, coturn's CPU, and whether the window
 * measured coturn at all — at saturation, coturn used its budget while the generator offered more than it relayed;
 * at a paced load, the generator held the pace it was asked for.
 */
import type { RoundTripPercentiles } from "./generatorJob";
import type { WindowMeasurement } from "./measureWindow";
import type { MonitoringCheck } from "./benchMonitoring";
import type { Comparison, ConfigName } from "./relayConfigs";

/** A coturn saturated if it used at least this share of its budget… */
export const SATURATED_BUDGET_SHARE = 0.9;
/** …while the generator offered at least this many times what coturn relayed to the peer (the rest stayed undelivered). */
export const SATURATED_OFFER_FACTOR = 1.1;
/** A paced measurement held its pace if the generator sent at least this share of the rate it was asked for. */
export const PACE_HELD_SHARE = 0.97;

/** One configuration's saturation in one head-to-head window. */
export interface SaturationSample {
  readonly config: ConfigName;
  /** "A" or "B": which of the two labs it ran in. */
  readonly lab: "A" | "B";
  /** Datagrams coturn relayed per second, both directions: to the echo peer and the echoes back to the client. */
  readonly relayedPerSecond: number;
  /** Datagrams the client sent to coturn per second (coturn relayed only what its budget allowed). */
  readonly offeredPerSecond: number;
  /** coturn's CPU, percent of one core. */
  readonly coturnCpuPercent: number;
  /** coturn's CPU time per relayed datagram, in microseconds. */
  readonly cpuMicrosecondsPerPacket: number;
  /** Whether coturn, not the generator, was the limit: it used its budget and left the generator's surplus undelivered. */
  readonly serverBound: boolean;
  /** The monitoring's account of the window (monitored config only), else null. */
  readonly monitoring: MonitoringCheck | null;
}

/** Two configurations' saturation, measured at the same time (one window, one lab each), for one comparison. */
export interface SaturationPair {
  readonly run: number;
  /** Which comparison (COMPARISONS): its subject and baseline. */
  readonly comparison: Comparison["name"];
  readonly subject: SaturationSample;
  readonly baseline: SaturationSample;
  /** subject / baseline relayed per second. */
  readonly ratio: number;
  /** Each core's busy share in the window. */
  readonly coreBusyPercent: readonly number[];
}

/** One configuration at one paced load. */
export interface PacedSample {
  readonly config: ConfigName;
  readonly run: number;
  readonly loadPercent: number;
  /** Relayed datagrams per second asked for (both directions: each echo is relayed twice). */
  readonly targetRelayedPerSecond: number;
  /** Relayed datagrams per second the kernel counted (to the peer and back to the client). */
  readonly relayedPerSecond: number;
  /** Datagrams the generator sent in the window, and how many of them never came back. */
  readonly sent: number;
  readonly lost: number;
  readonly lossPercent: number;
  readonly roundTripMs: RoundTripPercentiles | null;
  readonly coturnCpuPercent: number;
  /** Whether the generator kept the pace it was asked for (if not, the measurement says little about coturn). */
  readonly paceHeld: boolean;
  /** The monitoring's account of the window (monitored config only), else null. */
  readonly monitoring: MonitoringCheck | null;
}

/** Raw UDP from the client to the peer, no relay. */
export interface RawSample {
  readonly run: number;
  readonly packetsPerSecond: number;
  readonly coreBusyPercent: readonly number[];
}

const perSecond = (count: number, m: WindowMeasurement): number => count / m.seconds;

/** A saturation window's account of one configuration, `budgetPercent` being its coturn's CPU budget. */
export function saturationSample(
  config: ConfigName,
  lab: "A" | "B",
  m: WindowMeasurement,
  budgetPercent: number,
  monitoring: MonitoringCheck | null = null,
): SaturationSample {
  // Relayed in both directions: to the echo peer, and its echoes back to the client.
  const relayedPerSecond = perSecond(m.packets.relayToPeer + m.packets.serverToClient, m);
  const offeredPerSecond = perSecond(m.packets.clientToServer, m);
  const coturnCpuPercent = m.coturnCpuPercent ?? 0;
  return {
    config,
    lab,
    relayedPerSecond,
    offeredPerSecond,
    coturnCpuPercent,
    cpuMicrosecondsPerPacket: relayedPerSecond > 0 ? (coturnCpuPercent / 100) * (1e6 / relayedPerSecond) : Number.NaN,
    serverBound:
      coturnCpuPercent >= SATURATED_BUDGET_SHARE * budgetPercent && offeredPerSecond >= SATURATED_OFFER_FACTOR * perSecond(m.packets.relayToPeer, m),
    monitoring,
  };
}

/** A paced window's account: `echoesPerSecond` is the rate the generator was asked to send at. */
export function pacedSample(
  config: ConfigName,
  run: number,
  loadPercent: number,
  target: { readonly relayedPerSecond: number; readonly echoesPerSecond: number },
  m: WindowMeasurement,
  monitoring: MonitoringCheck | null = null,
): PacedSample {
  const { sent, lost, roundTripMs, windowMs } = m.generator;
  return {
    config,
    run,
    loadPercent,
    targetRelayedPerSecond: target.relayedPerSecond,
    relayedPerSecond: perSecond(m.packets.relayToPeer + m.packets.serverToClient, m),
    sent,
    lost,
    lossPercent: sent > 0 ? (100 * lost) / sent : 0,
    roundTripMs,
    coturnCpuPercent: m.coturnCpuPercent ?? 0,
    paceHeld: windowMs > 0 && sent / (windowMs / 1000) >= PACE_HELD_SHARE * target.echoesPerSecond,
    monitoring,
  };
}
