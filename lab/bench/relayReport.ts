/**
 * The relay benchmark's verdict and its presentation: medians per configuration, the production/minimal ratio at
 * saturation against its target, loss at half of saturation against zero, whether each window measured coturn (not
 * the generator), and the tables the command prints.
 */
import { productionOnlySummary, type ConfigName } from "./relayConfigs";
import { PACED_LOAD_PERCENTS, type RelayBenchResults } from "./relayBench";
import { SATURATED_BUDGET_SHARE, type PacedSample, type SaturationSample } from "./relaySamples";
import { median } from "./relayStatistics";

/** The ratio production/minimal at saturation must be at least this. */
export const RATIO_TARGET = 0.95;
/** The paced load at which production must lose nothing, in percent of minimal's saturation. */
export const ZERO_LOSS_LOAD_PERCENT = 50;

/** A configuration's paced load, summarized over runs. */
export interface PacedSummary {
  readonly loadPercent: number;
  /** Medians over runs. */
  readonly targetRelayedPerSecond: number;
  readonly relayedPerSecond: number;
  readonly coturnCpuPercent: number;
  /** Sums over runs. */
  readonly sent: number;
  readonly lost: number;
  /** lost / sent over all runs. */
  readonly lossPercent: number;
  /** Median over runs of each run's percentile, or null without echoes. */
  readonly roundTripMs: { readonly p50: number; readonly p95: number; readonly p99: number } | null;
  /** Runs in which the generator held its pace, of all runs. */
  readonly paceHeldRuns: number;
  readonly runs: number;
}

/** A configuration's results, summarized. */
export interface ConfigSummary {
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
}

/** The verdict of one bench run. */
export interface RelayBenchSummary {
  readonly configs: Readonly<Record<ConfigName, ConfigSummary>>;
  /** production/minimal at saturation: median over runs (see runRatios), with the lowest and highest run. */
  readonly ratio: { readonly median: number; readonly min: number; readonly max: number; readonly target: number; readonly met: boolean };
  /** production's loss at ZERO_LOSS_LOAD_PERCENT, over every run. */
  readonly lossAtHalf: { readonly lost: number; readonly sent: number; readonly met: boolean };
  /** Median raw UDP rate (the ceiling) and its range. */
  readonly rawCeilingPerSecond: number;
  readonly rawRange: readonly [number, number];
  /** Whether every window measured coturn: saturation was coturn's and every paced load held its pace. */
  readonly measuredCoturn: boolean;
  /** Targets met and every window valid. */
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
    lossPercent: sent > 0 ? (100 * lost) / sent : 0,
    roundTripMs: timed.length === 0 ? null : { p50: median(timed.map((t) => t.p50)), p95: median(timed.map((t) => t.p95)), p99: median(timed.map((t) => t.p99)) },
    paceHeldRuns: at.filter((s) => s.paceHeld).length,
    runs: at.length,
  };
}

function configSummary(results: RelayBenchResults, config: ConfigName): ConfigSummary {
  const windows: SaturationSample[] = results.saturation.map((pair) => pair[config]);
  const relayed = windows.map((w) => w.relayedPerSecond);
  return {
    saturationPerSecond: median(relayed),
    saturationRange: range(relayed),
    offeredPerSecond: median(windows.map((w) => w.offeredPerSecond)),
    coturnCpuPercent: median(windows.map((w) => w.coturnCpuPercent)),
    cpuMicrosecondsPerPacket: median(windows.map((w) => w.cpuMicrosecondsPerPacket)),
    serverBoundWindows: windows.filter((w) => w.serverBound).length,
    windows: windows.length,
    paced: PACED_LOAD_PERCENTS.map((load) => pacedSummary(results.paced.filter((s) => s.config === config), load)),
  };
}

/**
 * production/minimal of each run: the geometric mean of its two head-to-head windows (production in lab A, then in
 * lab B), so that a difference between the labs themselves cancels: production against production on the development
 * machine gave 0.96-1.03 per window (one lab ahead by 2-3%, not always the same one), but 0.99-1.00 per run.
 */
export function runRatios(results: RelayBenchResults): number[] {
  const runs = [...new Set(results.saturation.map((pair) => pair.run))];
  return runs.map((run) => {
    const ratios = results.saturation.filter((pair) => pair.run === run).map((pair) => pair.ratio);
    return Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  });
}

/** The verdict on a bench run's results. */
export function summarize(results: RelayBenchResults): RelayBenchSummary {
  const configs = { production: configSummary(results, "production"), minimal: configSummary(results, "minimal") };
  const ratios = runRatios(results);
  const ratio = { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios), target: RATIO_TARGET, met: median(ratios) >= RATIO_TARGET };
  const half = configs.production.paced.find((p) => p.loadPercent === ZERO_LOSS_LOAD_PERCENT);
  const lossAtHalf = { lost: half?.lost ?? 0, sent: half?.sent ?? 0, met: half !== undefined && half.sent > 0 && half.lost === 0 };
  const measuredCoturn =
    (["production", "minimal"] as const).every((c) => configs[c].serverBoundWindows === configs[c].windows) &&
    results.paced.every((s) => s.paceHeld);
  const rawRates = results.raw.map((r) => r.packetsPerSecond);
  return {
    configs,
    ratio,
    lossAtHalf,
    rawCeilingPerSecond: median(rawRates),
    rawRange: range(rawRates),
    measuredCoturn,
    passed: ratio.met && lossAtHalf.met && measuredCoturn,
  };
}

