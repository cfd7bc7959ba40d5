/**
 * One round of `npm run status`: every server read (in parallel), the interval waited, every server read again,
 * and a row per server. A server whose second read shows the same collection as its first (the VM's collector runs
 * every 15 s, so an interval under that may fall between two collections) is read again every 2 s until a new
 * collection shows up, at most 20 s, so its rates are over a real window. In `--watch`, a round's second reads are
 * the next round's first. The reader and the clock are parameters, so tests drive it without SSH.
 */
import { ExpositionError, parseExposition } from "./exposition";
import { serverStatus, type MetricsRead, type ServerStatus } from "./serverStatus";
import type { SshReadResult } from "./sshRead";
import type { StatusTarget } from "./statusTargets";

/** Re-reads of a server waiting for a fresh collection: every this many seconds… */
const FRESH_COLLECTION_POLL_SECONDS = 2;
/** …for at most this long. */
const FRESH_COLLECTION_WAIT_SECONDS = 20;

/** Reads a target's page (over SSH in the command). */
export type TargetReader = (target: StatusTarget) => Promise<SshReadResult>;

/** What a round needs besides the targets. */
export interface RoundOptions {
  readonly read: TargetReader;
  /** Seconds between the reads. */
  readonly intervalSeconds: number;
  /** The previous round's second reads (watch mode): the first reads of this round. */
  readonly previous?: readonly MetricsRead[];
  /** Progress lines (stderr in the command). */
  readonly log?: (line: string) => void;
  /** Waits (tests pass a fake). */
  readonly sleep?: (seconds: number) => Promise<void>;
  /** The operator's clock, Unix seconds. */
  readonly now?: () => number;
}

/** A round's rows and its second reads (for the next round). */
export interface RoundResult {
  readonly statuses: ServerStatus[];
  readonly reads: MetricsRead[];
}

const realSleep = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** A read's text as a parsed scrape, or why it is unreadable. */
export function toMetricsRead(result: SshReadResult, readAtSeconds: number): MetricsRead {
  if (!result.ok) return result;
  try {
    return { ok: true, scrape: { exposition: parseExposition(result.text), readAtSeconds } };
  } catch (error) {
    if (error instanceof ExpositionError) return { ok: false, reason: `metrics unreadable: ${error.message}` };
    throw error;
  }
}

function collectedAt(read: MetricsRead | undefined): number | undefined {
  if (!read?.ok) return undefined;
  return read.scrape.exposition.samples.find((s) => s.name === "coturn_metrics_collected_timestamp_seconds")?.value;
}

/** Reads every target once, in parallel. */
export async function readTargets(targets: readonly StatusTarget[], read: TargetReader, now: () => number): Promise<MetricsRead[]> {
  return Promise.all(
    targets.map(async (target): Promise<MetricsRead> => {
      if (!target.access) return { ok: false, reason: target.missing ?? "no metrics read key" };
      const result = await read(target);
      return toMetricsRead(result, now());
    }),
  );
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

/** One round: two reads `intervalSeconds` apart (or one after the previous round's), and the rows. */
export async function statusRound(targets: readonly StatusTarget[], options: RoundOptions): Promise<RoundResult> {
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? (() => Date.now() / 1000);
  const log = options.log ?? (() => undefined);
  const servers = plural(targets.length, "server");
  const first = options.previous ?? (await readTargets(targets, options.read, now));
  log(`reading metrics from ${servers}… (${options.intervalSeconds} s)`);
  await sleep(options.intervalSeconds);
  const second = await readTargets(targets, options.read, now);

  const stuck = (i: number): boolean => {
    const before = collectedAt(first[i]);
    const after = collectedAt(second[i]);
    return before !== undefined && after !== undefined && after <= before;
  };
  let waited = 0;
  while (waited < FRESH_COLLECTION_WAIT_SECONDS) {
    const waiting = targets.map((_, i) => i).filter(stuck);
    if (waiting.length === 0) break;
    log(`waiting for a new collection on ${plural(waiting.length, "server")} (the VM collects every 15 s)…`);
    await sleep(FRESH_COLLECTION_POLL_SECONDS);
    waited += FRESH_COLLECTION_POLL_SECONDS;
    const again = await readTargets(
      waiting.map((i) => targets[i]),
      options.read,
      now,
    );
    // A failed re-read keeps the good second read (its row then says there is no rate).
    waiting.forEach((i, k) => {
      if (again[k].ok) second[i] = again[k];
    });
  }
  return { statuses: targets.map((t, i) => serverStatus(t.ref, first[i], second[i])), reads: second };
}
