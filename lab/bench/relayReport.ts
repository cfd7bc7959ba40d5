/**
 * The relay benchmark's presentation: what was compared on what, the per-transport table (saturation of production and
 * minimal, their ratio, coturn's CPU per relayed datagram, loss at 25% and 50%), the saturation, comparison, monitoring
 * and paced tables, and the closing verdict lines. The verdict itself is relaySummary.ts.
 */
import type { TurnTransport } from "../../src/probe/turnClient";
import type { RelayBenchResults } from "./relayBench";
import { productionOnlySummary } from "./relayConfigs";
import { SATURATED_BUDGET_SHARE } from "./relaySamples";
import { configRow, ZERO_LOSS_LOAD_PERCENT, type PacedSummary, type RelayBenchSummary } from "./relaySummary";

/** A whole number with thousands separators. */
export function count(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString("en-US") : "-";
}

const percent = (value: number, digits = 1): string => `${value.toFixed(digits)}%`;
const milliseconds = (value: number): string => `${value.toFixed(2)} ms`;

/** What was compared, on what: coturn's version, the payload, the transports, the core layout and the configs' differences. */
export function headerLines(results: RelayBenchResults, coturnVersion: string): string[] {
  const { layout, options } = results;
  const cores =
    layout.serverCore === null
      ? `1 core: nothing pinned; each coturn within ${options.serverCpuPercent}% of it`
      : `${layout.cores.length} cores: each coturn pinned to core ${layout.serverCore} within ${options.serverCpuPercent}% of it; ` +
        `the monitored config's mtail, node-exporter and collector on core ${layout.serverCore} outside that budget; ` +
        `generators, echo peers and the bench on core ${layout.generatorCores?.join(",")}`;
  const monitored = options.transports.includes("udp") ? ", and production with the VM's monitoring vs without over UDP" : " (no monitored comparison: it runs over UDP only)";
  return [
    `coturn ${coturnVersion}: aws-example production config vs minimal config over ${options.transports.join(", ")} between client and coturn${monitored}; ` +
      `${options.packetBytes}-byte payloads, ${results.allocations} allocations per lab (over TCP and TLS one connection each); the relay's leg to the peer is UDP`,
    cores,
    `minimal keeps only: ${results.minimalOptions.join(", ")}`,
    `production adds: ${productionOnlySummary(results.productionOnlyLines.join("\n"))}; and the VM's per-source limits (nftables, coturn:rateLimits' defaults)`,
    `monitored adds: the rendered nftables accounting table in the server's namespace, mtail on coturn's log, node-exporter, ` +
      `and a collector run and a page read every ${options.scrapeMs / 1000} s (the VM's timer: 15 s)`,
  ];
}

const cpuPerDatagram = (microseconds: number | null | undefined): string =>
  microseconds === null || microseconds === undefined || !Number.isFinite(microseconds) ? "-" : `${microseconds.toFixed(1)} µs`;

/** A table: its header and rows of cells. */
export interface Table {
  readonly header: string[];
  readonly rows: string[][];
}

/** coturn's CPU per relayed datagram at a paced load (a datagram at a time costs more than a saturated stream's), in µs. */
export function pacedCpuMicroseconds(p: PacedSummary | undefined): number | null {
  return p === undefined || !(p.relayedPerSecond > 0) ? null : (p.coturnCpuPercent / 100) * (1e6 / p.relayedPerSecond);
}

const lossCell = (p: PacedSummary | undefined): string => (p === undefined || p.sent === 0 ? "-" : `${count(p.lost)} / ${count(p.sent)}`);

/**
 * The per-transport table, one row per transport: production's and minimal's saturation, production/minimal (median
 * of runs, and their range) against its target, coturn's CPU per relayed datagram for both at saturation and for
 * production at 50%, and production's loss at 25% and 50% of that transport's minimal saturation.
 */
