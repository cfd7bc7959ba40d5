/**
 * What each kind of measurement yields, derived from a window: relayed rates, coturn's CPU, and whether the window
 * measured coturn at all — at saturation, coturn used its budget while the generator offered more than it relayed;
 * at a paced load, the generator held the pace it was asked for.
 *
 * Relayed datagrams are counted in both directions: to the echo peer by the peer's kernel counter, whatever the
 * transport; back to the client by the client's kernel counter over UDP, and over TCP and TLS by the generator, which
 * splits them out of the stream (a TCP segment is no datagram). What the client offered coturn is the client's kernel
 * counter over UDP, and over TCP and TLS what the generator's pace asked for, written or held back while coturn was not
 * reading (the stream itself never loses anything; its backlog is how coturn falls behind).
 */
import type { TurnTransport } from "../../src/probe/turnClient";
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
  /** Between client and coturn. */
  readonly transport: TurnTransport;
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
  readonly transport: TurnTransport;
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
  readonly transport: TurnTransport;
  readonly run: number;
  readonly loadPercent: number;
  /** Relayed datagrams per second asked for (both directions: each echo is relayed twice). */
  readonly targetRelayedPerSecond: number;
  /** Relayed datagrams per second the kernel counted (to the peer and back to the client). */
  readonly relayedPerSecond: number;
  /** Datagrams the generator sent in the window, and how many of them never came back. */
  readonly sent: number;
  readonly lost: number;
  /** Of the lost, held back by the generator because coturn had not read the connection's backlog (TCP/TLS only). */
  readonly heldBack: number;
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

/** Datagrams coturn relayed in a window, both directions, and what the client offered it (see the file's comment). */
export function windowCounts(transport: TurnTransport, m: WindowMeasurement): { relayed: number; offered: number } {
  return transport === "udp"
    ? { relayed: m.packets.relayToPeer + m.packets.serverToClient, offered: m.packets.clientToServer }
    : { relayed: m.packets.relayToPeer + m.generator.received, offered: m.generator.sent };
}

/** A saturation window's account of one configuration over `transport`, `budgetPercent` being its coturn's CPU budget. */
export function saturationSample(
  config: ConfigName,
  transport: TurnTransport,
  lab: "A" | "B",
  m: WindowMeasurement,
  budgetPercent: number,
  monitoring: MonitoringCheck | null = null,
): SaturationSample {
  // Relayed in both directions: to the echo peer, and its echoes back to the client.
  const counts = windowCounts(transport, m);
  const relayedPerSecond = perSecond(counts.relayed, m);
  const offeredPerSecond = perSecond(counts.offered, m);
  const coturnCpuPercent = m.coturnCpuPercent ?? 0;
  return {
    config,
    transport,
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
  transport: TurnTransport,
  run: number,
  loadPercent: number,
  target: { readonly relayedPerSecond: number; readonly echoesPerSecond: number },
  m: WindowMeasurement,
  monitoring: MonitoringCheck | null = null,
): PacedSample {
  const { sent, lost, roundTripMs, windowMs, heldBack } = m.generator;
  return {
    config,
    transport,
    run,
    loadPercent,
    targetRelayedPerSecond: target.relayedPerSecond,
    relayedPerSecond: perSecond(windowCounts(transport, m).relayed, m),
    sent,
    lost,
    heldBack,
    lossPercent: sent > 0 ? (100 * lost) / sent : 0,
    roundTripMs,
    coturnCpuPercent: m.coturnCpuPercent ?? 0,
    paceHeld: windowMs > 0 && sent / (windowMs / 1000) >= PACE_HELD_SHARE * target.echoesPerSecond,
    monitoring,
  };
}
