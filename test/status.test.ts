// `npm run status` without a server: the text-format parser, the rows from two fixture scrapes (exact figures), a
// round with a fake reader, the SSH arguments and failure sentences, and the command's bad-input exits (2).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ExpositionError, parseExposition, samplesOf, sumOf } from "../src/status/exposition";
import { counterIncrease, formatDuration, serverStatus, statusTableRows, STATUS_HEADER, type MetricsRead } from "../src/status/serverStatus";
import { knownHostsLine, readFailure, redact, sshArguments } from "../src/status/sshRead";
import { statusRound } from "../src/status/statusRun";
import { parseMetricsAccess, regionTargets, stackHasScrapers, StatusInputError } from "../src/status/statusTargets";
import { createFakePulumi } from "./support/fakePulumi";

const STATUS = join(__dirname, "..", "scripts", "status.ts");

describe("the text-format parser", () => {
  test("HELP and TYPE lines, with HELP's escapes", () => {
    const page = parseExposition(
      [
        "# HELP coturn_up 1 when a turnserver process runs, else 0. A back\\\\slash and a\\nnew line.",
        "# TYPE coturn_up gauge",
        "coturn_up 1",
        "# an ordinary comment",
        "",
        "untyped_thing 3",
      ].join("\n"),
    );
    const up = page.families.get("coturn_up");
    assert.equal(up?.type, "gauge");
    assert.equal(up?.help, "1 when a turnserver process runs, else 0. A back\\slash and a\nnew line.");
    assert.deepEqual(up?.samples.map((s) => s.value), [1]);
    assert.equal(page.families.get("untyped_thing")?.type, "untyped");
    assert.equal(page.samples.length, 2);
  });

  test("labels: escapes, spaces, a trailing comma, an empty value, label order kept out of the way", () => {
    const page = parseExposition(
      'm{path="C:\\\\dir\\\\file",quote="say \\"hi\\"",nl="a\\nb",empty=""} 7\n' + 'm { code = "401" , transport="udp", } 2\n' + "m{} 5\n",
    );
    assert.deepEqual(page.samples[0].labels, { path: "C:\\dir\\file", quote: 'say "hi"', nl: "a\nb", empty: "" });
    assert.deepEqual(page.samples[1].labels, { code: "401", transport: "udp" });
    assert.deepEqual(page.samples[2].labels, {});
    assert.equal(sumOf(page, "m"), 14);
    assert.equal(sumOf(page, "m", { code: "401" }), 2);
    assert.equal(sumOf(page, "nothing"), undefined);
  });

  test("a histogram's buckets, sum and count belong to its family; +Inf bucket, NaN and ±Inf values", () => {
    const page = parseExposition(
      [
        "# TYPE coturn_session_duration_seconds histogram",
        'coturn_session_duration_seconds_bucket{le="10"} 1',
        'coturn_session_duration_seconds_bucket{le="60"} 3',
        'coturn_session_duration_seconds_bucket{le="+Inf"} 4',
        "coturn_session_duration_seconds_sum 250.5",
        "coturn_session_duration_seconds_count 4",
        "# TYPE q summary",
        'q{quantile="0.5"} NaN',
        "q_sum +Inf",
        "q_count -Inf",
        "other_count 1",
      ].join("\n"),
    );
    const histogram = page.families.get("coturn_session_duration_seconds");
    assert.equal(histogram?.type, "histogram");
    assert.deepEqual(histogram?.samples.map((s) => s.name), [
      "coturn_session_duration_seconds_bucket",
      "coturn_session_duration_seconds_bucket",
      "coturn_session_duration_seconds_bucket",
      "coturn_session_duration_seconds_sum",
      "coturn_session_duration_seconds_count",
    ]);
    assert.equal(samplesOf(page, "coturn_session_duration_seconds_bucket", { le: "+Inf" })[0].value, 4);
    assert.equal(samplesOf(page, "coturn_session_duration_seconds_sum")[0].value, 250.5);
    const summary = page.families.get("q");
    assert.ok(Number.isNaN(summary?.samples[0].value));
    assert.equal(summary?.samples[1].value, Number.POSITIVE_INFINITY);
    assert.equal(summary?.samples[2].value, Number.NEGATIVE_INFINITY);
    assert.equal(page.samples.at(-1)?.family, "other_count", "a _count of no typed family is its own family");
  });

  test("timestamps (integer milliseconds, negative too) and exponent values", () => {
    const page = parseExposition("a 1.5e3 1700000000123\nb -2 -5\nc 0.25\n");
    assert.deepEqual(
      page.samples.map((s) => [s.value, s.timestampMs]),
      [
        [1500, 1700000000123],
        [-2, -5],
        [0.25, undefined],
      ],
    );
  });

  test("bad lines are errors naming the line", () => {
    const cases: Array<[string, RegExp]> = [
      ["ok 1\n9bad 1", /^line 2: expected a metric name/],
      ['m{a="1" 2', /^line 1: expected , or \} after a label value/],
      ['m{a="1} 2', /^line 1: unterminated value of label a/],
      ['m{a="\\t"} 2', /^line 1: unknown escape \\t in label a/],
      ["m one", /^line 1: "one" is not a number/],
      ["m 1 2.5", /^line 1: "2.5" is not a timestamp/],
      ["m", /^line 1: expected a value/],
      ["m 1 2 3", /^line 1: expected a value and at most a timestamp/],
      ['m{a="1",a="2"} 1', /^line 1: label a given twice/],
      ["# TYPE m gauge\n# TYPE m counter", /^line 2: second TYPE line for m/],
      ["# TYPE m speedometer", /^line 1: unknown TYPE "speedometer" for m/],
      ["m 1\n# TYPE m gauge", /^line 2: TYPE line for m after its samples/],
      ["# HELP m a\n# HELP m b", /^line 2: second HELP line for m/],
    ];
    for (const [text, expected] of cases) {
      assert.throws(() => parseExposition(text), (error: unknown) => error instanceof ExpositionError && expected.test(error.message), text);
    }
  });

  test("Windows line ends are read", () => {
    assert.equal(parseExposition("a 1\r\nb 2\r\n").samples.length, 2);
  });
});