export function transportTable(summary: RelayBenchSummary): Table {
  return {
    header: [
      "transport",
      "production relayed/s",
      "minimal relayed/s",
      "production/minimal",
      "runs",
      "met",
      "CPU/datagram prod / min",
      "prod CPU/datagram at 50%",
      "prod lost at 25%",
      "prod lost at 50%",
      "coturn-bound",
    ],
    rows: summary.transports.map((transport) => {
      const production = configRow(summary, transport, "production");
      const minimal = configRow(summary, transport, "minimal");
      const ratio = summary.ratios.find((r) => r.comparison === "hardening" && r.transport === transport);
      const at = (load: number): PacedSummary | undefined => production?.paced.find((p) => p.loadPercent === load);
      const bound = [production, minimal].reduce((n, c) => n + (c?.serverBoundWindows ?? 0), 0);
      const windows = [production, minimal].reduce((n, c) => n + (c?.windows ?? 0), 0);
      return [
        transport,
        count(production?.saturationPerSecond ?? Number.NaN),
        count(minimal?.saturationPerSecond ?? Number.NaN),
        ratio ? ratio.median.toFixed(3) : "-",
        ratio ? `${ratio.min.toFixed(3)}-${ratio.max.toFixed(3)}` : "-",
        ratio ? (ratio.met ? "yes" : "NO") : "-",
        `${cpuPerDatagram(production?.cpuMicrosecondsPerPacket)} / ${cpuPerDatagram(minimal?.cpuMicrosecondsPerPacket)}`,
        cpuPerDatagram(pacedCpuMicroseconds(at(ZERO_LOSS_LOAD_PERCENT))),
        lossCell(at(25)),
        lossCell(at(ZERO_LOSS_LOAD_PERCENT)),
        `${bound}/${windows} windows`,
      ];
    }),
  };
}

/** The saturation table: one row per transport and configuration. */
export function saturationTable(summary: RelayBenchSummary): Table {
  return {
    header: ["transport", "config", "relayed/s", "lowest-highest", "offered to coturn/s", "coturn CPU", "CPU/datagram", "monitoring CPU", "CPU/datagram with it", "coturn-bound"],
    rows: summary.configs.map((c) => [
      c.transport,
      c.config,
      count(c.saturationPerSecond),
      `${count(c.saturationRange[0])}-${count(c.saturationRange[1])}`,
      count(c.offeredPerSecond),
      percent(c.coturnCpuPercent),
      cpuPerDatagram(c.cpuMicrosecondsPerPacket),
      c.monitoringCpuPercent === null ? "-" : percent(c.monitoringCpuPercent),
      cpuPerDatagram(c.cpuMicrosecondsPerPacketWithMonitoring),
      `${c.serverBoundWindows}/${c.windows} windows`,
    ]),
  };
}

/** The comparisons table: each ratio at saturation, per transport, against its target. */
export function comparisonTable(summary: RelayBenchSummary): Table {
  return {
    header: ["transport", "comparison", "ratio (median of runs)", "runs", "target", "met"],
    rows: summary.ratios.map((r) => [
      r.transport,
      `${r.subject}/${r.baseline}`,
      r.median.toFixed(3),
      `${r.min.toFixed(3)}-${r.max.toFixed(3)}`,
      `>= ${r.target}`,
      r.met ? "yes" : "NO",
    ]),
  };
}

/** The monitoring table: its CPU where it ran, and how many windows it was checked in. */
export function monitoringTable(summary: RelayBenchSummary): Table {
  return {
    header: ["monitored windows", "mtail", "node-exporter", "collector + page reads", "monitoring CPU", "of a 100% core"],
    rows: summary.monitoring.cpuPercent.map((c) => [c.where, percent(c.mtail, 2), percent(c.nodeExporter, 2), percent(c.scrapes, 2), percent(c.total, 2), `${(c.total / 100).toFixed(4)} cores`]),
  };
}

