/**
 * npm run bench -- [options]
 *
 * The relay benchmark: coturn with the aws-example stack's production turnserver.conf against the same coturn with a
 * minimal config over UDP, TCP and TLS between client and coturn, and production with the VM's monitoring against
 * production without it over UDP, in the namespaced test lab (no route out), measured in the same run. Prints, per
 * transport, saturation per configuration and the ratio (production/minimal >= 0.95 over each), coturn's CPU per
 * relayed datagram, loss and round-trip percentiles at 25% and 50% of that transport's minimal saturation (no loss at
 * 50%, with and without monitoring); monitored/production (>= 0.98) and the monitoring's CPU; and raw UDP between the
 * same namespaces as the ceiling. The method is in
 * lab/bench/relayBench.ts and in the README. Exits 0 when the targets are met, 1 when not (or when a window measured
 * the generator rather than coturn, or the monitoring did not count what the bench counted), 2 for bad flags. Needs root.
 */
import { execFileSync } from "node:child_process";
import { cpuBudgetProblem } from "../lab/bench/cpuBudget";
import { allowedCores, cpuLayout } from "../lab/bench/cpuUsage";
import { runRelayBench } from "../lab/bench/relayBench";
import { BenchFlagError, NUMBER_FLAGS, numberFlag, RELAY_BENCH_USAGE, transportsFlag, type RelayBenchOptions } from "../lab/bench/relayOptions";
import { comparisonTable, headerLines, monitoringTable, pacedTable, saturationTable, transportTable, verdictLines } from "../lab/bench/relayReport";
import { summarize } from "../lab/bench/relaySummary";
import { pacedOrder, saturationMatchups } from "../lab/bench/relayBench";
import { measureStartup, STARTUP_TARGET_RATIO, type StartupResult } from "../lab/bench/programStartup";
import { joinNegativeNumbers, parseFlags, printTable, runMain, UsageError } from "./cli";

/** Which parts to run. */
type BenchPart = "relay" | "startup";

