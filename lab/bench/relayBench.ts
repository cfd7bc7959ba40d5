/**
 * The relay benchmark's procedure. Two identical labs (relayLab.ts) each run a coturn pinned to the same server core,
 * each inside its own CPU budget; the load generators and echo peers run on the other cores.
 *
 * 1. Saturation, head to head, for each comparison (relayConfigs.ts COMPARISONS: production against minimal over each
 *    transport between client and coturn, UDP, TCP and TLS, then monitored against production over UDP; see
 *    saturationMatchups): one config in one lab and the other in the other, at the same time, each offered more
 *    echo traffic than its budget can relay (unpaced; relayed datagrams are counted in both directions, to the echo
 *    peer and back, as in a call). Each coturn uses its whole budget and no more, and the core keeps idle time,
 *    so the two do not compete for CPU; they share the moment, so the host's noise (this machine's throughput
 *    wanders by ±15% from one second to the next) hits both alike. Every run measures both placements (the subject in
 *    lab A, then in lab B), so any difference between the labs cancels too. The monitored config's windows run the
 *    VM's monitoring next to coturn and check that it counted what the bench counted (benchMonitoring.ts).
 * 2. Raw UDP: the generator straight to the peer, no relay, one way, as fast as it can: the ceiling of the lab's
 *    network and of the generator, which must be far above what coturn relays for the saturation to be coturn's.
 * 3. Paced loads, one configuration at a time: echoes at 25% and 50% of minimal's saturation over the same transport
 *    (in relayed packets per second, both directions counted), for loss and round-trip percentiles, alternating minimal,
 *    production and (over UDP) monitored, reversed in even runs.
 */
import { CLOUD_LAB, LAB_SECRET } from "../cloudLab";
import { mintTurnCredential } from "../../src/credentials/turnRest";
import type { TurnTransport } from "../../src/probe/turnClient";
import { BUDGET_PREFIX, ECHO_PORT, SINK_PORT, TLS_PORT, TURN_PORT, startRelayLab, type RelayLab } from "./relayLab";
import { COMPARISONS, maxBytesPerSecond, productionOnlyLines, MINIMAL_OPTIONS, type Comparison, type ConfigName } from "./relayConfigs";
import type { MonitoringCheck, MonitoringExpectation } from "./benchMonitoring";
import { removeStaleBudgets } from "./cpuBudget";
import type { CpuLayout } from "./cpuUsage";
import type { AllocationCredential, GeneratorJob } from "./generatorJob";
import { measureWindow, measureWindows, type WindowMeasurement, type WindowTiming } from "./measureWindow";
import type { RelayBenchOptions } from "./relayOptions";
import { pacedSample, saturationSample, type PacedSample, type RawSample, type SaturationPair, type SaturationSample } from "./relaySamples";
import { median } from "./relayStatistics";
import { streamFrameBytes } from "./streamFraming";

/** The loads the paced measurements run at, in percent of minimal's saturation. */
export const PACED_LOAD_PERCENTS = [25, 50] as const;
/** More than one generator core can send: unpaced generators are only held under it to respect max-bps. */
const UNPACED_CEILING_PER_SECOND = 500_000;
/** Allocations per lab at least: many sessions at a modest rate each, as on a real relay. */
const MIN_ALLOCATIONS = 64;
/** Each allocation stays under this share of production's per-allocation max-bps, or production would drop packets. */
const MAX_BPS_SHARE = 0.8;
/** Warm-up before each window: the generator's pace and coturn's queues settle. */
const WARMUP_MS = 1000;
/** How long late echoes are awaited after a paced window before they count as lost. */
const ECHO_GRACE_MS = 1000;
/** At saturation nobody counts echoes (the surplus is lost by design); a short wait lets the sockets drain. */
const SATURATION_GRACE_MS = 200;

/** Everything one bench run measured. */
export interface RelayBenchResults {
  readonly options: RelayBenchOptions;
  readonly layout: CpuLayout;
  /** Allocations per lab (one channel each) and the per-allocation ceiling they keep to. */
  readonly allocations: number;
  readonly allocationCeilingPerSecond: number | null;
  /** The options the minimal config keeps, and the production lines it leaves out. */
  readonly minimalOptions: readonly string[];
  readonly productionOnlyLines: readonly string[];
  readonly saturation: readonly SaturationPair[];
  readonly raw: readonly RawSample[];
  readonly paced: readonly PacedSample[];
}

