/**
 * The benchmark's pure parts and its command line (the measurements themselves are `npm run bench`, never timed
 * assertions here): the minimal config is production cut down and nothing else, the statistics, the flag checks,
 * and the start-up floor program running under the same mock harness as the real program.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { maxBytesPerSecond, minimalConf, MINIMAL_OPTIONS, optionLines, optionName, productionOnlyLines } from "../lab/bench/relayConfigs";
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
