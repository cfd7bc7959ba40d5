/**
 * The relay benchmark's verdict and its presentation: medians per configuration, the production/minimal and
 * monitored/production ratios at saturation against their targets, loss at half of saturation against zero (with
 * and without monitoring), whether each window measured coturn (not the generator), whether the monitoring did its
 * job in every monitored window and what it cost, and the tables the command prints.
 */
import { COMPARISONS, CONFIG_NAMES, productionOnlySummary, type Comparison, type ConfigName } from "./relayConfigs";
import type { MonitoringCheck } from "./benchMonitoring";
import { PACED_LOAD_PERCENTS, type RelayBenchResults } from "./relayBench";
import { SATURATED_BUDGET_SHARE, type PacedSample, type SaturationSample } from "./relaySamples";
import { median } from "./relayStatistics";

/** The ratio production/minimal at saturation must be at least this (relayConfigs.ts COMPARISONS has each target). */
export const RATIO_TARGET = COMPARISONS.find((c) => c.name === "hardening")?.target ?? 0.95;
/** The paced load at which production, with and without monitoring, must lose nothing, in percent of minimal's saturation. */
export const ZERO_LOSS_LOAD_PERCENT = 50;
/** The configurations that must lose nothing at ZERO_LOSS_LOAD_PERCENT. */
const ZERO_LOSS_CONFIGS = ["production", "monitored"] as const;

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
  /** The monitoring processes' CPU at saturation (median, percent of one core), and coturn's plus theirs per relayed datagram; null without monitoring. */
  readonly monitoringCpuPercent: number | null;
  readonly cpuMicrosecondsPerPacketWithMonitoring: number | null;
}

