/**
 * The relay benchmark's verdict: medians per configuration and transport, the production/minimal ratio at saturation
 * over each transport and the monitored/production ratio over UDP against their targets, loss at half of each
 * transport's minimal saturation against zero (production over every transport, and monitored), whether each window
 * measured coturn (not the generator), and whether the monitoring did its job in every monitored window and what it
 * cost. The tables the command prints from it are in relayReport.ts.
 */
import type { TurnTransport } from "../../src/probe/turnClient";
import type { MonitoringCheck } from "./benchMonitoring";
import { PACED_LOAD_PERCENTS, saturationMatchups, type RelayBenchResults } from "./relayBench";
import { CONFIG_NAMES, type Comparison, type ConfigName } from "./relayConfigs";
import type { PacedSample, SaturationSample } from "./relaySamples";
import { median } from "./relayStatistics";

/** The paced load at which production (over every transport) and monitored must lose nothing, in percent of minimal's saturation. */
export const ZERO_LOSS_LOAD_PERCENT = 50;
/** The configurations that must lose nothing at ZERO_LOSS_LOAD_PERCENT (monitored only runs over UDP). */
const ZERO_LOSS_CONFIGS: readonly ConfigName[] = ["production", "monitored"];

/** A configuration's paced load over one transport, summarized over runs. */
export interface PacedSummary {
  readonly loadPercent: number;
  /** Medians over runs. */
  readonly targetRelayedPerSecond: number;
  readonly relayedPerSecond: number;
  readonly coturnCpuPercent: number;
  /** Sums over runs. */
  readonly sent: number;
  readonly lost: number;
  /** Of the lost, held back on a backed-up TCP/TLS connection. */
  readonly heldBack: number;
  /** lost / sent over all runs. */
  readonly lossPercent: number;
  /** Median over runs of each run's percentile, or null without echoes. */
  readonly roundTripMs: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
  /** Runs in which the generator held its pace, of all runs. */
  readonly paceHeldRuns: number;
  readonly runs: number;
}

/** A configuration's results over one transport, summarized. */
export interface ConfigSummary {
  readonly transport: TurnTransport;
  readonly config: ConfigName;
  /** Median relayed datagrams per second at saturation, and the lowest and highest window. */
  readonly saturationPerSecond: number;
  readonly saturationRange: readonly [number, number];
  readonly offeredPerSecond: number;
  readonly coturnCpuPercent: number;
  readonly cpuMicrosecondsPerPacket: number;
  /** Saturation windows in which coturn, not the generator, was the limit, of all windows. */
  readonly serverBoundWindows: number;
  readonly windows: number;
  readonly paced: readonly PacedSummary[];
  /** The monitoring processes' CPU at saturation (median, percent of one core), and coturn's plus theirs per relayed datagram; null without monitoring. */
  readonly monitoringCpuPercent: number | null;
  readonly cpuMicrosecondsPerPacketWithMonitoring: number | null;
}

/** A comparison's verdict over one transport: subject/baseline at saturation, median over runs (see runRatios), lowest and highest run. */
export interface RatioSummary {
  readonly comparison: Comparison["name"];
  readonly transport: TurnTransport;
  readonly subject: ConfigName;
  readonly baseline: ConfigName;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly target: number;
  readonly met: boolean;
}

/** Loss of one configuration over one transport at ZERO_LOSS_LOAD_PERCENT, over every run. */
export interface LossVerdict {
  readonly transport: TurnTransport;
  readonly config: ConfigName;
  readonly lost: number;
  readonly sent: number;
  readonly heldBack: number;
  readonly met: boolean;
}

/** Whether the monitoring did its job in every monitored window, and what it cost. */
export interface MonitoringSummary {
  /** Monitored windows (saturation and paced), and those whose check found no problem. */
  readonly windows: number;
  readonly checkedWindows: number;
  /** Every problem found, with the window it was found in. */
  readonly problems: readonly string[];
  /** Medians over the monitored windows: scrapes per window and the longest gap between two. */
  readonly scrapesPerWindow: number;
  readonly longestGapMs: number;
  /** Median CPU of the monitoring processes, percent of one core, at saturation and at each paced load. */
  readonly cpuPercent: readonly { readonly where: string; readonly mtail: number; readonly nodeExporter: number; readonly scrapes: number; readonly total: number }[];
}