/** A whole number with thousands separators. */
export function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-";
}

const percent = (value: number, digits = 1): string => `${value.toFixed(digits)}%`;
const milliseconds = (value: number): string => `${value.toFixed(2)} ms`;

/** What was compared, on what: coturn's version, the payload, the core layout and the two configs' difference. */
export function headerLines(results: RelayBenchResults, coturnVersion: string): string[] {
  const { layout, options } = results;
  const cores =
    layout.serverCore === null
      ? `1 core: nothing pinned; each coturn within ${options.serverCpuPercent}% of it`
      : `${layout.cores.length} cores: each coturn pinned to core ${layout.serverCore} within ${options.serverCpuPercent}% of it; ` +
        `generators, echo peers and the bench on core ${layout.generatorCores?.join(",")}`;
  return [
    `coturn ${coturnVersion}: aws-example production config vs minimal config, ${options.packetBytes}-byte payloads, ${results.allocations} allocations per lab`,
    cores,
    `minimal keeps only: ${results.minimalOptions.join(", ")}`,
    `production adds: ${productionOnlySummary(results.productionOnlyLines.join("\n"))}`,
  ];
}

/** The saturation table: one row per configuration. */
export function saturationTable(summary: RelayBenchSummary): { header: string[]; rows: string[][] } {
  return {
    header: ["config", "relayed/s", "lowest-highest", "offered to coturn/s", "coturn CPU", "CPU/datagram", "coturn-bound"],
    rows: (["production", "minimal"] as const).map((name) => {
      const c = summary.configs[name];
      return [
        name,
        count(c.saturationPerSecond),
        `${count(c.saturationRange[0])}-${count(c.saturationRange[1])}`,
        count(c.offeredPerSecond),
        percent(c.coturnCpuPercent),
        `${c.cpuMicrosecondsPerPacket.toFixed(1)} µs`,
        `${c.serverBoundWindows}/${c.windows} windows`,
      ];
    }),
  };
}

/** The paced table: one row per configuration and load; coturn's CPU also as a share of its budget. */
export function pacedTable(summary: RelayBenchSummary, budgetPercent: number): { header: string[]; rows: string[][] } {
  return {
    header: ["config", "load", "relayed/s", "lost", "of sent", "loss", "RTT p50", "RTT p95", "RTT p99", "coturn CPU", "of budget", "pace held"],
    rows: (["production", "minimal"] as const).flatMap((name) =>
      summary.configs[name].paced.map((p) => [
        name,
        `${p.loadPercent}%`,
        count(p.relayedPerSecond),
        count(p.lost),
        count(p.sent),
        percent(p.lossPercent, 3),
        p.roundTripMs ? milliseconds(p.roundTripMs.p50) : "-",
        p.roundTripMs ? milliseconds(p.roundTripMs.p95) : "-",
        p.roundTripMs ? milliseconds(p.roundTripMs.p99) : "-",
        percent(p.coturnCpuPercent),
        percent((100 * p.coturnCpuPercent) / budgetPercent, 0),
        `${p.paceHeldRuns}/${p.runs} runs`,
      ]),
    ),
  };
}

/** The closing lines: the ceiling, the ratio and the loss against their targets, and whether the windows are valid. */
export function verdictLines(summary: RelayBenchSummary): string[] {
  const { ratio, lossAtHalf, configs } = summary;
  const lines = [
    `Raw UDP ceiling (client straight to peer, no relay, one way, same generator): ${count(summary.rawCeilingPerSecond)} datagrams/s ` +
      `(${count(summary.rawRange[0])}-${count(summary.rawRange[1])}), ${(summary.rawCeilingPerSecond / configs.production.saturationPerSecond).toFixed(1)}× production's saturation`,
    `production/minimal at saturation: ${ratio.median.toFixed(3)} (runs: ${ratio.min.toFixed(3)}-${ratio.max.toFixed(3)}, each the mean of both lab placements); ` +
      `target >= ${ratio.target}: ${ratio.met ? "met" : "NOT met"}`,
    `production loss at ${ZERO_LOSS_LOAD_PERCENT}% of saturation: ${count(lossAtHalf.lost)} of ${count(lossAtHalf.sent)} datagrams; target 0: ${lossAtHalf.met ? "met" : "NOT met"}`,
  ];
  if (!summary.measuredCoturn) {
    const notBound = (["production", "minimal"] as const).map((c) => configs[c].windows - configs[c].serverBoundWindows).reduce((a, b) => a + b, 0);
    const paceLost = (["production", "minimal"] as const).flatMap((c) => configs[c].paced).reduce((n, p) => n + p.runs - p.paceHeldRuns, 0);
    lines.push(
      `NOT a measurement of coturn: ${notBound} saturation windows where coturn did not both use ${Math.round(SATURATED_BUDGET_SHARE * 100)}% of its budget ` +
        `and leave the generator's surplus undelivered, ${paceLost} paced windows where the generator could not hold its pace. ` +
        "The generator was the limit there; rerun with a lower --server-cpu-percent, or on a machine with more cores.",
    );
  }
  return lines;
}
