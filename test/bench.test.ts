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
import { pacedOrder, saturationMatchups, serverPort, type RelayBenchResults } from "../lab/bench/relayBench";
import { comparisonTable, pacedTable, transportTable, verdictLines } from "../lab/bench/relayReport";
import { configRow, runRatios, summarize } from "../lab/bench/relaySummary";
import { windowCounts, type PacedSample, type SaturationPair, type SaturationSample } from "../lab/bench/relaySamples";
import { BENCH_TRANSPORTS, numberFlag, transportsFlag } from "../lab/bench/relayOptions";
import type { TurnTransport } from "../src/probe/turnClient";
import { median, percentileOfSorted } from "../lab/bench/relayStatistics";
import { labConf, productionConf } from "../lab/cloudLab";
import { runProgram } from "./support/program";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { paddedLength, StreamFrameParser, StreamFramingError, streamChannelData, streamFrameBytes } from "../lab/bench/streamFraming";
import { LoadGenerator } from "../lab/bench/loadGenerator";
import { channelDataHeader } from "../lab/bench/sendChannels";
import type { GeneratorJob } from "../lab/bench/generatorJob";

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
  const sample = (config: ConfigName, relayedPerSecond: number, problems?: string[], transport: TurnTransport = "udp"): SaturationSample => ({
    config,
    transport,
    lab: "A",
    relayedPerSecond,
    offeredPerSecond: 2 * relayedPerSecond,
    coturnCpuPercent: 20,
    cpuMicrosecondsPerPacket: (0.2 * 1e6) / relayedPerSecond,
    serverBound: true,
    monitoring: config === "monitored" ? check(problems) : null,
  });
  interface Synthetic {
    lostAtHalf?: number;
    problems?: string[];
    transports?: TurnTransport[];
    /** production/minimal over TLS (1 elsewhere). */
    tlsRatio?: number;
    /** production's loss at 50% over TCP, held back. */
    tcpHeldBackAtHalf?: number;
  }
  const results = (monitoredRate: number, options: Synthetic = {}): RelayBenchResults => {
    const transports = options.transports ?? ["udp"];
    // Over TCP half of UDP's rate, over TLS a fifth: each transport's own saturation.
    const rate = (t: TurnTransport): number => ({ udp: 30_000, tcp: 15_000, tls: 6_000 })[t];
    const saturation: SaturationPair[] = [1, 2].flatMap((run) => [
      ...transports.flatMap((transport) => {
        const ratio = transport === "tls" ? (options.tlsRatio ?? 1) : 1;
        return [1, 2].map(() => ({
          run,
          transport,
          comparison: "hardening" as const,
          subject: sample("production", rate(transport) * ratio, undefined, transport),
          baseline: sample("minimal", rate(transport), undefined, transport),
          ratio,
          coreBusyPercent: [],
        }));
      }),
      ...(transports.includes("udp")
        ? [1, 2].map(() => ({
            run,
            transport: "udp" as const,
            comparison: "monitoring" as const,
            subject: sample("monitored", monitoredRate, options.problems),
            baseline: sample("production", 30_000),
            ratio: monitoredRate / 30_000,
            coreBusyPercent: [],
          }))
        : []),
    ]);
    const paced: PacedSample[] = transports.flatMap((transport) =>
      pacedOrder(transport).flatMap((config) =>
        [25, 50].map((loadPercent) => {
          const heldBack = transport === "tcp" && config === "production" && loadPercent === 50 ? (options.tcpHeldBackAtHalf ?? 0) : 0;
          return {
            config,
            transport,
            run: 1,
            loadPercent,
            targetRelayedPerSecond: (rate(transport) * loadPercent) / 100,
            relayedPerSecond: (rate(transport) * loadPercent) / 100,
            sent: 1000,
            lost: (config === "monitored" && loadPercent === 50 ? (options.lostAtHalf ?? 0) : 0) + heldBack,
            heldBack,
            lossPercent: 0,
            roundTripMs: { p50: 0.2, p95: 0.5, p99: 0.8, max: 1 },
            coturnCpuPercent: 15,
            paceHeld: true,
            monitoring: config === "monitored" ? check() : null,
          };
        }),
      ),
    );
    return {
      options: { runs: 2, durationSeconds: 2, packetBytes: 200, transports, serverCpuPercent: 20, scrapeMs: 1500, json: false },
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
    const ratio = (summary: ReturnType<typeof summarize>, comparison: "hardening" | "monitoring", transport: TurnTransport = "udp") =>
      summary.ratios.find((r) => r.comparison === comparison && r.transport === transport);
    assert.deepEqual(runRatios(results(29_700), "monitoring"), [0.99, 0.99]);
    assert.equal(ratio(passing, "hardening")?.median, 1);
    assert.ok(Math.abs((ratio(passing, "monitoring")?.median ?? 0) - 0.99) < 1e-9);
    assert.equal(passing.passed, true, verdictLines(passing).join("\n"));
    assert.equal(configRow(passing, "udp", "production")?.windows, 8, "production's windows of both comparisons");
    assert.equal(configRow(passing, "udp", "monitored")?.monitoringCpuPercent, 3);
    // coturn's 20% plus the monitoring's 3% of a core over 29,700 relayed datagrams a second.
    assert.ok(Math.abs((configRow(passing, "udp", "monitored")?.cpuMicrosecondsPerPacketWithMonitoring ?? 0) - (0.23 * 1e6) / 29_700) < 1e-6);
    assert.deepEqual(comparisonTable(passing).rows.map((r) => [r[0], r[1], r[2], r[5]]), [["udp", "production/minimal", "1.000", "yes"], ["udp", "monitored/production", "0.990", "yes"]]);

    const slow = summarize(results(29_000));
    assert.equal(ratio(slow, "monitoring")?.met, false);
    assert.equal(slow.passed, false);
    assert.match(verdictLines(slow).join("\n"), /monitored\/production at saturation: 0\.967 .* NOT met/);

    const lossy = summarize(results(29_700, { lostAtHalf: 1 }));
    assert.equal(lossy.passed, false);
    assert.match(verdictLines(lossy).join("\n"), /monitored loss at 50% of saturation: 1 of 1,000 datagrams; target 0: NOT met/);

    // Fast because broken: a monitoring that did not count is no measurement of its cost.
    const broken = summarize(results(30_000, { problems: ["the relay range's outbound kernel counter: not on node-exporter's page"] }));
    assert.equal(ratio(broken, "monitoring")?.met, true);
    assert.equal(broken.monitoringWorked, false);
    assert.equal(broken.passed, false);
    assert.match(verdictLines(broken).join("\n"), /The monitoring did NOT work \(2 of 6 monitored windows checked\).*saturation: the relay range's outbound/);
  });

  test("per transport: production/minimal over UDP, TCP and TLS each against 0.95, production's loss at 50% over each, one table row each", () => {
    const all: TurnTransport[] = ["udp", "tcp", "tls"];
    const passing = summarize(results(29_700, { transports: all }));
    assert.equal(passing.passed, true, verdictLines(passing).join("\n"));
    assert.deepEqual(
      passing.ratios.map((r) => [r.comparison, r.transport]),
      [["hardening", "udp"], ["hardening", "tcp"], ["hardening", "tls"], ["monitoring", "udp"]],
    );
    assert.deepEqual(passing.lossAtHalf.map((l) => [l.transport, l.config, l.met]), [["udp", "production", true], ["udp", "monitored", true], ["tcp", "production", true], ["tls", "production", true]]);
    // Each transport's paced loads and saturation stay its own: TCP's row has TCP's rate, not UDP's.
    assert.equal(configRow(passing, "tcp", "production")?.saturationPerSecond, 15_000);
    assert.equal(configRow(passing, "tcp", "production")?.windows, 4, "TCP's production windows: the hardening comparison only");
    assert.equal(configRow(passing, "tls", "monitored"), undefined, "monitored runs over UDP only");
    const table = transportTable(passing);
    assert.deepEqual(table.rows.map((r) => [r[0], r[1], r[2], r[3], r[5], r[6], r[7], r[9]]), [
      ["udp", "30,000", "30,000", "1.000", "yes", "6.7 µs / 6.7 µs", "10.0 µs", "0 / 1,000"],
      ["tcp", "15,000", "15,000", "1.000", "yes", "13.3 µs / 13.3 µs", "20.0 µs", "0 / 1,000"],
      ["tls", "6,000", "6,000", "1.000", "yes", "33.3 µs / 33.3 µs", "50.0 µs", "0 / 1,000"],
    ]);
    assert.equal(table.header.length, table.rows[0].length);
    // Held back only means something on a stream.
    assert.deepEqual(pacedTable(passing, 20).rows.filter((r) => r[2] === "50%").map((r) => [r[0], r[1], r[6]]), [
      ["udp", "production", "-"],
      ["udp", "minimal", "-"],
      ["udp", "monitored", "-"],
      ["tcp", "production", "0"],
      ["tcp", "minimal", "0"],
      ["tls", "production", "0"],
      ["tls", "minimal", "0"],
    ]);

    // TLS alone below its target fails the run, whatever UDP and TCP did.
    const slowTls = summarize(results(29_700, { transports: all, tlsRatio: 0.9 }));
    assert.equal(slowTls.passed, false);
    assert.match(verdictLines(slowTls).join("\n"), /tls production\/minimal at saturation: 0\.900 .*target >= 0\.95: NOT met/);
    assert.match(verdictLines(slowTls).join("\n"), /udp production\/minimal at saturation: 1\.000 .*: met/);

    // Datagrams held back on backed-up TCP connections at 50% are loss.
    const heldBack = summarize(results(29_700, { transports: all, tcpHeldBackAtHalf: 12 }));
    assert.equal(heldBack.passed, false);
    assert.match(verdictLines(heldBack).join("\n"), /tcp production loss at 50% of saturation: 12 of 1,000 datagrams \(12 held back on backed-up connections\); target 0: NOT met/);

    // Without UDP there is no monitored comparison, and that is no failure.
    const streamsOnly = summarize(results(29_700, { transports: ["tcp", "tls"] }));
    assert.equal(streamsOnly.monitoringWorked, null);
    assert.equal(streamsOnly.passed, true, verdictLines(streamsOnly).join("\n"));
    assert.deepEqual(streamsOnly.ratios.map((r) => r.transport), ["tcp", "tls"]);
    assert.match(verdictLines(streamsOnly).join("\n"), /The monitoring was not measured: it runs over UDP only/);
    assert.match(verdictLines(streamsOnly)[0], /production's saturation over tcp/);
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

  test("--transports: all three by default, any subset in the bench's order, and a message naming the flag, the value and the fix", () => {
    assert.deepEqual(transportsFlag(undefined), ["udp", "tcp", "tls"]);
    assert.deepEqual(BENCH_TRANSPORTS, ["udp", "tcp", "tls"]);
    assert.deepEqual(transportsFlag("tls,udp"), ["udp", "tls"]);
    assert.deepEqual(transportsFlag("TCP"), ["tcp"]);
    assert.throws(() => transportsFlag("udp,sctp"), /--transports udp,sctp: unknown transport "sctp"; use a comma-separated list of udp, tcp, tls \(e\.g\. --transports udp,tcp; default: all three\)/);
    assert.throws(() => transportsFlag(""), /--transports : unknown transport ""; use a comma-separated list/);
    assert.throws(() => transportsFlag("udp,,tcp"), /unknown transport ""/);
    assert.throws(() => transportsFlag("tcp,tcp"), /--transports tcp,tcp: tcp is listed twice; use a comma-separated list/);
  });

  test("what each run measures per transport: the hardening over each, the monitoring over UDP only, TLS on its own port", () => {
    assert.deepEqual(
      saturationMatchups(["udp", "tcp", "tls"]).map((m) => `${m.comparison.name}/${m.transport}`),
      ["hardening/udp", "hardening/tcp", "hardening/tls", "monitoring/udp"],
    );
    assert.deepEqual(saturationMatchups(["tls"]).map((m) => `${m.comparison.name}/${m.transport}`), ["hardening/tls"]);
    assert.deepEqual(pacedOrder("udp"), ["minimal", "production", "monitored"]);
    assert.deepEqual(pacedOrder("tcp"), ["minimal", "production"]);
    assert.deepEqual([serverPort("udp"), serverPort("tcp"), serverPort("tls")], [3478, 3478, 5349]);
  });

  test("relayed and offered datagrams: the kernel's counters over UDP; over TCP/TLS the peer's counter and the generator's counts", () => {
    const generator = { windowMs: 1000, sent: 900, echoed: 700, lost: 200, roundTripMs: null, sendErrors: 0, received: 750, heldBack: 50 };
    const m = { seconds: 1, packets: { clientToServer: 1000, serverToClient: 800, relayToPeer: 850, clientToPeer: 0 }, coturnCpuPercent: 20, coreBusyPercent: [], generator };
    assert.deepEqual(windowCounts("udp", m), { relayed: 850 + 800, offered: 1000 });
    assert.deepEqual(windowCounts("tcp", { ...m, packets: { ...m.packets, clientToServer: 0, serverToClient: 0 } }), { relayed: 850 + 750, offered: 900 });
    assert.deepEqual(windowCounts("tls", m), { relayed: 850 + 750, offered: 900 });
  });

  test("npm run bench refuses bad flags with exit 2, before building anything", () => {
    const bench = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "bench.ts"), ...args], { encoding: "utf8", cwd: ROOT });
    for (const [args, message] of [
      [["--runs", "-1"], /--runs -1: use a whole number of runs from 1 to 9/],
      [["--only", "disk"], /--only disk: use relay or startup/],
      [["--transports", "udp,quic"], /--transports udp,quic: unknown transport "quic"; use a comma-separated list of udp, tcp, tls/],
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

describe("ChannelData over a stream (TCP/TLS)", () => {
  /** Everything a parser hands on, as [channel, payload hex] or ["stun", length]. */
  const parse = (chunks: readonly Buffer[]): { messages: Array<[number | "stun", string | number]>; pending: number } => {
    const messages: Array<[number | "stun", string | number]> = [];
    const parser = new StreamFrameParser({
      onChannelData: (buffer, offset, bytes, channel) => messages.push([channel, buffer.subarray(offset, offset + bytes).toString("hex")]),
      onStun: (message) => messages.push(["stun", message.length]),
    });
    for (const chunk of chunks) parser.push(chunk);
    return { messages, pending: parser.pendingBytes };
  };
  // A STUN Binding success with one 4-byte attribute header and 8 bytes of value: 20 + 12 bytes.
  const stun = Buffer.concat([Buffer.from([0x01, 0x01, 0x00, 0x0c, 0x21, 0x12, 0xa4, 0x42]), Buffer.alloc(12, 7), Buffer.alloc(12, 1)]);

  test("frames are padded to a multiple of 4 bytes that the length field does not count", () => {
    assert.deepEqual([0, 1, 3, 4, 5, 200, 201].map(paddedLength), [0, 4, 4, 4, 8, 200, 204]);
    assert.equal(streamFrameBytes(5), 12);
    const frame = streamChannelData(0x4001, Buffer.from("hello"));
    assert.equal(frame.toString("hex"), "40010005" + Buffer.from("hello").toString("hex") + "000000");
    assert.deepEqual(channelDataHeader(0x4001, 5), frame.subarray(0, 4));
  });

  test("the parser finds every message whatever the split: padded ChannelData of odd lengths, STUN between, empty payloads", () => {
    const stream = Buffer.concat([
      streamChannelData(0x4000, Buffer.from("a")),
      streamChannelData(0x4001, Buffer.from("abcd")),
      stun,
      streamChannelData(0x4fff, Buffer.alloc(0)),
      streamChannelData(0x4002, Buffer.from("0123456789")),
    ]);
    const expected: Array<[number | "stun", string | number]> = [
      [0x4000, Buffer.from("a").toString("hex")],
      [0x4001, Buffer.from("abcd").toString("hex")],
      ["stun", 32],
      [0x4fff, ""],
      [0x4002, Buffer.from("0123456789").toString("hex")],
    ];
    assert.deepEqual(parse([stream]), { messages: expected, pending: 0 });
    // Split in two at every byte, and byte by byte: the same messages, nothing left over.
    for (let cut = 0; cut <= stream.length; cut++) assert.deepEqual(parse([stream.subarray(0, cut), stream.subarray(cut)]), { messages: expected, pending: 0 }, `cut at ${cut}`);
    assert.deepEqual(parse([...stream].map((byte) => Buffer.from([byte]))), { messages: expected, pending: 0 });
    // A message cut short waits for the rest (its padding included).
    assert.deepEqual(parse([stream.subarray(0, 7)]), { messages: [], pending: 7 });
    assert.deepEqual(parse([stream.subarray(0, 11)]), { messages: [expected[0]], pending: 3 });
    assert.deepEqual(parse([streamChannelData(0x4000, Buffer.from("abcde")).subarray(0, 9)]), { messages: [], pending: 9 });
  });

  test("bytes that are neither STUN nor ChannelData at a message boundary are a framing error", () => {
    assert.throws(() => parse([Buffer.from([0x80, 0, 0, 0])]), StreamFramingError);
    assert.throws(() => parse([streamChannelData(0x4000, Buffer.from("ab")), Buffer.from([0xc0, 0, 0, 4])]), /byte 0xc0 at a message boundary is neither STUN/);
    // Unpadded ChannelData (as UDP carries it) puts the next header in the wrong place.
    const unpadded = Buffer.concat([channelDataHeader(0x4000, 1), Buffer.from("a"), channelDataHeader(0x4000, 1), Buffer.from("a")]);
    assert.throws(() => parse([unpadded, Buffer.alloc(8, 0xff)]), StreamFramingError);
  });

  test("the generator over a TCP stream (a loopback echo server): padded frames written in batches, every echo split out and timed", async () => {
    // Echoes every byte back, so the generator reads its own padded ChannelData frames.
    const server = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const socket = connect({ host: "127.0.0.1", port });
        await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
        sockets.push(socket);
      }
      const job: GeneratorJob = {
        route: { kind: "turn", transport: "tcp", server: { host: "127.0.0.1", port }, credentials: [] },
        peer: { host: "127.0.0.1", port },
        payloadBytes: 21,
        pace: { kind: "paced", perSecond: 4000 },
        echo: true,
        graceMs: 200,
        lifetimeMs: 10_000,
      };
      const generator = new LoadGenerator(
        sockets.map((socket, i) => ({ kind: "stream" as const, socket, header: channelDataHeader(0x4000 + i, 21), framesPerWrite: 16 })),
        job,
      );
      generator.start();
      await new Promise((resolve) => setTimeout(resolve, 100));
      generator.openWindow();
      await new Promise((resolve) => setTimeout(resolve, 400));
      const result = await generator.closeWindow();
      assert.ok(result.sent > 1000, `sent ${result.sent}`);
      assert.equal(result.lost, 0);
      assert.equal(result.echoed, result.sent);
      assert.equal(result.heldBack, 0);
      assert.equal(result.sendErrors, 0);
      assert.ok(result.received >= result.echoed * 0.9, `received ${result.received}`);
      assert.ok(result.roundTripMs !== null && result.roundTripMs.p50 < 100);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