/** A collector page with the given figures (names from the metric catalog). */
function fixturePage(f: {
  collected: number;
  start?: number;
  up?: number;
  logUp?: number;
  plain: number;
  tls: number;
  /** eth0's node_network_receive/transmit_bytes_total (loopback's figures are added, to show they are left out). */
  received: number;
  sent: number;
  refused: Record<string, number>;
  /** coturn_rate_limited_packets_total per limit; none when absent (the limits not loaded). */
  limited?: Record<string, number>;
  inUse: number;
  expiry: number;
  sustained?: number;
}): string {
  const lines = [
    "# HELP coturn_metrics_collected_timestamp_seconds When the collector last wrote these figures (Unix time).",
    "# TYPE coturn_metrics_collected_timestamp_seconds gauge",
    `coturn_metrics_collected_timestamp_seconds ${f.collected}`,
    "# TYPE coturn_up gauge",
    `coturn_up ${f.up ?? 1}`,
    ...(f.start === undefined ? [] : ["# TYPE coturn_process_start_time_seconds gauge", `coturn_process_start_time_seconds ${f.start}`]),
    "# TYPE coturn_log_metrics_up gauge",
    `coturn_log_metrics_up ${f.logUp ?? 1}`,
    "# TYPE coturn_allocations_active gauge",
    `coturn_allocations_active{transport="plain"} ${f.plain}`,
    `coturn_allocations_active{transport="tls"} ${f.tls}`,
    'coturn_allocations_active{transport="dtls"} 0',
    "# TYPE node_network_receive_bytes_total counter",
    `node_network_receive_bytes_total{device="eth0"} ${f.received}`,
    `node_network_receive_bytes_total{device="lo"} ${f.received * 3}`,
    "# TYPE node_network_transmit_bytes_total counter",
    `node_network_transmit_bytes_total{device="eth0"} ${f.sent}`,
    `node_network_transmit_bytes_total{device="lo"} ${f.sent * 3}`,
    "# TYPE coturn_requests_refused_total counter",
    ...Object.entries(f.refused).map(([code, n]) => `coturn_requests_refused_total{code="${code}"} ${n}`),
    ...(f.limited === undefined ? [] : ["# TYPE coturn_rate_limited_packets_total counter", ...Object.entries(f.limited).map(([limit, n]) => `coturn_rate_limited_packets_total{limit="${limit}"} ${n}`)]),
    "# TYPE coturn_relay_ports gauge",
    "coturn_relay_ports 16384",
    "# TYPE coturn_relay_ports_in_use gauge",
    `coturn_relay_ports_in_use ${f.inUse}`,
    "# TYPE coturn_tls_certificate_expiry_timestamp_seconds gauge",
    `coturn_tls_certificate_expiry_timestamp_seconds ${f.expiry}`,
    ...(f.sustained === undefined ? [] : ["# TYPE coturn_vm_sustained_bandwidth_bits gauge", `coturn_vm_sustained_bandwidth_bits ${f.sustained}`]),
    "# TYPE node_netstat_Udp_InErrors untyped",
    "node_netstat_Udp_InErrors 0",
  ];
  return `${lines.join("\n")}\n`;
}

