/**
 * The VM's monitoring next to a bench coturn (the "monitored" configuration): the rendered kernel counters loaded in
 * the server's namespace, mtail on coturn's log, node-exporter, and the collector (lab/monitoringLab.ts), all pinned to
 * coturn's core (outside coturn's CPU budget, as they would share a VM's cores). During a measurement the bench runs
 * the collector and reads node-exporter's page every SCRAPE_INTERVAL_MS (by default; `--scrape-ms`), ten times as
 * often as the VM's timer, to be conservative.
 *
 * A broken setup must not look free, so each monitored measurement is checked against the bench's own counters (in the
 * client and peer namespaces): the monitoring's relay counters grew by at least the datagrams the peer received from
 * the relay and the client received from coturn, mtail counted at least the allocations the generator made, coturn
 * was seen up and mtail's figures reached node-exporter, and the scrapes kept their pace. The CPU the monitoring
 * processes used is measured too (mtail and tail, node-exporter, each collector run and page read).
 */
import type { CloudLab } from "../cloudLab";
import { startMonitoring, type MonitoringLab } from "../monitoringLab";
import { waitFor, type LabProcess } from "../netlab";
import { childrenCpuSeconds, pinnedTo, processesCpuSeconds, processTree, type CpuLayout } from "./cpuUsage";
import { parseExposition, type Sample } from "../../src/status/exposition";

/** How often the collector runs and node-exporter's page is read during a measurement by default (the VM's timer: 15 s). */
export const SCRAPE_INTERVAL_MS = 1500;
/** A gap between two scrapes longer than this fails the check (the bench's event loop was held up). */
export const maxScrapeGapMs = (intervalMs: number): number => 3 * intervalMs;
/** The rendered accounting table (templates/monitoring/nftables-accounting.conf.hbs). */
export const ACCOUNTING_TABLE = "coturn_accounting";
/** An upper bound on scrapes per measurement, whatever happens (bounded loop). */
const MAX_SCRAPES = 200;

/** One sample of a metrics page (the status command's parser reads it). */
export type MetricSample = Sample;

/** The samples of a Prometheus text exposition page, read with `npm run status`'s parser. */
export function parseMetrics(text: string): MetricSample[] {
  return [...parseExposition(text).samples];
}

/** The sum of the samples of `name` whose labels include `labels`; NaN when there is none. */
export function metricValue(samples: readonly MetricSample[], name: string, labels: Readonly<Record<string, string>> = {}): number {
  const matching = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return matching.length === 0 ? Number.NaN : matching.reduce((sum, s) => sum + s.value, 0);
}

/** What one scrape of node-exporter's page says that the check needs. */
export interface MonitoringFigures {
  /** Kernel counters of the accounting table, packets: into the relay range (from peers) and the UDP listener (from clients). */
  readonly relayIn: number;
  readonly udpIn: number;
  /** mtail: allocations created over plain UDP/TCP (coturn_allocations_created_total{transport="plain"}). */
  readonly allocationsCreated: number;
  /** mtail: coturn start banners read (coturn_starts_total). */
  readonly coturnStarts: number;
  /** The collector saw coturn running and read mtail. */
  readonly coturnUp: number;
  readonly logMetricsUp: number;
}

/** The figures of a node-exporter page. */
export function monitoringFigures(page: string): MonitoringFigures {
  const samples = parseMetrics(page);
  const packets = (transport: string): number => metricValue(samples, "coturn_listener_packets_total", { transport });
  return {
    relayIn: packets("relay"),
    udpIn: packets("udp"),
    allocationsCreated: metricValue(samples, "coturn_allocations_created_total", { transport: "plain" }),
    coturnStarts: metricValue(samples, "coturn_starts_total"),
    coturnUp: metricValue(samples, "coturn_up"),
    logMetricsUp: metricValue(samples, "coturn_log_metrics_up"),
  };
}

/** What the bench itself counted in the monitored measurement, for the check. */
export interface MonitoringExpectation {
  /** Datagrams the peer received from the relay, and the client from coturn, in the window (the bench's counters). */
  readonly relayToPeer: number;
  readonly serverToClient: number;
  /** Allocations the generator made. */
  readonly allocations: number;
}