/** The verdict of one bench run. */
export interface RelayBenchSummary {
  /** The transports that ran, in order. */
  readonly transports: readonly TurnTransport[];
  /** One row per transport and configuration that ran there (production, minimal; monitored over UDP). */
  readonly configs: readonly ConfigSummary[];
  /** Each comparison at saturation: production/minimal over each transport, monitored/production over UDP. */
  readonly ratios: readonly RatioSummary[];
  /** Loss at ZERO_LOSS_LOAD_PERCENT over every run: production over each transport, monitored over UDP. */
  readonly lossAtHalf: readonly LossVerdict[];
  /** Median raw UDP rate (the ceiling) and its range. */
  readonly rawCeilingPerSecond: number;
  readonly rawRange: readonly [number, number];
  /** Whether every window measured coturn: saturation was coturn's and every paced load held its pace. */
  readonly measuredCoturn: boolean;
  /** The monitoring's checks and cost; whether it did its job in every monitored window (null: not run, no UDP). */
  readonly monitoring: MonitoringSummary;
  readonly monitoringWorked: boolean | null;
  /** Targets met, every window valid, and the monitoring checked where it ran. */
  readonly passed: boolean;
}

const range = (values: readonly number[]): [number, number] => [Math.min(...values), Math.max(...values)];

function pacedSummary(samples: readonly PacedSample[], loadPercent: number): PacedSummary {
  const at = samples.filter((s) => s.loadPercent === loadPercent);
  const sent = at.reduce((n, s) => n + s.sent, 0);
  const lost = at.reduce((n, s) => n + s.lost, 0);
  const timed = at.filter((s) => s.roundTripMs !== null).map((s) => s.roundTripMs as NonNullable<PacedSample["roundTripMs"]>);
  return {
    loadPercent,
    targetRelayedPerSecond: median(at.map((s) => s.targetRelayedPerSecond)),
    relayedPerSecond: median(at.map((s) => s.relayedPerSecond)),
    coturnCpuPercent: median(at.map((s) => s.coturnCpuPercent)),
    sent,
    lost,
    heldBack: at.reduce((n, s) => n + s.heldBack, 0),
    lossPercent: sent > 0 ? (100 * lost) / sent : 0,
    roundTripMs: timed.length === 0 ? null : { p50: median(timed.map((t) => t.p50)), p95: median(timed.map((t) => t.p95)), p99: median(timed.map((t) => t.p99)) },
    paceHeldRuns: at.filter((s) => s.paceHeld).length,
    runs: at.length,
  };
}

/** Every saturation sample of `config` over `transport`, whichever comparison it was measured in. */
function saturationSamples(results: RelayBenchResults, config: ConfigName, transport: TurnTransport): SaturationSample[] {
  return results.saturation
    .filter((pair) => pair.transport === transport)
    .flatMap((pair) => [pair.subject, pair.baseline])
    .filter((sample) => sample.config === config);
}

function configSummary(results: RelayBenchResults, config: ConfigName, transport: TurnTransport): ConfigSummary {
  const windows = saturationSamples(results, config, transport);
  const relayed = windows.map((w) => w.relayedPerSecond);
  const checks = windows.map((w) => w.monitoring).filter((c): c is MonitoringCheck => c !== null);
  return {
    transport,
    config,
    saturationPerSecond: median(relayed),
    saturationRange: range(relayed),
    offeredPerSecond: median(windows.map((w) => w.offeredPerSecond)),
    coturnCpuPercent: median(windows.map((w) => w.coturnCpuPercent)),
    cpuMicrosecondsPerPacket: median(windows.map((w) => w.cpuMicrosecondsPerPacket)),
    serverBoundWindows: windows.filter((w) => w.serverBound).length,
    windows: windows.length,
    paced: PACED_LOAD_PERCENTS.map((load) => pacedSummary(results.paced.filter((s) => s.config === config && s.transport === transport), load)),
    monitoringCpuPercent: checks.length === 0 ? null : median(checks.map((c) => c.cpuPercent.total)),
    cpuMicrosecondsPerPacketWithMonitoring:
      checks.length === 0
        ? null
        : median(windows.map((w) => (w.monitoring === null ? Number.NaN : ((w.coturnCpuPercent + w.monitoring.cpuPercent.total) / 100) * (1e6 / w.relayedPerSecond)))),
  };
}

/**
 * subject/baseline of each run of `comparison` over `transport`: the geometric mean of its two head-to-head windows
 * (the subject in lab A, then in lab B), so that a difference between the labs themselves cancels: production against
 * production on the development machine gave 0.96-1.03 per window (one lab ahead by 2-3%, not always the same one), but
 * 0.99-1.00 per run.
 */
export function runRatios(results: RelayBenchResults, comparison: Comparison["name"] = "hardening", transport: TurnTransport = "udp"): number[] {
  const pairs = results.saturation.filter((pair) => pair.comparison === comparison && pair.transport === transport);
  const runs = [...new Set(pairs.map((pair) => pair.run))];
  return runs.map((run) => {
    const ratios = pairs.filter((pair) => pair.run === run).map((pair) => pair.ratio);
    return Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  });
}

