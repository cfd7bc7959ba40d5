/**
 * The server side of `POST /ice-report`, used by examples/ice-servers-endpoint.ts: the body's validation (zod), the
 * per-user rate limit (a token bucket per user id, in bounded memory), the Prometheus metrics (prom-client) and the
 * separate listener that serves them. Copy it with the endpoint.
 *
 * Metrics (no label ever holds a user id, a token or a credential; every label has a fixed, small set of values):
 *   webrtc_call_reports_total{outcome, relayed, protocol}  counter: accepted reports
 *   webrtc_call_failures_total{reason}                     counter: failed calls by reason
 *   webrtc_call_rtt_seconds                                histogram: the connected pair's round-trip time
 *   webrtc_call_reports_refused_total{status}              counter: reports refused (400, 413, 415, 429)
 */
import type { IncomingMessage, RequestListener } from "node:http";
import { Counter, Histogram, Registry } from "prom-client";
import { z } from "zod";
import { CANDIDATE_TYPES, FAILURE_REASONS, MAX_REPORT_BYTES, MAX_RTT_SECONDS, OUTCOMES, PROTOCOLS, type IceReport } from "../src/browser/report";

export { ICE_REPORT_PATH, MAX_REPORT_BYTES } from "../src/browser/report";

/** The path the metrics listener serves. */
export const METRICS_PATH = "/metrics";

/** Buckets of webrtc_call_rtt_seconds: 10 ms (same city) to 2 s (a saturated link). */
export const RTT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2];

/** Statuses counted by webrtc_call_reports_refused_total. */
export const REFUSAL_STATUSES = ["400", "413", "415", "429"] as const;

/** The `protocol` label of a failed report (it has no selected pair). */
export const NO_PROTOCOL = "none";

/** The body's schema: strict (an unknown field is refused, so a typo is not silently dropped). */
export const iceReportSchema = z.discriminatedUnion("outcome", [
  z.strictObject({
    outcome: z.literal("connected"),
    localCandidateType: z.enum(CANDIDATE_TYPES),
    remoteCandidateType: z.enum(CANDIDATE_TYPES),
    protocol: z.enum(PROTOCOLS),
    rttSeconds: z.number().min(0).max(MAX_RTT_SECONDS).optional(),
  }),
  z.strictObject({ outcome: z.literal("failed"), reason: z.enum(FAILURE_REASONS) }),
]);

/** A short, single-line form of a client's value for an error message. */
function shown(value: unknown): string {
  const text = value === undefined ? "missing" : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** What the client should send for a field. */
const EXPECTED: Record<string, string> = {
  outcome: OUTCOMES.join(" | "),
  localCandidateType: CANDIDATE_TYPES.join(" | "),
  remoteCandidateType: CANDIDATE_TYPES.join(" | "),
  protocol: PROTOCOLS.join(" | "),
  rttSeconds: `a number of seconds from 0 to ${MAX_RTT_SECONDS} (getStats' currentRoundTripTime), or leave it out`,
  reason: FAILURE_REASONS.join(" | "),
};

/**
 * Parses a report body: the report, or one problem naming the field, the bad value and what to send instead. The
 * problem is safe to send back (it only echoes a shortened value of the client's own).
 */
export function parseIceReport(text: string): { report: IceReport } | { problem: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return { problem: `the body is not JSON (${(error as Error).message}): send e.g. {"outcome":"failed","reason":"ice-failed"}` };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { problem: `the body is ${shown(body)}, not a JSON object: send e.g. {"outcome":"failed","reason":"ice-failed"}` };
  }
  const parsed = iceReportSchema.safeParse(body);
  if (parsed.success) return { report: parsed.data };
  const issue = parsed.error.issues[0];
  const record = body as Record<string, unknown>;
  if (issue.code === "unrecognized_keys") {
    const allowed = record.outcome === "connected" ? "outcome, localCandidateType, remoteCandidateType, protocol, rttSeconds" : "outcome, reason";
    return { problem: `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}: a ${shown(record.outcome)} report has only ${allowed}` };
  }
  const field = String(issue.path[0] ?? "outcome");
  return { problem: `field ${field} is ${shown(record[field])}: use ${EXPECTED[field] ?? issue.message}` };
}

/** The media type a report must be sent with. */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && /^application\/json[ \t]*(;[ \t]*charset=utf-8[ \t]*)?$/i.test(header.trim());
}

/** Reads a request body up to `max` bytes; `undefined` when it is larger (reading stops there). */
export function readBody(request: IncomingMessage, max: number = MAX_REPORT_BYTES): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"]);
    if (Number.isFinite(declared) && declared > max) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        request.pause();
        request.removeAllListeners("data");
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