const T0 = 1_700_000_000;
const FIRST = fixturePage({
  collected: T0,
  start: T0 - 3600 + 15,
  plain: 3,
  tls: 2,
  received: 1_500_000,
  sent: 2_000_000,
  refused: { "401": 10, "403": 4 },
  limited: { udp_requests: 1000, tcp_connections: 0 },
  inUse: 5000,
  expiry: T0 + 30 * 86_400 + 3600,
  sustained: 5e9,
});
// 15 s later (the reads, too, are 15 s apart): 18,750,000 bytes more received on eth0 (10 Mbit/s), 37,500,000 more
// sent (20 Mbit/s), 15 more 401s (60/min), no 403, three 486s in a series that appears (12/min), 480 packets over
// the per-source limits (1,920/min), one allocation left.
const SECOND = fixturePage({
  collected: T0 + 15,
  start: T0 - 3600 + 15,
  plain: 1,
  tls: 0,
  received: 1_500_000 + 18_750_000,
  sent: 2_000_000 + 37_500_000,
  refused: { "401": 25, "403": 4, "486": 3 },
  limited: { udp_requests: 1000 + 450, tcp_connections: 30 },
  inUse: 4096,
  expiry: T0 + 30 * 86_400 + 3600,
  sustained: 5e9,
});
const read = (text: string, readAtSeconds: number): MetricsRead => ({ ok: true, scrape: { exposition: parseExposition(text), readAtSeconds } });
const REF = { stack: "organization/coturn/aws-eu-central-1", server: "aws-eu-central-1", address: "198.51.100.11", drained: false };