/** The account of one monitored measurement. */
export interface MonitoringCheck {
  /** Scrapes (collector run + page read) from the first before the generators started to the last after the window. */
  readonly scrapes: number;
  readonly longestGapMs: number;
  /** Growth of the monitoring's figures over that span, and what the bench counted in the window. */
  readonly counted: { readonly relayIn: number; readonly udpIn: number; readonly allocationsCreated: number };
  readonly expected: MonitoringExpectation;
  /** CPU of the monitoring processes over that span, percent of one core: mtail (with tail), node-exporter, scrapes. */
  readonly cpuPercent: { readonly mtail: number; readonly nodeExporter: number; readonly scrapes: number; readonly total: number };
  /** Why the monitoring was not doing its job (empty when it was). */
  readonly problems: readonly string[];
}

/** The problems of a monitored measurement: its first and last figures against what the bench counted. */
export function monitoringProblems(
  first: MonitoringFigures,
  last: MonitoringFigures,
  expected: MonitoringExpectation,
  scrapeTimesMs: readonly number[],
  intervalMs = SCRAPE_INTERVAL_MS,
): string[] {
  const problems: string[] = [];
  const grew = (key: keyof MonitoringFigures): number => last[key] - first[key];
  const atLeast = (what: string, key: keyof MonitoringFigures, floor: number): void => {
    const growth = grew(key);
    if (!Number.isFinite(growth)) problems.push(`${what}: not on node-exporter's page`);
    else if (growth < floor) problems.push(`${what} grew by ${growth}, less than the ${floor} the bench counted`);
  };
  // Every datagram the peer got from the relay arrived at the UDP listener first; every one the client got from
  // coturn arrived at the relay range first.
  atLeast("the UDP listener's kernel counter", "udpIn", expected.relayToPeer);
  atLeast("the relay range's kernel counter", "relayIn", expected.serverToClient);
  atLeast("mtail's allocations created", "allocationsCreated", expected.allocations);
  if (expected.relayToPeer <= 0) problems.push("nothing was relayed");
  if (last.coturnUp !== 1) problems.push(`coturn_up was ${last.coturnUp}, not 1`);
  if (last.logMetricsUp !== 1) problems.push(`coturn_log_metrics_up was ${last.logMetricsUp}, not 1 (the collector could not read mtail)`);
  const gaps = scrapeTimesMs.slice(1).map((t, i) => t - scrapeTimesMs[i]);
  if (scrapeTimesMs.length < 2) problems.push(`only ${scrapeTimesMs.length} scrape`);
  else if (Math.max(...gaps) > maxScrapeGapMs(intervalMs)) problems.push(`${Math.round(Math.max(...gaps))} ms between two scrapes (at most ${maxScrapeGapMs(intervalMs)})`);
  return problems;
}

/** The monitoring of one bench coturn, from before it starts until it stops. */
export interface BenchMonitoring {
  /**
   * Scrapes now, then every interval until the returned function is called with what the bench counted;
   * that scrapes once more and returns the check.
   */
  watch(): Promise<(expected: MonitoringExpectation) => MonitoringCheck>;
  /** Stops mtail (and its tail) and node-exporter by pid and deletes the accounting table. */
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function stopTree(running: LabProcess): Promise<void> {
  const pids = running.child.pid === undefined ? [] : processTree(running.child.pid);
  for (const pid of pids.reverse()) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  for (let i = 0; i < 30 && pids.some(alive); i++) await sleep(100);
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Ended meanwhile.
    }
  }
  await running.exited;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether the accounting table is loaded in `cloud`'s server namespace. */
export function accountingLoaded(cloud: CloudLab): boolean {
  return cloud.lab.exec(cloud.hosts.turn, "nft", "list", "tables").split("\n").some((line) => line.trim() === `table inet ${ACCOUNTING_TABLE}`);
}

