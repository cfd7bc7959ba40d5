/**
 * One row of `npm run status` per server, from two reads of its metrics (the metric catalog's names): up, coturn's
 * uptime, active allocations, Mbit/s in and out (and as % of the VM's sustained bandwidth), relay ports used,
 * refusals per minute, certificate days left, drained or serving, and warnings for stale figures. Pure.
 *
 * Every figure a rate is made of comes from the VM's collector (coturn-metrics-collect, every 15 s), so rates are
 * taken over the time between the two collections the reads saw (their coturn_metrics_collected_timestamp_seconds),
 * which is exact whatever the SSH latency; two reads of the same collection give no rate.
 */
import { samplesOf, sumOf, type Exposition, type Sample } from "./exposition";

/** Collections older than this (seconds, by the operator's clock) are stale. */
export const STALE_AFTER_SECONDS = 60;

/** The refusal codes the status shows. */
export const STATUS_REFUSAL_CODES = ["401", "403", "486"] as const;
export type StatusRefusalCode = (typeof STATUS_REFUSAL_CODES)[number];

/** One read of a server's metrics page. */
export interface Scrape {
  /** The parsed page. */
  readonly exposition: Exposition;
  /** When it was read, by the operator's clock (Unix seconds). */
  readonly readAtSeconds: number;
}

/** How a read ended: a page, or why there is none (a sentence for the row, never a secret). */
export type MetricsRead = { readonly ok: true; readonly scrape: Scrape } | { readonly ok: false; readonly reason: string };

/** Which server a row is about. */
export interface ServerRef {
  /** The region stack (as given, e.g. `organization/coturn/aws-eu-central-1`). */
  readonly stack: string;
  /** The server's resource name. */
  readonly server: string;
  /** The address its metrics are read from. */
  readonly address: string;
  /** Its region is drained (global stacks; a region stack is serving). */
  readonly drained: boolean;
}

/** One server's status; every figure is null when it could not be read or computed. */
export interface ServerStatus extends ServerRef {
  /** serving or drained. */
  readonly state: "serving" | "drained";
  /** Read, and coturn runs (what exit 0 needs). */
  readonly ok: boolean;
  /** Why not ok: unreachable, host key mismatch, coturn not running, … */
  readonly problem: string | null;
  /** coturn_up. */
  readonly up: boolean | null;
  /** Seconds since coturn started (at the last collection). */
  readonly uptimeSeconds: number | null;
  /** Sum of coturn_allocations_active. */
  readonly allocations: number | null;
  /** Seconds between the collections the rates are taken over. */
  readonly windowSeconds: number | null;
  /**
   * Mbit/s the VM's network interfaces received between the two reads (node_network_receive_bytes_total, loopback
   * left out): on a TURN server that is the relayed media, and it is what the cloud's sustained figure limits.
   */
  readonly mbitPerSecondIn: number | null;
  /** Same, sent (node_network_transmit_bytes_total). */
  readonly mbitPerSecondOut: number | null;
  /** coturn_vm_sustained_bandwidth_bits (null when the sizing table does not know the VM size). */
  readonly sustainedBandwidthBits: number | null;
  /** Mbit/s in as % of the sustained bandwidth. */
  readonly bandwidthPercentIn: number | null;
  /** Mbit/s out as % of the sustained bandwidth. */
  readonly bandwidthPercentOut: number | null;
  /** coturn_relay_ports_in_use / coturn_relay_ports, %. */
  readonly relayPortsUsedPercent: number | null;
  /** Increase of coturn_requests_refused_total per code over the window. */
  readonly refused: Readonly<Record<StatusRefusalCode, number | null>>;
  /** The same per minute. */
  readonly refusedPerMinute: Readonly<Record<StatusRefusalCode, number | null>>;
  /** Packets the per-source limits dropped per minute over the window, every limit (coturn_rate_limited_packets_total). */
  readonly limitedPerMinute: number | null;
  /** Whole days until coturn_tls_certificate_expiry_timestamp_seconds (negative: expired). */
  readonly certificateDaysLeft: number | null;
  /** coturn_metrics_collected_timestamp_seconds of the second read. */
  readonly collectedAtSeconds: number | null;
  /** Stale or partial figures. */
  readonly warnings: readonly string[];
}

const NO_REFUSALS: Record<StatusRefusalCode, null> = { "401": null, "403": null, "486": null };

/** The one value of a gauge without labels, or undefined. */
function gauge(exposition: Exposition, name: string): number | undefined {
  const found = samplesOf(exposition, name);
  return found.length === 1 ? found[0].value : undefined;
}