/**
 * Allocations per lab: enough that none exceeds MAX_BPS_SHARE of max-bps even at the unpaced ceiling (each datagram
 * counted as a ChannelData message on a stream, header and padding included: the largest it is on any transport).
 */
export function allocationsFor(packetBytes: number, maxBps: number): { count: number; ceilingPerAllocation: number | null } {
  if (maxBps <= 0) return { count: MIN_ALLOCATIONS, ceilingPerAllocation: null };
  const ceilingPerAllocation = Math.floor((MAX_BPS_SHARE * maxBps) / streamFrameBytes(packetBytes));
  return { count: Math.max(MIN_ALLOCATIONS, Math.ceil(UNPACED_CEILING_PER_SECOND / ceilingPerAllocation)), ceilingPerAllocation };
}

/** Fresh TURN REST credentials, one user per allocation (production's user-quota counts allocations per user). */
function credentials(count: number): AllocationCredential[] {
  return Array.from({ length: count }, (_, i) => {
    const minted = mintTurnCredential({ secret: LAB_SECRET, user: `bench-${i}`, ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  });
}

/** A comparison measured head to head over one transport between client and coturn. */
export interface Matchup {
  readonly comparison: Comparison;
  readonly transport: TurnTransport;
}

/** What each run measures at saturation: the hardening over each transport, in order, then the monitoring over UDP (when UDP runs). */
export function saturationMatchups(transports: readonly TurnTransport[]): Matchup[] {
  return COMPARISONS.flatMap((comparison) =>
    comparison.name === "hardening" ? transports.map((transport) => ({ comparison, transport })) : transports.includes("udp") ? [{ comparison, transport: "udp" as const }] : [],
  );
}

/** The order of the paced loads over `transport` in odd runs (even runs reverse it); monitored runs over UDP only. */
export function pacedOrder(transport: TurnTransport): ConfigName[] {
  return transport === "udp" ? ["minimal", "production", "monitored"] : ["minimal", "production"];
}

/** coturn's port for `transport`: the plain port for UDP and TCP, the TLS port for TLS. */
export function serverPort(transport: TurnTransport): number {
  return transport === "tls" ? TLS_PORT : TURN_PORT;
}

/** Runs the whole benchmark; `say` hears what it is doing. */
export async function runRelayBench(options: RelayBenchOptions, layout: CpuLayout, say: (line: string) => void): Promise<RelayBenchResults> {
  const timing: WindowTiming = { warmupMs: WARMUP_MS, windowMs: options.durationSeconds * 1000 };
  const lifetimeMs = WARMUP_MS + timing.windowMs + ECHO_GRACE_MS + 60_000;
  removeStaleBudgets(BUDGET_PREFIX);
  const labs: RelayLab[] = [];
  const cleanUp = async (): Promise<void> => {
    for (const lab of labs) await lab.destroy();
  };
  const onSignal = (): void => {
    say("Interrupted: stopping every process and deleting the lab …");
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    labs.push(await startRelayLab(`rb${process.pid}a`, layout, options.serverCpuPercent, say, options.scrapeMs));
    labs.push(await startRelayLab(`rb${process.pid}b`, layout, options.serverCpuPercent, say, options.scrapeMs));
    const [labA, labB] = labs;
    const production = labA.configs.production.conf;
    const maxBps = maxBytesPerSecond(production);
    const { count, ceilingPerAllocation } = allocationsFor(options.packetBytes, maxBps);
    say(
      `${count} allocations per lab, one channel each` +
        (ceilingPerAllocation === null ? "" : `, each under ${ceilingPerAllocation} datagrams/s (${Math.round(MAX_BPS_SHARE * 100)}% of production's max-bps=${maxBps})`) +
        `; coturn pinned to core ${layout.serverCore ?? "(none: single core)"} with a budget of ${options.serverCpuPercent}% of it`,
    );
    const turnRoute = (transport: TurnTransport): GeneratorJob["route"] => ({
      kind: "turn",
      transport,
      server: { host: CLOUD_LAB.publicIp, port: serverPort(transport) },
      credentials: credentials(count),
    });
    const unpacedCeiling = ceilingPerAllocation === null ? UNPACED_CEILING_PER_SECOND : ceilingPerAllocation * count;

    // 1 and 2: saturation head to head, each comparison in both placements per run, with a raw UDP ceiling after.
    const saturation: SaturationPair[] = [];
    const raw: RawSample[] = [];
    for (let run = 1; run <= options.runs; run++) {
      for (const { comparison, transport } of saturationMatchups(options.transports)) {
        const { subject, baseline } = comparison;
        const placements: Array<readonly [ConfigName, ConfigName]> = run % 2 === 1 ? [[subject, baseline], [baseline, subject]] : [[baseline, subject], [subject, baseline]];
        for (const configs of placements) {
          say(`Saturation (${comparison.name}, ${transport}), run ${run}/${options.runs}: ${configs[0]} in lab A and ${configs[1]} in lab B at once, unpaced echoes, ${options.durationSeconds} s …`);
          const pair = await saturationPair([labA, labB], comparison, transport, configs, options, run, timing, () => ({
            route: turnRoute(transport),
            peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
            payloadBytes: options.packetBytes,
            pace: { kind: "unpaced", ceilingPerSecond: unpacedCeiling },
            echo: true,
            graceMs: SATURATION_GRACE_MS,
            lifetimeMs,
          }));
          saturation.push(pair);
          const problems = [pair.subject, pair.baseline].flatMap((s) => s.monitoring?.problems ?? []);
          say(
            `  ${subject} ${Math.round(pair.subject.relayedPerSecond)} datagrams/s, ${baseline} ${Math.round(pair.baseline.relayedPerSecond)}: ` +
              `ratio ${pair.ratio.toFixed(3)}${pair.subject.serverBound && pair.baseline.serverBound ? "" : " (NOT coturn-bound: see the table)"}` +
              monitoringNote(pair.subject.monitoring ?? pair.baseline.monitoring, problems),
          );
        }
      }
      say(`Raw UDP, run ${run}/${options.runs}: client straight to peer, no relay, one way, unpaced, ${options.durationSeconds} s …`);
      const rawWindow = await measureWindow(
        labA,
        { route: { kind: "raw", sockets: count }, peer: { host: CLOUD_LAB.peer, port: SINK_PORT }, payloadBytes: options.packetBytes, pace: { kind: "unpaced", ceilingPerSecond: 10 * UNPACED_CEILING_PER_SECOND }, echo: false, graceMs: 0, lifetimeMs },
        timing,
        null,
      );
      raw.push({ run, packetsPerSecond: rawWindow.packets.clientToPeer / rawWindow.seconds, coreBusyPercent: rawWindow.coreBusyPercent });
      say(`  ${Math.round(raw[raw.length - 1].packetsPerSecond)} datagrams/s`);
    }

    // 3: paced loads relative to minimal's saturation over the same transport, one configuration at a time.
    const minimalSaturation = (transport: TurnTransport): number =>
      median(saturation.filter((p) => p.comparison === "hardening" && p.transport === transport).map((p) => p.baseline.relayedPerSecond));
    const paced: PacedSample[] = [];
    for (let run = 1; run <= options.runs; run++) {
      for (const transport of options.transports) {
        const order = pacedOrder(transport);
        for (const config of run % 2 === 1 ? order : [...order].reverse()) {
          for (const loadPercent of PACED_LOAD_PERCENTS) {
            const targetRelayedPerSecond = (minimalSaturation(transport) * loadPercent) / 100;
            say(`Paced (${transport}), run ${run}/${options.runs}: ${config} at ${loadPercent}% of minimal's saturation (${Math.round(targetRelayedPerSecond)} relayed datagrams/s, echoed), ${options.durationSeconds} s …`);
            const echoesPerSecond = targetRelayedPerSecond / 2;
            // A fresh coturn for every measurement: a new socket may get the port of an old one whose allocation
            // would otherwise still be alive (437), and no measurement inherits another's state.
            const coturn = await labA.startCoturn(config);
            try {
              const finish = await coturn.monitoring?.watch();
              const m = await measureWindow(
                labA,
                { route: turnRoute(transport), peer: { host: CLOUD_LAB.peer, port: ECHO_PORT }, payloadBytes: options.packetBytes, pace: { kind: "paced", perSecond: echoesPerSecond }, echo: true, graceMs: ECHO_GRACE_MS, lifetimeMs },
                timing,
                coturn.pid,
              );
              const check = finish === undefined ? null : finish(expectation(m, count));
              const sample = pacedSample(config, transport, run, loadPercent, { relayedPerSecond: targetRelayedPerSecond, echoesPerSecond }, m, check);
              paced.push(sample);
              say(
                `  lost ${sample.lost} of ${sample.sent}` +
                  (sample.heldBack > 0 ? ` (${sample.heldBack} held back: coturn did not read the connections fast enough)` : "") +
                  (sample.roundTripMs ? `, round trip p50 ${sample.roundTripMs.p50.toFixed(2)} ms, p99 ${sample.roundTripMs.p99.toFixed(2)} ms` : "") +
                  (sample.paceHeld ? "" : " (the generator did NOT hold the pace)") +
                  monitoringNote(check, check?.problems ?? []),
              );
            } finally {
              await coturn.stop();
            }
          }
        }
      }
    }
    return {
      options,
      layout,
      allocations: count,
      allocationCeilingPerSecond: ceilingPerAllocation,
      minimalOptions: MINIMAL_OPTIONS,
      productionOnlyLines: productionOnlyLines(production),
      saturation,
      raw,
      paced,
    };
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    say("Stopping every process and deleting the lab …");
    await cleanUp();
  }
}

/** What the bench counted in a window, for the monitoring's check. */
function expectation(m: WindowMeasurement, allocations: number): MonitoringExpectation {
  return { relayToPeer: m.packets.relayToPeer, serverToClient: m.packets.serverToClient, allocations };
}

/** The progress line's account of the monitoring in a window. */
function monitoringNote(check: MonitoringCheck | null, problems: readonly string[]): string {
  if (check === null) return "";
  if (problems.length > 0) return `; the monitoring did NOT work: ${problems.join("; ")}`;
  return `; monitoring checked (${check.scrapes} scrapes, kernel counters +${check.counted.udpIn}/+${check.counted.relayIn}, ${check.counted.allocationsCreated} allocations in mtail, its CPU ${check.cpuPercent.total.toFixed(1)}% of a core)`;
}

/** One head-to-head window of `comparison` over `transport`: `configs[i]` in `labs[i]`, each with a job of its own. */
async function saturationPair(
  labs: readonly [RelayLab, RelayLab],
  comparison: Comparison,
  transport: TurnTransport,
  configs: readonly [ConfigName, ConfigName],
  options: RelayBenchOptions,
  run: number,
  timing: WindowTiming,
  job: () => GeneratorJob,
): Promise<SaturationPair> {
  const coturns = await Promise.all(labs.map((lab, i) => lab.startCoturn(configs[i])));
  try {
    const jobs = labs.map(() => job());
    const finishes = await Promise.all(coturns.map((coturn) => coturn.monitoring?.watch()));
    const windows = await measureWindows(
      labs.map((lab, i) => ({ lab, job: jobs[i], coturnPid: coturns[i].pid })),
      timing,
    );
    const samples = windows.map((m, i) => {
      const route = jobs[i].route;
      const finish = finishes[i];
      const check = finish === undefined ? null : finish(expectation(m, route.kind === "turn" ? route.credentials.length : 0));
      return saturationSample(configs[i], transport, i === 0 ? "A" : "B", m, options.serverCpuPercent, check);
    });
    const byConfig = (name: ConfigName): SaturationSample => samples.find((s) => s.config === name) ?? samples[0];
    const subject = byConfig(comparison.subject);
    const baseline = byConfig(comparison.baseline);
    return { run, transport, comparison: comparison.name, subject, baseline, ratio: subject.relayedPerSecond / baseline.relayedPerSecond, coreBusyPercent: windows[0].coreBusyPercent };
  } finally {
    await Promise.all(coturns.map((c) => c.stop()));
  }
}