/** A comparison's verdict: subject/baseline at saturation, median over runs (see runRatios), lowest and highest run. */
export interface RatioSummary {
  readonly comparison: Comparison["name"];
  readonly subject: ConfigName;
  readonly baseline: ConfigName;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly target: number;
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
  readonly configs: Readonly<Record<ConfigName, ConfigSummary>>;
  /** Each comparison at saturation: production/minimal (hardening) and monitored/production (monitoring). */
  readonly ratios: Readonly<Record<Comparison["name"], RatioSummary>>;
  /** Loss at ZERO_LOSS_LOAD_PERCENT over every run, production with and without monitoring. */
  readonly lossAtHalf: Readonly<Record<(typeof ZERO_LOSS_CONFIGS)[number], { readonly lost: number; readonly sent: number; readonly met: boolean }>>;
  /** Median raw UDP rate (the ceiling) and its range. */
  readonly rawCeilingPerSecond: number;
  readonly rawRange: readonly [number, number];
  /** Whether every window measured coturn: saturation was coturn's and every paced load held its pace. */
  readonly measuredCoturn: boolean;
  /** The monitoring's checks and cost, and whether it did its job in every monitored window. */
  readonly monitoring: MonitoringSummary;
  readonly monitoringWorked: boolean;
  /** Targets met, every window valid, and the monitoring checked. */
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

/** Every saturation sample of `config`, whichever comparison it was measured in. */
function saturationSamples(results: RelayBenchResults, config: ConfigName): SaturationSample[] {
  return results.saturation.flatMap((pair) => [pair.subject, pair.baseline]).filter((sample) => sample.config === config);
}

function configSummary(results: RelayBenchResults, config: ConfigName): ConfigSummary {
  const windows = saturationSamples(results, config);
  const relayed = windows.map((w) => w.relayedPerSecond);
  const checks = windows.map((w) => w.monitoring).filter((c): c is MonitoringCheck => c !== null);
  return {
    saturationPerSecond: median(relayed),
    saturationRange: range(relayed),
    offeredPerSecond: median(windows.map((w) => w.offeredPerSecond)),
    coturnCpuPercent: median(windows.map((w) => w.coturnCpuPercent)),
    cpuMicrosecondsPerPacket: median(windows.map((w) => w.cpuMicrosecondsPerPacket)),
    serverBoundWindows: windows.filter((w) => w.serverBound).length,
    windows: windows.length,
    paced: PACED_LOAD_PERCENTS.map((load) => pacedSummary(results.paced.filter((s) => s.config === config), load)),
    monitoringCpuPercent: checks.length === 0 ? null : median(checks.map((c) => c.cpuPercent.total)),
    cpuMicrosecondsPerPacketWithMonitoring:
      checks.length === 0
        ? null
        : median(windows.map((w) => (w.monitoring === null ? Number.NaN : ((w.coturnCpuPercent + w.monitoring.cpuPercent.total) / 100) * (1e6 / w.relayedPerSecond)))),
  };
}

/**
 * subject/baseline of each run of `comparison`: the geometric mean of its two head-to-head windows (the subject in lab
 * A, then in lab B), so that a difference between the labs themselves cancels: production against production on the
 * development machine gave 0.96-1.03 per window (one lab ahead by 2-3%, not always the same one), but 0.99-1.00 per run.
 */
export function runRatios(results: RelayBenchResults, comparison: Comparison["name"] = "hardening"): number[] {
  const pairs = results.saturation.filter((pair) => pair.comparison === comparison);
  const runs = [...new Set(pairs.map((pair) => pair.run))];
  return runs.map((run) => {
    const ratios = pairs.filter((pair) => pair.run === run).map((pair) => pair.ratio);
    return Math.exp(ratios.reduce((sum, r) => sum + Math.log(r), 0) / ratios.length);
  });
}

function ratioSummary(results: RelayBenchResults, comparison: Comparison): RatioSummary {
  const ratios = runRatios(results, comparison.name);
  const middle = median(ratios);
  return {
    comparison: comparison.name,
    subject: comparison.subject,
    baseline: comparison.baseline,
    median: middle,
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    target: comparison.target,
    met: middle >= comparison.target,
  };
}

function monitoringSummary(results: RelayBenchResults): MonitoringSummary {
  const where = (label: string, checks: readonly (MonitoringCheck | null)[]) => ({ label, checks: checks.filter((c): c is MonitoringCheck => c !== null) });
  const groups = [
    where("saturation", saturationSamples(results, "monitored").map((s) => s.monitoring)),
    ...PACED_LOAD_PERCENTS.map((load) => where(`paced ${load}%`, results.paced.filter((s) => s.config === "monitored" && s.loadPercent === load).map((s) => s.monitoring))),
  ];
  const all = groups.flatMap((g) => g.checks);
  const monitoredWindows = saturationSamples(results, "monitored").length + results.paced.filter((s) => s.config === "monitored").length;
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

/** The verdict on a bench run's results. */
export function summarize(results: RelayBenchResults): RelayBenchSummary {
  const configs = Object.fromEntries(CONFIG_NAMES.map((name) => [name, configSummary(results, name)])) as Record<ConfigName, ConfigSummary>;
  const ratios = Object.fromEntries(COMPARISONS.map((c) => [c.name, ratioSummary(results, c)])) as Record<Comparison["name"], RatioSummary>;
  const lossAtHalf = Object.fromEntries(
    ZERO_LOSS_CONFIGS.map((name) => {
      const half = configs[name].paced.find((p) => p.loadPercent === ZERO_LOSS_LOAD_PERCENT);
      return [name, { lost: half?.lost ?? 0, sent: half?.sent ?? 0, met: half !== undefined && half.sent > 0 && half.lost === 0 }];
    }),
  ) as RelayBenchSummary["lossAtHalf"];
  const measuredCoturn = CONFIG_NAMES.every((c) => configs[c].serverBoundWindows === configs[c].windows) && results.paced.every((s) => s.paceHeld);
  const monitoring = monitoringSummary(results);
  const monitoringWorked = monitoring.windows > 0 && monitoring.problems.length === 0;
  const rawRates = results.raw.map((r) => r.packetsPerSecond);
  return {
    configs,
    ratios,
    lossAtHalf,
    rawCeilingPerSecond: median(rawRates),
    rawRange: range(rawRates),
    measuredCoturn,
    monitoring,
    monitoringWorked,
    passed: Object.values(ratios).every((r) => r.met) && Object.values(lossAtHalf).every((l) => l.met) && measuredCoturn && monitoringWorked,
  };
}

/** A whole number with thousands separators. */
export function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-";
}

const percent = (value: number, digits = 1): string => `${value.toFixed(digits)}%`;
const milliseconds = (value: number): string => `${value.toFixed(2)} ms`;

/** What was compared, on what: coturn's version, the payload, the core layout and the configs' differences. */
export function headerLines(results: RelayBenchResults, coturnVersion: string): string[] {
  const { layout, options } = results;
  const cores =
    layout.serverCore === null
      ? `1 core: nothing pinned; each coturn within ${options.serverCpuPercent}% of it`
      : `${layout.cores.length} cores: each coturn pinned to core ${layout.serverCore} within ${options.serverCpuPercent}% of it; ` +
        `the monitored config's mtail, node-exporter and collector on core ${layout.serverCore} outside that budget; ` +
        `generators, echo peers and the bench on core ${layout.generatorCores?.join(",")}`;
  return [
    `coturn ${coturnVersion}: aws-example production config vs minimal config, and production with the VM's monitoring vs without, ` +
      `${options.packetBytes}-byte payloads, ${results.allocations} allocations per lab`,
    cores,
    `minimal keeps only: ${results.minimalOptions.join(", ")}`,
    `production adds: ${productionOnlySummary(results.productionOnlyLines.join("\n"))}; and the VM's per-source limits (nftables, coturn:rateLimits' defaults)`,
    `monitored adds: the rendered nftables accounting table in the server's namespace, mtail on coturn's log, node-exporter, ` +
      `and a collector run and a page read every ${options.scrapeMs / 1000} s (the VM's timer: 15 s)`,
  ];
}

const cpuPerDatagram = (microseconds: number | null): string => (microseconds === null || !Number.isFinite(microseconds) ? "-" : `${microseconds.toFixed(1)} µs`);

/** The saturation table: one row per configuration. */
export function saturationTable(summary: RelayBenchSummary): { header: string[]; rows: string[][] } {
  return {
    header: ["config", "relayed/s", "lowest-highest", "offered to coturn/s", "coturn CPU", "CPU/datagram", "monitoring CPU", "CPU/datagram with it", "coturn-bound"],
    rows: CONFIG_NAMES.map((name) => {
      const c = summary.configs[name];
      return [
        name,
        count(c.saturationPerSecond),
        `${count(c.saturationRange[0])}-${count(c.saturationRange[1])}`,
        count(c.offeredPerSecond),
        percent(c.coturnCpuPercent),
        cpuPerDatagram(c.cpuMicrosecondsPerPacket),
        c.monitoringCpuPercent === null ? "-" : percent(c.monitoringCpuPercent),
        cpuPerDatagram(c.cpuMicrosecondsPerPacketWithMonitoring),
        `${c.serverBoundWindows}/${c.windows} windows`,
      ];
    }),
  };
}

/** The comparisons table: each ratio at saturation against its target. */
export function comparisonTable(summary: RelayBenchSummary): { header: string[]; rows: string[][] } {
  return {
    header: ["comparison", "ratio (median of runs)", "runs", "target", "met"],
    rows: Object.values(summary.ratios).map((r) => [
      `${r.subject}/${r.baseline}`,
      r.median.toFixed(3),
      `${r.min.toFixed(3)}-${r.max.toFixed(3)}`,
      `>= ${r.target}`,
      r.met ? "yes" : "NO",
    ]),
  };
}

/** The monitoring table: its CPU where it ran, and how many windows it was checked in. */
export function monitoringTable(summary: RelayBenchSummary): { header: string[]; rows: string[][] } {
  return {
    header: ["monitored windows", "mtail", "node-exporter", "collector + page reads", "monitoring CPU", "of a 100% core"],
    rows: summary.monitoring.cpuPercent.map((c) => [c.where, percent(c.mtail, 2), percent(c.nodeExporter, 2), percent(c.scrapes, 2), percent(c.total, 2), `${(c.total / 100).toFixed(4)} cores`]),
  };
}

/** The paced table: one row per configuration and load; coturn's CPU also as a share of its budget. */
export function pacedTable(summary: RelayBenchSummary, budgetPercent: number): { header: string[]; rows: string[][] } {
  return {
    header: ["config", "load", "relayed/s", "lost", "of sent", "loss", "RTT p50", "RTT p95", "RTT p99", "coturn CPU", "of budget", "pace held"],
    rows: CONFIG_NAMES.flatMap((name) =>
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

/** The closing lines: the ceiling, the ratios and the losses against their targets, and whether the windows are valid. */
export function verdictLines(summary: RelayBenchSummary): string[] {
  const { ratios, lossAtHalf, configs, monitoring } = summary;
  const lines = [
    `Raw UDP ceiling (client straight to peer, no relay, one way, same generator): ${count(summary.rawCeilingPerSecond)} datagrams/s ` +
      `(${count(summary.rawRange[0])}-${count(summary.rawRange[1])}), ${(summary.rawCeilingPerSecond / configs.production.saturationPerSecond).toFixed(1)}× production's saturation`,
    ...Object.values(ratios).map(
      (r) =>
        `${r.subject}/${r.baseline} at saturation: ${r.median.toFixed(3)} (runs: ${r.min.toFixed(3)}-${r.max.toFixed(3)}, each the mean of both lab placements); ` +
        `target >= ${r.target}: ${r.met ? "met" : "NOT met"}`,
    ),
    ...ZERO_LOSS_CONFIGS.map(
      (name) =>
        `${name} loss at ${ZERO_LOSS_LOAD_PERCENT}% of saturation: ${count(lossAtHalf[name].lost)} of ${count(lossAtHalf[name].sent)} datagrams; target 0: ${lossAtHalf[name].met ? "met" : "NOT met"}`,
    ),
    summary.monitoringWorked
      ? `The monitoring worked in all ${monitoring.windows} monitored windows: its relay counters grew by at least what the bench counted, mtail counted every allocation, ` +
        `coturn_up and coturn_log_metrics_up were 1, ${monitoring.scrapesPerWindow} scrapes per window (median), longest gap ${Math.round(monitoring.longestGapMs)} ms`
      : `The monitoring did NOT work (${monitoring.checkedWindows} of ${monitoring.windows} monitored windows checked), so the monitored figures say nothing: ${monitoring.problems.slice(0, 5).join("; ")}`,
  ];
  if (!summary.measuredCoturn) {
    const notBound = CONFIG_NAMES.map((c) => configs[c].windows - configs[c].serverBoundWindows).reduce((a, b) => a + b, 0);
    const paceLost = CONFIG_NAMES.flatMap((c) => configs[c].paced).reduce((n, p) => n + p.runs - p.paceHeldRuns, 0);
    lines.push(
      `NOT a measurement of coturn: ${notBound} saturation windows where coturn did not both use ${Math.round(SATURATED_BUDGET_SHARE * 100)}% of its budget ` +
        `and leave the generator's surplus undelivered, ${paceLost} paced windows where the generator could not hold its pace. ` +
        "The generator was the limit there; rerun with a lower --server-cpu-percent, or on a machine with more cores.",
    );
  }
  return lines;
}