const seriesKey = (s: Sample): string =>
  JSON.stringify(
    Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );

/**
 * How much a counter (summed over the series matching `match`) grew from `first` to `second`, as Prometheus'
 * increase() counts it: a series that went down was reset (its new value is the growth); a series that appears
 * counts from 0 (mtail creates a labelled series at its first event). `keep` leaves series out (a device, say).
 */
export function counterIncrease(
  first: Exposition,
  second: Exposition,
  name: string,
  match: Readonly<Record<string, string>> = {},
  keep: (sample: Sample) => boolean = () => true,
): number | undefined {
  const after = samplesOf(second, name, match).filter(keep);
  if (after.length === 0) return undefined;
  const before = new Map(samplesOf(first, name, match).filter(keep).map((s) => [seriesKey(s), s.value]));
  let total = 0;
  for (const s of after) {
    const old = before.get(seriesKey(s));
    total += old === undefined || s.value < old ? s.value : s.value - old;
  }
  return total;
}

/** The row of a server whose page could not be read. */
function unreadable(ref: ServerRef, reason: string): ServerStatus {
  return {
    ...ref,
    state: ref.drained ? "drained" : "serving",
    ok: false,
    problem: reason,
    up: null,
    uptimeSeconds: null,
    allocations: null,
    windowSeconds: null,
    mbitPerSecondIn: null,
    mbitPerSecondOut: null,
    sustainedBandwidthBits: null,
    bandwidthPercentIn: null,
    bandwidthPercentOut: null,
    relayPortsUsedPercent: null,
    refused: NO_REFUSALS,
    refusedPerMinute: NO_REFUSALS,
    limitedPerMinute: null,
    certificateDaysLeft: null,
    collectedAtSeconds: null,
    warnings: [],
  };
}

/** A server's status from its first read (rates start there) and its second (everything else is read there). */
export function serverStatus(ref: ServerRef, first: MetricsRead | undefined, second: MetricsRead): ServerStatus {
  if (!second.ok) return unreadable(ref, second.reason);
  const page = second.scrape.exposition;
  const warnings: string[] = [];
  const collectedAt = gauge(page, "coturn_metrics_collected_timestamp_seconds");
  const now = collectedAt ?? second.scrape.readAtSeconds;
  const upValue = gauge(page, "coturn_up");
  const up = upValue === undefined ? null : upValue === 1;
  let problem: string | null = null;
  if (upValue === undefined) problem = "no coturn_up in the metrics: the collector has not run (coturn-metrics-collect.timer)";
  else if (!up) problem = "coturn not running";

  if (collectedAt === undefined) warnings.push("no collection time in the metrics: the collector has not run");
  else {
    const age = second.scrape.readAtSeconds - collectedAt;
    if (age > STALE_AFTER_SECONDS) warnings.push(`figures ${Math.round(age)} s old: the collector stopped (coturn-metrics-collect.timer)`);
  }
  const logUp = gauge(page, "coturn_log_metrics_up");
  if (logUp === 0) warnings.push("no figures from coturn's log: mtail did not answer (coturn-log-metrics.service)");

  const start = gauge(page, "coturn_process_start_time_seconds");
  const ports = gauge(page, "coturn_relay_ports");
  const inUse = gauge(page, "coturn_relay_ports_in_use");
  const expiry = gauge(page, "coturn_tls_certificate_expiry_timestamp_seconds");
  const sustained = gauge(page, "coturn_vm_sustained_bandwidth_bits") ?? null;

  let windowSeconds: number | null = null;
  let mbitIn: number | null = null;
  let mbitOut: number | null = null;
  const refused: Record<StatusRefusalCode, number | null> = { ...NO_REFUSALS };
  const perMinute: Record<StatusRefusalCode, number | null> = { ...NO_REFUSALS };
  let limitedPerMinute: number | null = null;
  if (first?.ok) {
    const before = first.scrape.exposition;
    // The NIC counters are read live at each read (not at the collector's runs), so their window is the reads'.
    const readWindow = second.scrape.readAtSeconds - first.scrape.readAtSeconds;
    const nicMbit = (name: string): number | null => {
      const grew = counterIncrease(before, page, name, {}, (s) => s.labels.device !== "lo");
      return grew === undefined || readWindow <= 0 ? null : (grew * 8) / readWindow / 1e6;
    };
    mbitIn = nicMbit("node_network_receive_bytes_total");
    mbitOut = nicMbit("node_network_transmit_bytes_total");
    const collectedBefore = gauge(before, "coturn_metrics_collected_timestamp_seconds");
    if (collectedAt !== undefined && collectedBefore !== undefined && collectedAt > collectedBefore) {
      const window = collectedAt - collectedBefore;
      windowSeconds = window;
      // coturn_requests_refused_total is mtail's: missing when coturn's log is not read (warned above).
      const anyRefusals = samplesOf(page, "coturn_requests_refused_total").length > 0 || logUp === 1;
      for (const code of STATUS_REFUSAL_CODES) {
        const grew = counterIncrease(before, page, "coturn_requests_refused_total", { code }) ?? (anyRefusals ? 0 : undefined);
        refused[code] = grew ?? null;
        perMinute[code] = grew === undefined ? null : (grew * 60) / window;
      }
      const limited = counterIncrease(before, page, "coturn_rate_limited_packets_total");
      limitedPerMinute = limited === undefined ? null : (limited * 60) / window;
    } else if (collectedAt !== undefined && collectedBefore !== undefined) {
      warnings.push("no new collection between the two reads: no refusal rates (the VM collects every 15 s)");
    }
  } else if (first && !first.ok) {
    warnings.push(`first read failed (${first.reason}): no rates`);
  }
  const percent = (mbit: number | null): number | null => (mbit === null || sustained === null || sustained <= 0 ? null : ((mbit * 1e6) / sustained) * 100);

  return {
    ...ref,
    state: ref.drained ? "drained" : "serving",
    ok: problem === null,
    problem,
    up,
    uptimeSeconds: up && start !== undefined ? Math.max(0, now - start) : null,
    allocations: sumOf(page, "coturn_allocations_active") ?? null,
    windowSeconds,
    mbitPerSecondIn: mbitIn,
    mbitPerSecondOut: mbitOut,
    sustainedBandwidthBits: sustained,
    bandwidthPercentIn: percent(mbitIn),
    bandwidthPercentOut: percent(mbitOut),
    relayPortsUsedPercent: ports !== undefined && inUse !== undefined && ports > 0 ? (inUse / ports) * 100 : null,
    refused,
    refusedPerMinute: perMinute,
    limitedPerMinute,
    certificateDaysLeft: expiry === undefined ? null : Math.floor((expiry - now) / 86_400),
    collectedAtSeconds: collectedAt ?? null,
    warnings,
  };
}