describe("a server's row from two scrapes", () => {
  test("exact figures: uptime, allocations, Mbit/s and % of sustained, relay ports, refusals per minute, certificate days", () => {
    const status = serverStatus(REF, read(FIRST, T0 + 2), read(SECOND, T0 + 17));
    assert.deepEqual(
      { ...status },
      {
        ...REF,
        state: "serving",
        ok: true,
        problem: null,
        up: true,
        uptimeSeconds: 3600,
        allocations: 1,
        windowSeconds: 15,
        mbitPerSecondIn: 10,
        mbitPerSecondOut: 20,
        sustainedBandwidthBits: 5e9,
        bandwidthPercentIn: 0.2,
        bandwidthPercentOut: 0.4,
        relayPortsUsedPercent: 25,
        refused: { "401": 15, "403": 0, "486": 3 },
        refusedPerMinute: { "401": 60, "403": 0, "486": 12 },
        limitedPerMinute: 1920,
        certificateDaysLeft: 30,
        collectedAtSeconds: T0 + 15,
        warnings: [],
      },
    );
    assert.deepEqual(statusTableRows([status]), [
      ["aws-eu-central-1", "aws-eu-central-1", "serving", "up", "1h 0m", "1", "10.00 (0.2%)", "20.00 (0.4%)", "25.0%", "60.0", "0.0", "12.0", "1920.0", "30", ""],
    ]);
    assert.equal(STATUS_HEADER.length, statusTableRows([status])[0].length);
  });

  test("without the sustained bandwidth the % is blank; a drained region says so", () => {
    const noSize = (text: string): string => text.replace(/^.*coturn_vm_sustained_bandwidth_bits.*\n/gm, "");
    const status = serverStatus({ ...REF, drained: true }, read(noSize(FIRST), T0), read(noSize(SECOND), T0 + 15));
    assert.equal(status.bandwidthPercentIn, null);
    assert.equal(status.state, "drained");
    assert.deepEqual(statusTableRows([status])[0].slice(2, 8), ["drained", "up", "1h 0m", "1", "10.00", "20.00"]);
  });

  test("coturn not running, stale figures, mtail silent", () => {
    const down = fixturePage({ collected: T0 + 15, up: 0, logUp: 0, plain: 0, tls: 0, received: 0, sent: 0, refused: {}, inUse: 0, expiry: T0 });
    const status = serverStatus(REF, undefined, read(down, T0 + 15 + 61));
    assert.equal(status.ok, false);
    assert.equal(status.problem, "coturn not running");
    assert.equal(status.up, false);
    assert.equal(status.uptimeSeconds, null);
    assert.deepEqual(status.warnings, [
      "figures 61 s old: the collector stopped (coturn-metrics-collect.timer)",
      "no figures from coturn's log: mtail did not answer (coturn-log-metrics.service)",
    ]);
    assert.equal(statusTableRows([status])[0][3], "DOWN");
    assert.equal(statusTableRows([status])[0].at(-1), `coturn not running; ${status.warnings.join("; ")}`);
  });

  test("an unreadable server: every figure blank, the reason in the note", () => {
    const status = serverStatus(REF, undefined, { ok: false, reason: "unreachable: ssh: connect to host 198.51.100.11 port 22: Connection timed out" });
    assert.equal(status.ok, false);
    assert.deepEqual(statusTableRows([status])[0], [
      "aws-eu-central-1", "aws-eu-central-1", "serving", "?", "", "", "", "", "", "", "", "", "", "",
      "unreachable: ssh: connect to host 198.51.100.11 port 22: Connection timed out",
    ]);
  });

  test("two reads of one collection give no rates, and say why", () => {
    const status = serverStatus(REF, read(SECOND, T0 + 16), read(SECOND, T0 + 26));
    // node-exporter reads the NIC counters live, so their rate needs no new collection (here nothing moved).
    assert.equal(status.mbitPerSecondIn, 0);
    assert.equal(status.refusedPerMinute["401"], null);
    assert.deepEqual(status.warnings, ["no new collection between the two reads: no refusal rates (the VM collects every 15 s)"]);
    assert.equal(status.ok, true);
  });

  test("counter increase: a reset series counts its new value, a new series counts from 0", () => {
    const a = parseExposition('c{k="x"} 100\nc{k="y"} 5\n');
    const b = parseExposition('c{k="x"} 7\nc{k="y"} 9\nc{k="z"} 2\n');
    assert.equal(counterIncrease(a, b, "c"), 7 + 4 + 2);
    assert.equal(counterIncrease(a, b, "c", { k: "y" }), 4);
    assert.equal(counterIncrease(a, b, "missing"), undefined);
  });

  test("durations for people", () => {
    assert.deepEqual([45, 725, 3600 * 5 + 720, 86_400 * 3 + 3600 * 4 + 59].map(formatDuration), ["45s", "12m 5s", "5h 12m", "3d 4h"]);
  });
});