/** The paced table: one row per transport, configuration and load; coturn's CPU also as a share of its budget. */
export function pacedTable(summary: RelayBenchSummary, budgetPercent: number): Table {
  return {
    header: ["transport", "config", "load", "relayed/s", "lost", "of sent", "held back", "loss", "RTT p50", "RTT p95", "RTT p99", "coturn CPU", "of budget", "pace held"],
    rows: summary.configs.flatMap((c) =>
      c.paced.map((p) => [
        c.transport,
        c.config,
        `${p.loadPercent}%`,
        count(p.relayedPerSecond),
        count(p.lost),
        count(p.sent),
        c.transport === "udp" ? "-" : count(p.heldBack),
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

/** The transport whose production saturation the raw ceiling is compared with: UDP when it ran. */
const ceilingTransport = (summary: RelayBenchSummary): TurnTransport => (summary.transports.includes("udp") ? "udp" : summary.transports[0]);

/** The closing lines: the ceiling, the ratios and the losses against their targets, and whether the windows are valid. */
export function verdictLines(summary: RelayBenchSummary): string[] {
  const { ratios, lossAtHalf, configs, monitoring } = summary;
  const reference = ceilingTransport(summary);
  const productionSaturation = configRow(summary, reference, "production")?.saturationPerSecond ?? Number.NaN;
  const lines = [
    `Raw UDP ceiling (client straight to peer, no relay, one way, same generator): ${count(summary.rawCeilingPerSecond)} datagrams/s ` +
      `(${count(summary.rawRange[0])}-${count(summary.rawRange[1])}), ${(summary.rawCeilingPerSecond / productionSaturation).toFixed(1)}× production's saturation over ${reference}`,
    ...ratios.map(
      (r) =>
        `${r.transport} ${r.subject}/${r.baseline} at saturation: ${r.median.toFixed(3)} (runs: ${r.min.toFixed(3)}-${r.max.toFixed(3)}, each the mean of both lab placements); ` +
        `target >= ${r.target}: ${r.met ? "met" : "NOT met"}`,
    ),
    ...lossAtHalf.map(
      (l) =>
        `${l.transport} ${l.config} loss at ${ZERO_LOSS_LOAD_PERCENT}% of saturation: ${count(l.lost)} of ${count(l.sent)} datagrams` +
        (l.heldBack > 0 ? ` (${count(l.heldBack)} held back on backed-up connections)` : "") +
        `; target 0: ${l.met ? "met" : "NOT met"}`,
    ),
    summary.monitoringWorked === null
      ? "The monitoring was not measured: it runs over UDP only, and --transports left udp out"
      : summary.monitoringWorked
        ? `The monitoring worked in all ${monitoring.windows} monitored windows: its relay counters grew by at least what the bench counted, mtail counted every allocation, ` +
          `coturn_up and coturn_log_metrics_up were 1, ${monitoring.scrapesPerWindow} scrapes per window (median), longest gap ${Math.round(monitoring.longestGapMs)} ms`
        : `The monitoring did NOT work (${monitoring.checkedWindows} of ${monitoring.windows} monitored windows checked), so the monitored figures say nothing: ${monitoring.problems.slice(0, 5).join("; ")}`,
  ];
  if (!summary.measuredCoturn) {
    const notBound = configs.map((c) => `${c.transport} ${c.config}: ${c.windows - c.serverBoundWindows}`).filter((line) => !line.endsWith(": 0"));
    const paceLost = configs.flatMap((c) => c.paced).reduce((n, p) => n + p.runs - p.paceHeldRuns, 0);
    lines.push(
      `NOT a measurement of coturn: saturation windows where coturn did not both use ${Math.round(SATURATED_BUDGET_SHARE * 100)}% of its budget ` +
        `and leave the generator's surplus undelivered (${notBound.length > 0 ? notBound.join(", ") : "none"}), ${paceLost} paced windows where the generator could not hold its pace. ` +
        "The generator was the limit there; rerun with a lower --server-cpu-percent, or on a machine with more cores.",
    );
  }
  return lines;
}