/** Starts the monitoring of `cloud`'s server (before its coturn starts), pinned to the server core; scrapes every `intervalMs`. */
export async function startBenchMonitoring(cloud: CloudLab, layout: CpuLayout, intervalMs = SCRAPE_INTERVAL_MS): Promise<BenchMonitoring> {
  const monitoring: MonitoringLab = await startMonitoring(cloud, { commandPrefix: pinnedTo(layout.serverCore === null ? null : [layout.serverCore]) });
  if (!accountingLoaded(cloud)) throw new Error(`the accounting table ${ACCOUNTING_TABLE} is not loaded in ${cloud.hosts.turn}`);
  const [mtail, exporter] = monitoring.processes;
  const roots = monitoring.processes.map((p) => p.child.pid).filter((pid): pid is number => pid !== undefined);

  const watch = async (): Promise<(expected: MonitoringExpectation) => MonitoringCheck> => {
    // The first figures count only once mtail has read coturn's log up to the running coturn's start banner.
    const banners = (): number => cloud.log().split("\n").filter((line) => /Version Coturn-\d/.test(line)).length;
    let seen = Number.NaN;
    try {
      await waitFor(
        "mtail to read coturn's log up to the running coturn's start",
        () => {
          monitoring.collect();
          seen = monitoringFigures(monitoring.metrics()).coturnStarts;
          return seen >= banners();
        },
        30_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}: mtail counted ${seen} coturn starts, the log has ${banners()}; mtail said: ${mtail.output().slice(-2000)}`);
    }
    const times: number[] = [];
    let scrapeCpuSeconds = 0;
    const scrape = (): MonitoringFigures => {
      const cpuBefore = childrenCpuSeconds();
      monitoring.collect();
      const page = monitoring.metrics();
      scrapeCpuSeconds += childrenCpuSeconds() - cpuBefore;
      times.push(performance.now());
      return monitoringFigures(page);
    };
    const processCpu = (): { mtail: number; exporter: number } => ({
      mtail: processesCpuSeconds(mtail.child.pid === undefined ? [] : processTree(mtail.child.pid)),
      exporter: processesCpuSeconds(exporter.child.pid === undefined ? [] : processTree(exporter.child.pid)),
    });
    const cpuAtStart = processCpu();
    const first = scrape();
    const firstScrapeCpu = scrapeCpuSeconds;
    let timer: NodeJS.Timeout | undefined;
    // One scrape every intervalMs from start to start, however long each takes.
    const tick = (): void => {
      if (times.length >= MAX_SCRAPES) return;
      const startedAt = performance.now();
      scrape();
      timer = setTimeout(tick, Math.max(0, intervalMs - (performance.now() - startedAt)));
    };
    timer = setTimeout(tick, intervalMs);
    return (expected) => {
      clearTimeout(timer);
      const last = scrape();
      const cpuAtEnd = processCpu();
      const seconds = (times[times.length - 1] - times[0]) / 1000;
      const percent = (cpuSeconds: number): number => (seconds > 0 ? (100 * cpuSeconds) / seconds : Number.NaN);
      // The first scrape happened before the span began; the last one closes it.
      const cpuPercent = {
        mtail: percent(cpuAtEnd.mtail - cpuAtStart.mtail),
        nodeExporter: percent(cpuAtEnd.exporter - cpuAtStart.exporter),
        scrapes: percent(scrapeCpuSeconds - firstScrapeCpu),
      };
      return {
        scrapes: times.length,
        longestGapMs: Math.max(0, ...times.slice(1).map((t, i) => t - times[i])),
        counted: {
          relayIn: last.relayIn - first.relayIn,
          udpIn: last.udpIn - first.udpIn,
          allocationsCreated: last.allocationsCreated - first.allocationsCreated,
        },
        expected,
        cpuPercent: { ...cpuPercent, total: cpuPercent.mtail + cpuPercent.nodeExporter + cpuPercent.scrapes },
        problems: monitoringProblems(first, last, expected, times, intervalMs),
      };
    };
  };

  const stop = async (): Promise<void> => {
    for (const running of [mtail, exporter]) await stopTree(running);
    cloud.lab.exec(cloud.hosts.turn, "nft", "delete", "table", "inet", ACCOUNTING_TABLE);
    if (roots.some(alive)) throw new Error("a monitoring process is still running after stop");
  };
  return { watch, stop };
}