/** `3d 4h`, `5h 12m`, `12m 5s`, `45s`. */
export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** Header of `statusTableRows`. */
export const STATUS_HEADER = ["region", "server", "state", "up", "uptime", "allocations", "Mbit/s in", "Mbit/s out", "relay ports", "401/min", "403/min", "486/min", "limited/min", "cert days", "note"] as const;

const fixed = (value: number | null, digits: number): string => (value === null ? "" : value.toFixed(digits));
const mbit = (value: number | null, percentOfSustained: number | null): string =>
  value === null ? "" : percentOfSustained === null ? value.toFixed(2) : `${value.toFixed(2)} (${percentOfSustained.toFixed(1)}%)`;

/** The region column: a stack's last path segment (`aws-eu-central-1` of `organization/coturn/aws-eu-central-1`). */
export function shortStackName(stack: string): string {
  return stack.split("/").at(-1) ?? stack;
}

/** Table rows, one per server, in STATUS_HEADER's columns. */
export function statusTableRows(statuses: readonly ServerStatus[]): string[][] {
  return statuses.map((s) => [
    shortStackName(s.stack),
    s.server,
    s.state,
    s.up === null ? "?" : s.up ? "up" : "DOWN",
    s.uptimeSeconds === null ? "" : formatDuration(s.uptimeSeconds),
    s.allocations === null ? "" : String(s.allocations),
    mbit(s.mbitPerSecondIn, s.bandwidthPercentIn),
    mbit(s.mbitPerSecondOut, s.bandwidthPercentOut),
    s.relayPortsUsedPercent === null ? "" : `${s.relayPortsUsedPercent.toFixed(1)}%`,
    fixed(s.refusedPerMinute["401"], 1),
    fixed(s.refusedPerMinute["403"], 1),
    fixed(s.refusedPerMinute["486"], 1),
    fixed(s.limitedPerMinute, 1),
    s.certificateDaysLeft === null ? "" : String(s.certificateDaysLeft),
    [...(s.problem === null ? [] : [s.problem]), ...s.warnings].join("; "),
  ]);
}
