/**
 * The cost estimate: traffic from calls, each cloud's bill (VMs sized for the peak, static IPs, egress beyond free and
 * included allowances), managed TURN billed as each vendor counts bytes, the docs' scenario table from the same code,
 * and `npm run cost` itself (flags, --stack, exit codes).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cloudCost, managedCosts, relayEgressGb, serversForPeak, type CostLoad } from "../src/cost/estimate";
import { CLOUD_PRICES, PRICES_AS_OF } from "../src/cost/prices";
import { COST_SCENARIOS, costScenariosMarkdown } from "../src/cost/scenarios";

const ROOT = join(__dirname, "..");
const SMALL: CostLoad = { callsPerMonth: 10_000, minutesPerCall: 20, participantsPerCall: 2, bitrateKbps: 1000, relayedShare: 0.15 };
const near = (actual: number, expected: number, what: string): void => assert.ok(Math.abs(actual - expected) < 0.005, `${what}: ${actual} vs ${expected}`);

describe("cost estimate", () => {
  test("relayed egress: relayed call-seconds × participants × bitrate", () => {
    // 10,000 × 15% × 20 min × 60 s × 2 × 1 Mbit/s / 8 = 450 GB
    near(relayEgressGb(SMALL), 450, "GB");
  });

  test("a cloud bill: VM and static IP for 730 hours, egress beyond the free allowance", () => {
    const aws = cloudCost({ cloud: "aws", region: "us-east-1", instanceType: "t4g.small", servers: 1 }, SMALL);
    assert.ok(aws);
    near(aws.fixedUsd, 730 * (0.0168 + 0.005), "aws fixed");
    near(aws.billedGb, 350, "aws billed GB (100 free)");
    near(aws.totalUsd, 730 * 0.0218 + 350 * 0.09, "aws total");
    const gcp = cloudCost({ cloud: "gcp", region: "europe-west3", instanceType: "e2-small", servers: 2 }, SMALL);
    assert.ok(gcp);
    near(gcp.fixedUsd, 2 * 730 * (0.0215839 + 0.005), "gcp fixed, two servers in europe-west3");
    near(gcp.billedGb, 449, "gcp billed GB (1 free)");
    const droplet = cloudCost({ cloud: "digitalocean", region: "fra1", instanceType: "s-1vcpu-1gb", servers: 1 }, { ...SMALL, callsPerMonth: 30_000 });
    assert.ok(droplet);
    near(droplet.fixedUsd, 6, "a $6 Droplet, Reserved IP free while assigned");
    near(droplet.billedGb, 350, "1,350 GB less the 1,000 GB included");
    near(droplet.trafficUsd, 3.5, "$0.01/GB");
  });

  test("a region without a shipped price is priced at one that has it, and says so; an unknown size has no price", () => {
    const row = cloudCost({ cloud: "aws", region: "eu-central-1", instanceType: "t4g.small", servers: 1 }, SMALL);
    assert.match(row?.note ?? "", /VM priced at us-east-1 \(no eu-central-1 price shipped\)/);
    assert.equal(cloudCost({ cloud: "aws", region: "us-east-1", instanceType: "m7g.large", servers: 1 }, SMALL), undefined);
  });

  test("managed TURN: Twilio bills bytes sent and received, Cloudflare server-to-client after 1,000 GB free", () => {
    const [twilio, cloudflare] = managedCosts({ ...SMALL, callsPerMonth: 40_000 });
    near(twilio.billedGb, 3600, "Twilio counts both directions");
    near(twilio.totalUsd, 1440, "Twilio $0.40/GB");
    near(cloudflare.billedGb, 800, "1,800 GB less 1,000 free");
    near(cloudflare.totalUsd, 40, "Cloudflare $0.05/GB");
  });

  test("servers for the peak: the busiest hour kept under 70% of each server's sustained bandwidth", () => {
    const load = COST_SCENARIOS[1].load; // 200,000 × 30 min × 15%: 20.5 calls on average, 61.6 at 3×, 123 Mbit/s
    assert.equal(serversForPeak("aws", "t4g.small", load, 3), 2, "128 Mbit/s × 0.7 = 89.6 per server");
    assert.equal(serversForPeak("digitalocean", "s-1vcpu-2gb", load, 3), 1);
    assert.equal(serversForPeak("aws", "t4g.small", load, 3, 3), 3, "never fewer than the stack runs");
    assert.equal(serversForPeak("aws", "m7g.large", load, 3), undefined);
  });

  test("every price names a source; the docs' scenario table is what the code computes today", () => {
    for (const [cloud, prices] of Object.entries(CLOUD_PRICES)) {
      for (const [key, vm] of Object.entries(prices.vms)) assert.match(vm.source.url, /^https:\/\//, `${cloud} ${key}`);
      assert.match(prices.egressSource.url, /^https:\/\//);
      assert.match(prices.staticIpSource.url, /^https:\/\//);
    }
    const page = readFileSync(join(ROOT, "docs", "sizing-and-cost.md"), "utf8");
    assert.ok(page.includes(costScenariosMarkdown()), `docs/sizing-and-cost.md's cost table differs from the code; paste:\n${costScenariosMarkdown()}`);
    assert.ok(page.includes(`as of ${PRICES_AS_OF}`), "docs/sizing-and-cost.md states the prices' date");
  });
});

describe("npm run cost", () => {
  const cost = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "cost.ts"), ...args], { encoding: "utf8", cwd: ROOT });

  test("prints every cloud beside the managed services, with the assumptions and the prices' date", () => {
    const run = cost("--calls", "10000");
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^10,000 calls a month × 20 min, 2 participants at 1000 kbit\/s each way, 15% relayed: 450 GB relayed/);
    for (const option of ["aws t4g.small ×1", "gcp e2-small ×1", "digitalocean s-1vcpu-2gb ×1", "Twilio NTS (US/EU)", "Cloudflare Realtime TURN"]) {
      assert.ok(run.stdout.includes(option), option);
    }
    assert.match(run.stdout, /aws t4g\.small ×1\s+\$15\.91\s+350\s+\$31\.50\s+\$47\.41/);
    assert.match(run.stdout, new RegExp(`List prices as of ${PRICES_AS_OF}`));
  });

  test("--stack prices the stack's cloud and size; --json gives the rows", () => {
    const run = cost("--calls", "10000", "--stack", "gcp-example", "--media", "audio", "--json");
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { rows: Array<{ option: string }>; load: CostLoad };
    assert.deepEqual(report.rows.map((r) => r.option), ["gcp e2-small ×1", "Twilio NTS (US/EU)", "Cloudflare Realtime TURN"]);
    assert.equal(report.load.bitrateKbps, 100);
  });

  test("bad input exits 2 naming the flag, the value and what is allowed", () => {
    const cases: Array<[string[], RegExp]> = [
      [[], /--calls is required/],
      [["--calls", "-5"], /--calls -5: use a whole number from 1 to 1000000000/],
      [["--calls", "10", "--relayed-share", "1.5"], /--relayed-share 1\.5: use a number from 0 to 1/],
      [["--calls", "10", "--media", "4k"], /--media 4k: use one of audio, sd, hd, or --bitrate <kbit\/s>/],
      [["--calls", "10", "--media", "sd", "--bitrate", "500"], /give --media or --bitrate, not both/],
      [["--calls", "10", "--stack", "no-such"], /Pulumi\.no-such\.yaml/],
      [["--calls", "10", "--stack", "global-example"], /coturn:cloud = "global"/],
    ];
    for (const [args, message] of cases) {
      const run = cost(...args);
      assert.equal(run.status, 2, args.join(" "));
      assert.match(run.stderr, message, args.join(" "));
    }
  });
});
