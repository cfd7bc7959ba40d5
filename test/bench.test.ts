/**
 * The benchmark's pure parts and its command line (the measurements themselves are `npm run bench`, never timed
 * assertions here; `sudo npm run bench -- --only relay --runs 1 --duration-seconds 2` is the short real run): the
 * minimal config is production cut down and nothing else, the monitored config is production unchanged, the
 * monitoring's check catches a broken setup, the verdict needs every target and a working monitoring, the
 * statistics, the flag checks, and the start-up floor program running under the same mock harness as the real program.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { benchConfigs, COMPARISONS, maxBytesPerSecond, minimalConf, MINIMAL_OPTIONS, optionLines, optionName, productionOnlyLines, type ConfigName } from "../lab/bench/relayConfigs";
import { maxScrapeGapMs, monitoringFigures, monitoringProblems, parseMetrics, type MonitoringCheck, type MonitoringFigures } from "../lab/bench/benchMonitoring";
import type { RelayBenchResults } from "../lab/bench/relayBench";
import { comparisonTable, runRatios, summarize, verdictLines } from "../lab/bench/relayReport";
import type { PacedSample, SaturationPair, SaturationSample } from "../lab/bench/relaySamples";
import { numberFlag } from "../lab/bench/relayOptions";
import { median, percentileOfSorted } from "../lab/bench/relayStatistics";
import { labConf, productionConf } from "../lab/cloudLab";
import { runProgram } from "./support/program";

const ROOT = join(__dirname, "..");

describe("relay benchmark configs", () => {
  // The production config as the lab runs it (the bench's input): log file and paths swapped in.
  const production = labConf(productionConf(), { certificate: "/lab/cert.pem", privateKey: "/lab/key.pem", logFile: "/lab/turn.log", userDb: "/lab/turndb" }).conf;

  test("minimal keeps exactly production's lines of the minimal options, unchanged", () => {
    const minimal = optionLines(minimalConf(production));
    assert.ok(minimal.length >= 9);
    for (const line of minimal) {
      assert.ok(MINIMAL_OPTIONS.includes(optionName(line) ?? ""), line);
      assert.ok(optionLines(production).includes(line), `${line} is production's own line`);
    }
    assert.ok(minimal.some((l) => l.startsWith("use-auth-secret")));
    assert.ok(!minimal.some((l) => l.startsWith("denied-peer-ip") || l.startsWith("max-bps") || l.startsWith("user-quota")));
  });

  test("what production adds is listed, deny list included; a production config without an address cannot be cut", () => {
    const added = productionOnlyLines(production);
    assert.ok(added.filter((l) => l.startsWith("denied-peer-ip=")).length >= 20);
    assert.ok(added.includes("no-tcp-relay"));
    assert.equal(maxBytesPerSecond(production), 2_500_000);
    assert.throws(() => minimalConf(production.replace(/^external-ip=.*$/gm, "")), /the production config has no external-ip/);
  });
});

describe("the monitored config and its check", () => {
  const production = labConf(productionConf(), { certificate: "/lab/cert.pem", privateKey: "/lab/key.pem", logFile: "/lab/turn.log", userDb: "/lab/turndb" }).conf;

  test("monitored is production's file unchanged, with monitoring; the others run without; it is compared with production; minimal runs without the limits", () => {
    const configs = benchConfigs(production);
    assert.equal(configs.monitored.conf, configs.production.conf);
    assert.deepEqual(
      Object.values(configs).map((c) => [c.name, c.monitoring, c.rateLimits]),
      [["production", false, true], ["minimal", false, false], ["monitored", true, true]],
    );
    assert.deepEqual(COMPARISONS.find((c) => c.name === "monitoring"), { name: "monitoring", subject: "monitored", baseline: "production", target: 0.98 });
  });

  // A node-exporter page as the collector writes it (labels in node-exporter's order), mtail's figures included.
  const page = (udpIn: number, relayIn: number, created: number, up = 1, logUp = 1): string =>
    [
      "# HELP coturn_listener_packets_total Packets per listener.",
      "# TYPE coturn_listener_packets_total counter",
      `coturn_listener_packets_total{transport="relay"} ${relayIn}`,
      `coturn_listener_packets_total{transport="udp"} ${udpIn}`,
      `coturn_listener_packets_total{transport="tcp"} 7`,
      `coturn_allocations_created_total{transport="plain"} ${created}`,
      `coturn_allocations_created_total{transport="tls"} 3`,
      "coturn_starts_total 2",
      `coturn_up ${up}`,
      `coturn_log_metrics_up ${logUp}`,
      'node_cpu_seconds_total{cpu="0",mode="idle"} 1.5e+03',
    ].join("\n");
  const expected = { relayToPeer: 1000, serverToClient: 990, allocations: 64 };
  const times = [0, 1500, 3000, 4500];

  test("the page's figures: labels in any order, other series ignored, a missing series is NaN", () => {
    const figures = monitoringFigures(page(10, 20, 64));
    assert.deepEqual(figures, { udpIn: 10, relayIn: 20, allocationsCreated: 64, coturnStarts: 2, coturnUp: 1, logMetricsUp: 1 });
    assert.equal(parseMetrics(page(1, 2, 4)).find((s) => s.name === "node_cpu_seconds_total")?.value, 1500);
    assert.ok(Number.isNaN(monitoringFigures("coturn_up 1\n").udpIn));
  });

  test("a working monitoring passes; counters that missed packets, a missing table, mtail not reading, or a stalled scraper fail", () => {
    const first = monitoringFigures(page(100, 100, 10));
    const good = monitoringFigures(page(1100, 1090, 74));
    assert.deepEqual(monitoringProblems(first, good, expected, times), []);
    const problems = (last: MonitoringFigures, at = times): string => monitoringProblems(first, last, expected, at).join("\n");
    assert.match(problems(monitoringFigures(page(900, 1090, 74))), /UDP listener's kernel counter grew by 800, less than the 1000/);
    assert.match(problems(monitoringFigures(page(1100, 1000, 74))), /relay range's kernel counter grew by 900, less than the 990/);
    assert.match(problems(monitoringFigures(page(1100, 1090, 74).replace(/^coturn_listener.*$/gm, ""))), /relay range's kernel counter: not on node-exporter's page/);
    assert.match(problems(monitoringFigures(page(1100, 1090, 10, 1, 0))), /mtail's allocations created grew by 0, less than the 64[\s\S]*coturn_log_metrics_up was 0/);
    assert.match(problems(monitoringFigures(page(1100, 1090, 74, 0))), /coturn_up was 0/);
    assert.match(problems(good, [0, 1500, 1500 + maxScrapeGapMs(1500) + 1]), /ms between two scrapes/);
    assert.equal(monitoringProblems(first, good, expected, [0, 15_000, 30_000], 15_000).length, 0, "a 15 s cadence with --scrape-ms 15000");
    assert.match(problems(good, [0]), /only 1 scrape/);
    assert.match(monitoringProblems(first, good, { ...expected, relayToPeer: 0 }, times).join(), /nothing was relayed/);
  });

  // Synthetic results: each comparison in both placements for two runs, and paced loads for every config.
  const check = (problems: string[] = []): MonitoringCheck => ({
    scrapes: 6,
    longestGapMs: 1600,
    counted: { udpIn: 2000, relayIn: 1990, allocationsCreated: 64 },
    expected,
    cpuPercent: { mtail: 0.5, nodeExporter: 0.5, scrapes: 2, total: 3 },
    problems,
  });
  const sample = (config: ConfigName, relayedPerSecond: number, problems?: string[]): SaturationSample => ({
    config,
    lab: "A",
    relayedPerSecond,
    offeredPerSecond: 2 * relayedPerSecond,
    coturnCpuPercent: 20,
    cpuMicrosecondsPerPacket: (0.2 * 1e6) / relayedPerSecond,
    serverBound: true,
    monitoring: config === "monitored" ? check(problems) : null,
  });
  const results = (monitoredRate: number, options: { lostAtHalf?: number; problems?: string[] } = {}): RelayBenchResults => {
    const saturation: SaturationPair[] = [1, 2].flatMap((run) => [
      ...[1, 2].map(() => ({ run, comparison: "hardening" as const, subject: sample("production", 30_000), baseline: sample("minimal", 30_000), ratio: 1, coreBusyPercent: [] })),
      ...[1, 2].map(() => ({
        run,
        comparison: "monitoring" as const,
        subject: sample("monitored", monitoredRate, options.problems),
        baseline: sample("production", 30_000),
        ratio: monitoredRate / 30_000,
        coreBusyPercent: [],
      })),
    ]);
    const paced: PacedSample[] = (["production", "minimal", "monitored"] as const).flatMap((config) =>
      [25, 50].map((loadPercent) => ({
        config,
        run: 1,
        loadPercent,
        targetRelayedPerSecond: 300 * loadPercent,
        relayedPerSecond: 300 * loadPercent,
        sent: 1000,
        lost: config === "monitored" && loadPercent === 50 ? (options.lostAtHalf ?? 0) : 0,
        lossPercent: 0,
        roundTripMs: { p50: 0.2, p95: 0.5, p99: 0.8, max: 1 },
        coturnCpuPercent: 15,
        paceHeld: true,
        monitoring: config === "monitored" ? check() : null,
      })),
    );
    return {
      options: { runs: 2, durationSeconds: 2, packetBytes: 200, serverCpuPercent: 20, scrapeMs: 1500, json: false },
      layout: { cores: [0, 1], serverCore: 1, generatorCores: [0] },
      allocations: 64,
      allocationCeilingPerSecond: 9803,
      minimalOptions: MINIMAL_OPTIONS,
      productionOnlyLines: [],
      saturation,
      raw: [{ run: 1, packetsPerSecond: 300_000, coreBusyPercent: [] }],
      paced,
    };
  };

  test("the verdict: monitored/production against 0.98 from its own windows, loss at 50% with monitoring, and a working monitoring", () => {
    const passing = summarize(results(29_700));
    assert.deepEqual(runRatios(results(29_700), "monitoring"), [0.99, 0.99]);
    assert.equal(passing.ratios.hardening.median, 1);
    assert.ok(Math.abs(passing.ratios.monitoring.median - 0.99) < 1e-9);
    assert.equal(passing.passed, true, verdictLines(passing).join("\n"));
    assert.equal(passing.configs.production.windows, 8, "production's windows of both comparisons");
    assert.equal(passing.configs.monitored.monitoringCpuPercent, 3);
    // coturn's 20% plus the monitoring's 3% of a core over 29,700 relayed datagrams a second.
    assert.ok(Math.abs((passing.configs.monitored.cpuMicrosecondsPerPacketWithMonitoring ?? 0) - (0.23 * 1e6) / 29_700) < 1e-6);
    assert.deepEqual(comparisonTable(passing).rows.map((r) => [r[0], r[1], r[4]]), [["production/minimal", "1.000", "yes"], ["monitored/production", "0.990", "yes"]]);

    const slow = summarize(results(29_000));
    assert.equal(slow.ratios.monitoring.met, false);
    assert.equal(slow.passed, false);
    assert.match(verdictLines(slow).join("\n"), /monitored\/production at saturation: 0\.967 .* NOT met/);

    const lossy = summarize(results(29_700, { lostAtHalf: 1 }));
    assert.equal(lossy.passed, false);
    assert.match(verdictLines(lossy).join("\n"), /monitored loss at 50% of saturation: 1 of 1,000 datagrams; target 0: NOT met/);

    // Fast because broken: a monitoring that did not count is no measurement of its cost.
    const broken = summarize(results(30_000, { problems: ["the relay range's outbound kernel counter: not on node-exporter's page"] }));
    assert.equal(broken.ratios.monitoring.met, true);
    assert.equal(broken.monitoringWorked, false);
    assert.equal(broken.passed, false);
    assert.match(verdictLines(broken).join("\n"), /The monitoring did NOT work \(2 of 6 monitored windows checked\).*saturation: the relay range's outbound/);
  });
});

describe("benchmark statistics and flags", () => {
  test("median and nearest-rank percentiles", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentileOfSorted(sorted, 50), 50);
    assert.equal(percentileOfSorted(sorted, 99), 99);
    assert.equal(percentileOfSorted([7], 99), 7);
  });

  test("numeric flags: default, bounds, and a message naming the flag, the value and an example", () => {
    assert.equal(numberFlag("runs", undefined), 3);
    assert.equal(numberFlag("packet-bytes", "1200"), 1200);
    assert.throws(() => numberFlag("runs", "10"), /--runs 10: use a whole number of runs from 1 to 9 \(e\.g\. --runs 3\)/);
    assert.throws(() => numberFlag("duration-seconds", "1.5"), /--duration-seconds 1\.5: use a whole number of seconds from 2 to 60/);
    assert.equal(numberFlag("scrape-ms", undefined), 1500);
    assert.throws(() => numberFlag("scrape-ms", "100"), /--scrape-ms 100: use a whole number of milliseconds from 500 to 15000/);
  });

  test("npm run bench refuses bad flags with exit 2, before building anything", () => {
    const bench = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "bench.ts"), ...args], { encoding: "utf8", cwd: ROOT });
    for (const [args, message] of [
      [["--runs", "-1"], /--runs -1: use a whole number of runs from 1 to 9/],
      [["--only", "disk"], /--only disk: use relay or startup/],
      [["--frobnicate"], /Unknown option '--frobnicate'/],
    ] as Array<[string[], RegExp]>) {
      const run = bench(...args);
      assert.equal(run.status, 2, args.join(" "));
      assert.match(run.stderr, message);
    }
  });

  test("the start-up floor is a one-resource program that runs under the same mock harness", async () => {
    const previous = process.env.HARNESS_PROGRAM;
    process.env.HARNESS_PROGRAM = join(ROOT, "lab", "bench", "minimalProgram.ts");
    try {
      const run = await runProgram({ stack: "floor", values: {}, secretKeys: [] });
      assert.equal(run.error, undefined, run.error);
      assert.deepEqual(run.resources.map((r) => r.type), ["bench:index:Thing"]);
    } finally {
      if (previous === undefined) delete process.env.HARNESS_PROGRAM;
      else process.env.HARNESS_PROGRAM = previous;
    }
  });
});