function ratioSummary(results: RelayBenchResults, comparison: Comparison, transport: TurnTransport): RatioSummary {
  const ratios = runRatios(results, comparison.name, transport);
  const middle = median(ratios);
  return {
    comparison: comparison.name,
    transport,
    subject: comparison.subject,
    baseline: comparison.baseline,
    median: middle,
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    target: comparison.target,
    // NaN (no run) meets nothing.
    met: middle >= comparison.target,
  };
}

function monitoringSummary(results: RelayBenchResults): MonitoringSummary {
  const where = (label: string, checks: readonly (MonitoringCheck | null)[]) => ({ label, checks: checks.filter((c): c is MonitoringCheck => c !== null) });
  const monitoredPaced = results.paced.filter((s) => s.config === "monitored");
  const groups = [
    where("saturation", saturationSamples(results, "monitored", "udp").map((s) => s.monitoring)),
    ...PACED_LOAD_PERCENTS.map((load) => where(`paced ${load}%`, monitoredPaced.filter((s) => s.loadPercent === load).map((s) => s.monitoring))),
  ];
  const all = groups.flatMap((g) => g.checks);
  const monitoredWindows = saturationSamples(results, "monitored", "udp").length + monitoredPaced.length;
  return {
    windows: monitoredWindows,
    checkedWindows: all.filter((c) => c.problems.length === 0).length,
    problems: [
      ...(all.length < monitoredWindows ? [`${monitoredWindows - all.length} monitored windows have no monitoring account`] : []),
      ...groups.flatMap((g) => g.checks.flatMap((c) => c.problems.map((p) => `${g.label}: ${p}`))),
    ],
    scrapesPerWindow: median(all.map((c) => c.scrapes)),
    longestGapMs: median(all.map((c) => c.longestGapMs)),
    cpuPercent: groups
      .filter((g) => g.checks.length > 0)
      .map((g) => ({
        where: g.label,
        mtail: median(g.checks.map((c) => c.cpuPercent.mtail)),
        nodeExporter: median(g.checks.map((c) => c.cpuPercent.nodeExporter)),
        scrapes: median(g.checks.map((c) => c.cpuPercent.scrapes)),
        total: median(g.checks.map((c) => c.cpuPercent.total)),
      })),
  };
}

/** The configurations measured over `transport`, in report order. */
export function configsOver(transport: TurnTransport): ConfigName[] {
  return CONFIG_NAMES.filter((name) => name !== "monitored" || transport === "udp");
}

/** The row of `config` over `transport`, if it ran. */
export function configRow(summary: Pick<RelayBenchSummary, "configs">, transport: TurnTransport, config: ConfigName): ConfigSummary | undefined {
  return summary.configs.find((c) => c.transport === transport && c.config === config);
}

/** The verdict on a bench run's results. */
export function summarize(results: RelayBenchResults): RelayBenchSummary {
  const transports = results.options.transports;
  const configs = transports.flatMap((transport) => configsOver(transport).map((name) => configSummary(results, name, transport)));
  const ratios = saturationMatchups(transports).map(({ comparison, transport }) => ratioSummary(results, comparison, transport));
  const lossAtHalf: LossVerdict[] = configs
    .filter((c) => ZERO_LOSS_CONFIGS.includes(c.config))
    .map((c) => {
      const half = c.paced.find((p) => p.loadPercent === ZERO_LOSS_LOAD_PERCENT);
      return {
        transport: c.transport,
        config: c.config,
        lost: half?.lost ?? 0,
        sent: half?.sent ?? 0,
        heldBack: half?.heldBack ?? 0,
        met: half !== undefined && half.sent > 0 && half.lost === 0,
      };
    });
  const measuredCoturn = configs.every((c) => c.serverBoundWindows === c.windows) && results.paced.every((s) => s.paceHeld);
  const monitoring = monitoringSummary(results);
  const monitoringWorked = transports.includes("udp") ? monitoring.windows > 0 && monitoring.problems.length === 0 : null;
  const rawRates = results.raw.map((r) => r.packetsPerSecond);
  return {
    transports,
    configs,
    ratios,
    lossAtHalf,
    rawCeilingPerSecond: median(rawRates),
    rawRange: range(rawRates),
    measuredCoturn,
    monitoring,
    monitoringWorked,
    passed: ratios.length > 0 && ratios.every((r) => r.met) && lossAtHalf.every((l) => l.met) && measuredCoturn && monitoringWorked !== false,
  };
}