describe("a round", () => {
  test("reads twice, says so during the interval, and re-reads a server until a new collection shows up", async () => {
    const pages = [FIRST, FIRST, SECOND];
    const lines: string[] = [];
    const sleeps: number[] = [];
    let clock = T0;
    const access = { server: "s1", address: "198.51.100.11", user: "coturn-deploy", hostPublicKey: "ssh-ed25519 AAAA", privateKey: "KEY" };
    const targets = regionTargets("aws-eu-central-1", false, [{ name: "s1", publicIp: "198.51.100.11" }, { name: "s2", publicIp: "198.51.100.12" }], [access]);
    const result = await statusRound(targets, {
      read: async () => ({ ok: true, text: pages.shift() ?? SECOND }),
      intervalSeconds: 10,
      log: (line) => lines.push(line),
      sleep: async (s) => {
        sleeps.push(s);
        clock += s;
      },
      now: () => clock,
    });
    assert.deepEqual(lines, ["reading metrics from 2 servers… (10 s)", "waiting for a new collection on 1 server (the VM collects every 15 s)…"]);
    assert.deepEqual(sleeps, [10, 2]);
    // The NIC's 18,750,000 bytes over the 12 s between the reads (10 s, then 2 s of waiting for the collection).
    assert.equal(result.statuses[0].mbitPerSecondIn, 12.5);
    assert.equal(result.statuses[1].ok, false);
    assert.match(result.statuses[1].problem ?? "", /^no metrics read key for s2 in the metricsAccess output: run `pulumi up` on stack "aws-eu-central-1"/);
  });
});

describe("the SSH read", () => {
  test("arguments: the pinned host key only, no agent, no config, no prompt, the user of the access entry", () => {
    assert.deepEqual(sshArguments({ address: "198.51.100.11", user: "coturn-deploy" }, { key: "/tmp/k", knownHosts: "/tmp/kh" }, 7), [
      "-F", "/dev/null", "-T", "-i", "/tmp/k",
      "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/tmp/kh",
      "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no", "-o", "BatchMode=yes", "-o", "ConnectTimeout=7",
      "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=2", "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "LogLevel=ERROR",
      "-l", "coturn-deploy", "--", "198.51.100.11",
    ]);
    assert.equal(knownHostsLine("198.51.100.11", "ssh-ed25519 AAAAC3Nza host@vm\n"), "198.51.100.11 ssh-ed25519 AAAAC3Nza\n");
  });

  test("failures in one sentence", () => {
    assert.equal(
      readFailure("198.51.100.11", 255, "ssh: connect to host 198.51.100.11 port 22: Connection timed out\n"),
      "unreachable: ssh: connect to host 198.51.100.11 port 22: Connection timed out",
    );
    assert.match(readFailure("198.51.100.11", 255, "Host key verification failed.\n"), /^host key mismatch: 198\.51\.100\.11 did not prove/);
    assert.match(readFailure("198.51.100.11", 255, "coturn-deploy@198.51.100.11: Permission denied (publickey).\n"), /^the metrics read key was refused/);
    assert.match(readFailure("a", 2, "coturn-metrics: this server wants the metrics password (coturn:metricsPassword) on stdin\n"), /^the server wants the metrics password/);
    assert.equal(readFailure("a", 7, "curl: (7) Failed to connect to 127.0.0.1 port 9100\n"), "the metrics exporter on the VM did not answer (curl: (7) Failed to connect to 127.0.0.1 port 9100)");
  });

  test("redaction of the key and the password", () => {
    const key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
    assert.equal(redact("x b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ y pw-0123456789", [key, "pw-0123456789"]), "x <redacted> y <redacted>");
  });
});