/** Settings of the per-user rate limit. */
export interface RateLimitOptions {
  /** Reports a user may send at once (the bucket's size). Default 20. */
  readonly burst?: number;
  /** Reports per minute a user may send over time (the refill rate). Default 10. */
  readonly perMinute?: number;
  /**
   * How many users are tracked at once (memory bound). Past it the least recently seen user is forgotten (and starts
   * again with a full bucket). Default 10000: about 1 MB.
   */
  readonly maxClients?: number;
}

/** A token bucket per user id, in a Map kept in least-recently-used order and capped at `maxClients` entries. */
export class TokenBuckets {
  readonly burst: number;
  readonly perMinute: number;
  readonly maxClients: number;
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** Validates the settings (RangeError naming the setting). */
  constructor(options: RateLimitOptions = {}) {
    this.burst = options.burst ?? 20;
    this.perMinute = options.perMinute ?? 10;
    this.maxClients = options.maxClients ?? 10_000;
    for (const [name, value] of [["burst", this.burst], ["perMinute", this.perMinute], ["maxClients", this.maxClients]] as const) {
      if (!(Number.isInteger(value) && value >= 1)) throw new RangeError(`rateLimit.${name} ${value} is not a whole number of 1 or more: use e.g. 20`);
    }
  }

  /** How many users are tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `id`: 0 when allowed, else the seconds to wait (for Retry-After). */
  take(id: string, nowMs: number = Date.now()): number {
    const ratePerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(id);
    let tokens = this.burst;
    if (bucket !== undefined) {
      tokens = Math.min(this.burst, bucket.tokens + Math.max(0, nowMs - bucket.at) * ratePerMs);
      this.buckets.delete(id);
    } else if (this.buckets.size >= this.maxClients) {
      // The oldest entry is the first in insertion order: every take() re-inserts its user at the end.
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    const allowed = tokens >= 1;
    this.buckets.set(id, { tokens: allowed ? tokens - 1 : tokens, at: nowMs });
    return allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerMs / 1000));
  }
}

/** The Prometheus metrics of call outcomes, in a registry of their own. */
export class IceReportMetrics {
  /** The registry the metrics listener serves. */
  readonly registry = new Registry();
  private readonly reports = new Counter({
    name: "webrtc_call_reports_total",
    help: "Call outcomes reported by the apps (POST /ice-report), by outcome, whether the selected pair used a relay candidate, and its protocol (none for failures).",
    labelNames: ["outcome", "relayed", "protocol"] as const,
    registers: [this.registry],
  });
  private readonly failures = new Counter({
    name: "webrtc_call_failures_total",
    help: "Calls that did not connect, by reason (turn-401, tls-failure, no-relay-candidate, timeout, ice-failed).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  private readonly rtt = new Histogram({
    name: "webrtc_call_rtt_seconds",
    help: "Round-trip time of connected calls' selected candidate pair (getStats currentRoundTripTime), in seconds.",
    buckets: RTT_BUCKETS,
    registers: [this.registry],
  });
  private readonly refused = new Counter({
    name: "webrtc_call_reports_refused_total",
    help: "Reports refused by POST /ice-report, by HTTP status (400 bad body, 413 too large, 415 not JSON, 429 rate limit).",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });

  /** Starts every series at 0, so that rates and ratios exist before the first report. */
  constructor() {
    for (const reason of FAILURE_REASONS) this.failures.inc({ reason }, 0);
    for (const status of REFUSAL_STATUSES) this.refused.inc({ status }, 0);
  }

  /** Counts one accepted report. */
  record(report: IceReport): void {
    if (report.outcome === "failed") {
      this.reports.inc({ outcome: "failed", relayed: "false", protocol: NO_PROTOCOL });
      this.failures.inc({ reason: report.reason });
      return;
    }
    const relayed = report.localCandidateType === "relay" || report.remoteCandidateType === "relay";
    this.reports.inc({ outcome: "connected", relayed: String(relayed), protocol: report.protocol });
    if (report.rttSeconds !== undefined) this.rtt.observe(report.rttSeconds);
  }

  /** Counts one refused report. */
  refuse(status: (typeof REFUSAL_STATUSES)[number]): void {
    this.refused.inc({ status });
  }

  /** The exposition text (what GET /metrics answers). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }
}

/**
 * The request listener of the metrics port: `GET /metrics` in Prometheus' text format; 404 elsewhere, 405 for other
 * methods. Serve it on its own listener (loopback by default), never on the app-facing one.
 */
export function createMetricsHandler(metrics: IceReportMetrics): RequestListener {
  return (request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path !== METRICS_PATH) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end(`not found: metrics are at GET ${METRICS_PATH}\n`);
      return;
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      response.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed: use GET\n");
      return;
    }
    metrics.text().then(
      (text) => response.writeHead(200, { "content-type": metrics.registry.contentType, "cache-control": "no-store" }).end(request.method === "HEAD" ? undefined : text),
      () => response.writeHead(500).end(),
    );
  };
}