function optionsFrom(argv: readonly string[]): (RelayBenchOptions & { parts: BenchPart[] }) | "help" {
  const numeric = Object.keys(NUMBER_FLAGS).map((name) => `--${name}`);
  const flags = parseFlags(joinNegativeNumbers(argv, numeric), {
    only: { type: "string" },
    runs: { type: "string" },
    "duration-seconds": { type: "string" },
    "packet-bytes": { type: "string" },
    transports: { type: "string" },
    "server-cpu-percent": { type: "string" },
    "scrape-ms": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (flags.help) return "help";
  if (flags.only !== undefined && flags.only !== "relay" && flags.only !== "startup") {
    throw new UsageError(`--only ${flags.only}: use relay or startup (default: both)`);
  }
  return {
    parts: flags.only === undefined ? ["relay", "startup"] : [flags.only],
    runs: numberFlag("runs", flags.runs),
    durationSeconds: numberFlag("duration-seconds", flags["duration-seconds"]),
    packetBytes: numberFlag("packet-bytes", flags["packet-bytes"]),
    transports: transportsFlag(flags.transports),
    serverCpuPercent: numberFlag("server-cpu-percent", flags["server-cpu-percent"]),
    scrapeMs: numberFlag("scrape-ms", flags["scrape-ms"]),
    json: flags.json ?? false,
  };
}

async function main(): Promise<number> {
  let options: (RelayBenchOptions & { parts: BenchPart[] }) | "help";
  try {
    options = optionsFrom(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof BenchFlagError)) throw error;
    console.error(`bench: ${error.message}\n${RELAY_BENCH_USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(RELAY_BENCH_USAGE);
    return 0;
  }
  let passed = true;
  if (options.parts.includes("relay")) passed = (await relayPart(options)) && passed;
  if (options.parts.includes("startup")) passed = startupPart(options.runs, options.json) && passed;
  return passed ? 0 : 1;
}

/** The program's start-up against the one-resource floor; true when one region stays within the target ratio. */
function startupPart(runs: number, json: boolean): boolean {
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  say(`Program start-up: ${runs} cold runs of each case under mocks, interleaved, after one warm-up each …`);
  const results: StartupResult[] = measureStartup(runs, (name, ms) => say(`  ${name}: ${Math.round(ms)} ms`));
  const region = results.find((r) => r.name.startsWith("one region"));
  const passed = region !== undefined && region.ratio <= STARTUP_TARGET_RATIO;
  if (json) {
    console.log(JSON.stringify({ startup: results, passed }, null, 2));
    return passed;
  }
  console.log(`\nProgram start-up (cold node process, mocks, median of ${runs}; the floor is a one-resource program in the same harness)`);
  printTable(
    ["case", "median", "runs", "ratio to floor"],
    results.map((r) => [r.name, `${Math.round(r.medianMs)} ms`, r.runsMs.map((ms) => Math.round(ms)).join(", "), `${r.ratio.toFixed(2)}x`]),
  );
  console.log(`\nOne region ${passed ? "is within" : "EXCEEDS"} ${STARTUP_TARGET_RATIO}x of the floor (${region?.ratio.toFixed(2)}x).`);
  return passed;
}

/** The relay benchmark; true when its targets are met. */
async function relayPart(options: RelayBenchOptions): Promise<boolean> {
  if (process.getuid?.() !== 0) {
    console.error("bench: it builds network namespaces and a cgroup, which needs root: run `sudo npm run bench`");
    return false;
  }
  const budgetProblem = cpuBudgetProblem();
  if (budgetProblem !== undefined) {
    console.error(`bench: ${budgetProblem}`);
    return false;
  }

  const layout = cpuLayout(allowedCores());
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  // Per run: two head-to-head windows per comparison and transport, a raw one and two paced ones per config and
  // transport, each with about 3 s of start-up and warm-up (TLS about 1 s more for its handshakes), and about 2 s more
  // to start the monitoring for each monitored one.
  const headToHead = 2 * saturationMatchups(options.transports).length;
  const pacedWindows = options.transports.reduce((n, t) => n + 2 * pacedOrder(t).length, 0);
  const tlsWindows = options.transports.includes("tls") ? 2 + 2 * pacedOrder("tls").length : 0;
  const monitoredWindows = options.transports.includes("udp") ? 4 : 0;
  const estimateSeconds = options.runs * ((headToHead + pacedWindows) * (options.durationSeconds + 3) + tlsWindows + monitoredWindows * 2 + options.durationSeconds + 2) + 10;
  say(`Relay benchmark over ${options.transports.join(", ")}: ${options.runs} runs of ${options.durationSeconds} s windows, about ${Math.ceil(estimateSeconds / 60)} min.`);
  const results = await runRelayBench(options, layout, say);
  const summary = summarize(results);
  if (options.json) {
    console.log(JSON.stringify({ results, summary }, null, 2));
    return summary.passed;
  }

  const coturnVersion = execFileSync("turnserver", ["--version"], { encoding: "utf8" }).trim();
  console.log("");
  for (const line of headerLines(results, coturnVersion)) console.log(line);

  const perTransport = transportTable(summary);
  console.log(
    `\nPer transport between client and coturn (relay to peer over UDP): saturation relayed/s (medians), production/minimal ` +
      `(median of ${options.runs} runs, target >= 0.95), coturn CPU per relayed datagram, production's loss at 25% and 50% of that transport's minimal saturation (summed over runs; target 0 at 50%)`,
  );
  printTable(perTransport.header, perTransport.rows);
  const saturation = saturationTable(summary);
  console.log(
    `\nSaturation: two configs at once, each coturn within its budget, unpaced echoes; relayed counts both directions ` +
      `(medians of each config's windows of ${options.durationSeconds} s: production is in both comparisons; monitoring CPU is mtail, node-exporter and the collector, outside coturn's budget)`,
  );
  printTable(saturation.header, saturation.rows);
  const comparisons = comparisonTable(summary);
  console.log(`\nComparisons at saturation (each run: the geometric mean of both lab placements)`);
  printTable(comparisons.header, comparisons.rows);
  const monitoring = monitoringTable(summary);
  console.log(`\nThe monitoring's own CPU in the monitored windows (median, percent of one core, from before the generators started to after the window)`);
  printTable(monitoring.header, monitoring.rows);
  const paced = pacedTable(summary, options.serverCpuPercent);
  console.log(
    `\nPaced loads, % of minimal's saturation over the same transport: one config at a time, echoed (each datagram relayed twice); medians of ${options.runs} runs, loss summed ` +
      `(held back: over TCP/TLS, datagrams not written because coturn had not read the connection's backlog; counted as lost)`,
  );
  printTable(paced.header, paced.rows);
  console.log("");
  for (const line of verdictLines(summary)) console.log(line);
  return summary.passed;
}

runMain(main);