describe("stack outputs and config", () => {
  test("metricsAccess of the wrong shape is refused without showing it", () => {
    assert.throws(
      () => parseMetricsAccess("s", JSON.stringify([{ server: "s", privateKey: "SECRET-KEY" }])),
      (error: unknown) => error instanceof StatusInputError && !error.message.includes("SECRET-KEY") && /run `pulumi up` on it with this version/.test(error.message),
    );
  });

  test("scrapers are read from coturn:monitoring.allowedCidrs", () => {
    const raw = (monitoring?: string) => ({ stack: "s", values: (monitoring === undefined ? {} : { "coturn:monitoring": monitoring }) as Record<string, string>, secretKeys: new Set<string>(), opaqueKeys: new Set<string>() });
    assert.equal(stackHasScrapers(raw()), false);
    assert.equal(stackHasScrapers(raw('{"allowedCidrs":[]}')), false);
    assert.equal(stackHasScrapers(raw('{"allowedCidrs":["198.51.100.9/32"]}')), true);
  });
});

describe("bad input exits 2 with the fix", () => {
  const status = (args: string[], env: NodeJS.ProcessEnv = process.env) => spawnSync(process.execPath, ["--import", "tsx", STATUS, ...args], { encoding: "utf8", env, timeout: 30_000 });
  const cases: Array<[string[], RegExp]> = [
    [[], /^status: --stack is missing: give a region stack or a global stack/],
    [["--stack", "aws-example", "--interval", "1"], /^status: --interval 1: use a whole number of seconds from 2 to 300 \(e\.g\. --interval 10\)/],
    [["--stack", "aws-example", "--interval", "301"], /^status: --interval 301: use a whole number of seconds from 2 to 300/],
    [["--stack", "aws-example", "--interval", "ten"], /^status: --interval ten: use a whole number/],
    [["--stack", "aws-example", "--interval", "-5"], /^status: --interval -5: use a whole number/],
    [["--stack", "aws-example", "--watch", "5", "--interval", "10"], /^status: --watch 5 and --interval 10: with --watch the tables are 5 s apart/],
    [["--stack", "aws-example", "--count", "2"], /^status: --count goes with --watch/],
    [["--stack", "aws-example", "--watch", "--count", "0"], /^status: --count 0: use a whole number of tables from 1/],
    [["--stack", "aws-example", "--bogus"], /^status: Unknown option '--bogus'/],
    [["--stack", "no-such-stack"], /^status: .*Pulumi\.no-such-stack\.yaml: no such stack file\. Create the stack with: pulumi stack init no-such-stack/],
    [["--stack", "local"], /^status: stack "local" is the local target, which runs no monitoring/],
  ];
  for (const [args, expected] of cases) {
    test(args.join(" ") || "(no flags)", () => {
      const run = status(args);
      assert.equal(run.status, 2, run.stderr);
      assert.match(run.stderr, expected);
      assert.equal(run.stdout, "");
    });
  }

  test("missing outputs: never deployed, or deployed before metricsAccess existed", () => {
    const fake = createFakePulumi({
      stacks: { "aws-example": { config: {}, outputs: { servers: [{ name: "aws-example", publicIp: "198.51.100.11", domain: "d", instanceId: "i" }] } } },
    });
    try {
      const run = status(["--stack", "aws-example"], fake.env());
      assert.equal(run.status, 2, run.stderr);
      assert.match(
        run.stderr,
        /^status: could not read the metricsAccess output of stack "aws-example" \(error: current stack does not have output property 'metricsAccess'\): run `pulumi up` on stack "aws-example" with this version first/,
      );
      assert.ok(fake.invocations().some((i) => i.argv.join(" ") === "stack output metricsAccess --show-secrets --json --stack aws-example"));
      fake.update((s) => {
        delete s.stacks["aws-example"];
      });
      const gone = status(["--stack", "aws-example"], fake.env());
      assert.equal(gone.status, 2);
      assert.match(gone.stderr, /^status: could not read the servers output of stack "aws-example" \(error: no stack named 'aws-example' found\)/);
    } finally {
      fake.cleanup();
    }
  });
});
