/**
 * The relay benchmark's options: their bounds and defaults, the usage text, and the check of each value. A bad value
 * is a BenchFlagError that names the flag, the value and the fix (the command prints it and exits 2).
 */
import type { TurnTransport } from "../../src/probe/turnClient";

/** The transports between client and coturn the bench can relay over, in the order it runs and reports them. */
export const BENCH_TRANSPORTS: readonly TurnTransport[] = ["udp", "tcp", "tls"];

/** A flag value out of bounds or not a number. */
export class BenchFlagError extends Error {
  override name = "BenchFlagError";
}

/** What one bench run measures. */
export interface RelayBenchOptions {
  /** Repetitions of every measurement (interleaved between the configurations). */
  readonly runs: number;
  /** Length of each measurement window. */
  readonly durationSeconds: number;
  /** Payload bytes per relayed datagram (what the peer receives). */
  readonly packetBytes: number;
  /**
   * The client-to-coturn transports production is compared with minimal over (each in BENCH_TRANSPORTS order); the
   * monitored comparison runs over UDP only, so only when "udp" is among them.
   */
  readonly transports: readonly TurnTransport[];
  /** The share of one core coturn may use, in percent (its cgroup's CPU limit). */
  readonly serverCpuPercent: number;
  /** How often the monitored config's collector runs and node-exporter's page is read, in milliseconds. */
  readonly scrapeMs: number;
  /** Print JSON instead of tables. */
  readonly json: boolean;
}

/** A numeric flag's bounds and default. */
interface NumberFlag {
  readonly min: number;
  readonly max: number;
  readonly fallback: number;
  /** What the number is, for the error message. */
  readonly unit: string;
}

/** Every numeric flag. */
export const NUMBER_FLAGS = {
  runs: { min: 1, max: 9, fallback: 3, unit: "runs" },
  "duration-seconds": { min: 2, max: 60, fallback: 5, unit: "seconds" },
  "packet-bytes": { min: 16, max: 1200, fallback: 200, unit: "bytes" },
  "server-cpu-percent": { min: 5, max: 100, fallback: 20, unit: "percent of one core" },
  "scrape-ms": { min: 500, max: 15_000, fallback: 1500, unit: "milliseconds" },
} as const satisfies Record<string, NumberFlag>;

/** The usage text. */
export const RELAY_BENCH_USAGE = `usage: npm run bench -- [options]   (as root: it builds network namespaces and a cgroup)

Relays traffic through coturn with the aws-example stack's production turnserver.conf against a minimal config,
over UDP, TCP and TLS between client and coturn (the relay's leg to the peer is UDP), and production plus the VM's
monitoring (kernel counters, mtail, node-exporter, the collector) against production over UDP, in a lab of network
namespaces with no route out. Prints, per transport, the production/minimal ratio at saturation, coturn's CPU per
relayed datagram, loss and round-trip percentiles at 25% and 50% of that transport's minimal saturation; the
monitored/production ratio and the monitoring's CPU; and raw UDP between the same namespaces as the ceiling; every
monitored window checks that the monitoring counted what the bench counted. Then the program's own start-up under
mocks (one region, a global stack of ten regions) against a one-resource program, as ratios (target: one region
within 2x). Exits 0 when the targets are met (production/minimal >= 0.95 over each transport, monitored/production
>= 0.98, no loss at 50% over each transport and with monitoring, the monitoring checked, start-up within 2x), 1 when
not, 2 for bad flags.

  --only relay|startup        run one part (default: both)
  --runs <n>                  repetitions of each measurement, interleaved (${NUMBER_FLAGS.runs.min}-${NUMBER_FLAGS.runs.max}, default ${NUMBER_FLAGS.runs.fallback})
  --duration-seconds <s>      length of each measurement window (${NUMBER_FLAGS["duration-seconds"].min}-${NUMBER_FLAGS["duration-seconds"].max}, default ${NUMBER_FLAGS["duration-seconds"].fallback})
  --transports <list>         client-to-coturn transports to compare over, comma-separated, from ${BENCH_TRANSPORTS.join(",")}
                              (default all; the monitored comparison needs udp)
  --packet-bytes <b>          payload of each relayed datagram (${NUMBER_FLAGS["packet-bytes"].min}-${NUMBER_FLAGS["packet-bytes"].max}, default ${NUMBER_FLAGS["packet-bytes"].fallback}; WebRTC audio is ~100-200, video up to ~1200)
  --server-cpu-percent <p>    CPU budget of each coturn, percent of one core (${NUMBER_FLAGS["server-cpu-percent"].min}-${NUMBER_FLAGS["server-cpu-percent"].max}, default ${NUMBER_FLAGS["server-cpu-percent"].fallback}):
                              keep it well below what the load generator's core can feed, so coturn saturates first
  --scrape-ms <ms>            how often the monitored config's collector runs and its metrics are read (${NUMBER_FLAGS["scrape-ms"].min}-${NUMBER_FLAGS["scrape-ms"].max}, default ${NUMBER_FLAGS["scrape-ms"].fallback};
                              the VM's timer: 15000)
  --json                      print the results and the summary as JSON
  --help                      this text`;

/** The value of a numeric flag (its default when absent); a BenchFlagError says which flag, what was given and what to give. */
export function numberFlag(flag: keyof typeof NUMBER_FLAGS, value: string | undefined): number {
  const { min, max, fallback, unit } = NUMBER_FLAGS[flag];
  if (value === undefined) return fallback;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new BenchFlagError(`--${flag} ${value}: use a whole number of ${unit} from ${min} to ${max} (e.g. --${flag} ${fallback})`);
  }
  return number;
}

/**
 * The value of --transports: a comma-separated list of BENCH_TRANSPORTS, each at most once, returned in BENCH_TRANSPORTS
 * order (all of them when absent); a BenchFlagError names the flag, the value and what to give.
 */
export function transportsFlag(value: string | undefined): TurnTransport[] {
  if (value === undefined) return [...BENCH_TRANSPORTS];
  const names = value.split(",").map((name) => name.trim().toLowerCase());
  const unknown = names.filter((name) => !BENCH_TRANSPORTS.some((t) => t === name));
  const fix = `use a comma-separated list of ${BENCH_TRANSPORTS.join(", ")} (e.g. --transports udp,tcp; default: all three)`;
  if (value.trim() === "" || unknown.length > 0) {
    throw new BenchFlagError(`--transports ${value}: ${unknown.length > 0 ? `unknown transport ${unknown.map((u) => `"${u}"`).join(", ")}; ` : ""}${fix}`);
  }
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (repeated.length > 0) throw new BenchFlagError(`--transports ${value}: ${repeated[0]} is listed twice; ${fix}`);
  return BENCH_TRANSPORTS.filter((t) => names.includes(t));
}
