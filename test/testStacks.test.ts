/**
 * `npm run destroy-test-stacks` and `npm run test-stack` for real: the scripts run as child processes with a FAKE
 * `pulumi` first on PATH (test/support/fakePulumi.ts) that answers the Automation API with the CLI's JSON shapes and
 * records every invocation. Asserted: the exact commands, the dry-run default, that a stack without the test-stack
 * marker is never destroyed even with --match '*' --yes, partial failures, expiry across time zones, and bad input.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, test } from "node:test";
import { parse } from "yaml";
import { destroySelected } from "../src/ephemeral/cleanup";
import type { StackBackend } from "../src/ephemeral/pulumiBackend";
import { decide, type ListedStack } from "../src/ephemeral/selection";
import { stackFilePath } from "../src/config/stackFile";
import { PROJECT_DIR } from "../src/pulumiCli/pulumiCli";
import { createFakePulumi, type FakePulumi, type FakeStack, type FakeState } from "./support/fakePulumi";

const HOUR = 3_600_000;
const iso = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString().replace(/\.\d+Z$/, "Z");
const lastUpdate = (agoMs: number): string => new Date(Date.now() - agoMs).toISOString().replace(/\.\d+Z$/, ".000Z");
const testStack = (expiresAt: string, extra: Partial<FakeStack> = {}): FakeStack => ({
  config: {},
  tags: { "coturn:ephemeral": "4h", "coturn:expires-at": expiresAt },
  lastUpdate: lastUpdate(3 * HOUR),
  resourceCount: 14,
  ...extra,
});

/** A backend with a production stack, a lasting stack marked "false", expired and live test stacks. */
function backendState(): FakeState {
  return {
    selected: "production-fra",
    stacks: {
      "production-fra": { config: {}, tags: { "pulumi:project": "coturn" }, lastUpdate: lastUpdate(400 * 24 * HOUR), resourceCount: 14 },
      "staging-fra": { config: {}, tags: { "coturn:ephemeral": "false" }, lastUpdate: lastUpdate(30 * 24 * HOUR), resourceCount: 14 },
      // Expired 30 minutes ago, written with a +05:30 offset.
      "ci-expired": testStack(new Date(Date.now() - 0.5 * HOUR).toISOString().replace(/\.\d+Z$/, "Z").replace(/Z$/, "+00:00")),
      "ci-live": testStack(iso(3 * HOUR)),
      "try-expired": testStack(iso(-26 * HOUR)),
    },
  };
}

let fake: FakePulumi | undefined;
afterEach(() => {
  fake?.cleanup();
  fake = undefined;
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(script: "destroyTestStacks" | "testStack", args: string[], env: NodeJS.ProcessEnv): Run {
  const result = spawnSync(process.execPath, ["--import", "tsx", join(PROJECT_DIR, "scripts", `${script}.ts`), ...args], {
    cwd: PROJECT_DIR,
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * The commands the fake saw, as `pulumi …` lines, without the `--non-interactive` the Automation API appends to every
 * command (checked here once for all).
 */
const commands = (f: FakePulumi): string[] =>
  f.invocations().map((i) => {
    assert.equal(i.argv.at(-1), i.argv[0] === "version" ? "version" : "--non-interactive", i.argv.join(" "));
    assert.equal(i.cwd, PROJECT_DIR);
    return `pulumi ${i.argv.filter((a) => a !== "--non-interactive").join(" ")}`;
  });
const destroyCommands = (f: FakePulumi): string[] => commands(f).filter((c) => c.startsWith("pulumi destroy"));

/** The plan table's action column, by stack. */
function actions(stdout: string): Record<string, string> {
  const rows = stdout.split("\n").filter((line) => /^(production|staging|ci|try)-/.test(line));
  return Object.fromEntries(rows.map((line) => [line.split(/\s+/)[0], /\s(destroy|keep|skip)\s/.exec(line)?.[1] ?? "?"]));
}

const LISTING = [
  "pulumi version",
  "pulumi stack ls --json",
  ...["ci-expired", "ci-live", "production-fra", "staging-fra", "try-expired"].map((s) => `pulumi stack tag ls --json --stack ${s}`),
];
const destroySequence = (stack: string): string[] => [
  `pulumi stack tag ls --json --stack ${stack}`,
  `pulumi stack select --stack ${stack}`,
  `pulumi destroy --yes --skip-preview --exec-kind auto.local --stack ${stack}`,
  `pulumi stack history --json --show-secrets --page-size 1 --page 1 --stack ${stack}`,
  `pulumi stack rm --yes ${stack}`,
];

describe("npm run destroy-test-stacks", () => {
  test("by default prints the plan and destroys nothing: expired test stacks only, judged the same in any time zone", () => {
    fake = createFakePulumi(backendState());
    const results = ["UTC", "Pacific/Kiritimati", "America/Adak", "Asia/Kolkata"].map((tz) => {
      fake?.clearInvocations();
      const result = run("destroyTestStacks", [], fake!.env({ TZ: tz }));
      assert.equal(result.code, 0, result.stderr);
      assert.deepEqual(commands(fake!), LISTING, `${tz}: only the listing`);
      return actions(result.stdout);
    });
    assert.deepEqual(results[0], { "ci-expired": "destroy", "ci-live": "keep", "production-fra": "keep", "staging-fra": "keep", "try-expired": "destroy" });
    for (const other of results.slice(1)) assert.deepEqual(other, results[0]);
    const result = run("destroyTestStacks", [], fake.env());
    assert.match(result.stdout, /production-fra .* keep +not a test stack \(no coturn:ephemeral tag\)/);
    assert.match(result.stdout, /try-expired +4h .* destroy +expired 26h ago/);
    assert.match(result.stdout, /Dry run: nothing was destroyed\. 2 stacks would be destroyed and removed; run again with --yes to do it\./);
    assert.equal(Object.keys(fake.state().stacks).length, 5);
  });

  test("--match '*' --yes destroys every test stack and never a stack without the marker; the selected stack is restored", () => {
    fake = createFakePulumi(backendState());
    const result = run("destroyTestStacks", ["--match", "*", "--yes"], fake.env());
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(commands(fake), [
      ...LISTING,
      ...destroySequence("ci-expired"),
      ...destroySequence("ci-live"),
      ...destroySequence("try-expired"),
      "pulumi stack select --stack production-fra",
    ]);
    assert.ok(!destroyCommands(fake).some((c) => /production|staging/.test(c)), "no lasting stack is destroyed");
    assert.deepEqual(Object.keys(fake.state().stacks).sort(), ["production-fra", "staging-fra"]);
    assert.equal(fake.state().stacks["production-fra"].resourceCount, 14);
    assert.equal(fake.state().selected, "production-fra");
    assert.match(result.stdout, /Destroyed 3, failed 0, skipped 0\./);
    assert.match(result.stderr, /\[1\/3\] ci-expired: destroying \(expired 30m ago\); this takes minutes …/);
  });

  test("one failure does not stop the others; the summary says why and the exit code is 1", () => {
    fake = createFakePulumi(backendState());
    fake.update((s) => {
      s.stacks["ci-expired"].destroyFails =
        'resource "urn:pulumi:ci-expired::coturn::aws:ec2/eip:Eip::ci-expired-ip" cannot be deleted because it is protected.';
    });
    const result = run("destroyTestStacks", ["--yes"], fake.env());
    assert.equal(result.code, 1, result.stderr);
    assert.deepEqual(destroyCommands(fake), ["ci-expired", "try-expired"].map((s) => `pulumi destroy --yes --skip-preview --exec-kind auto.local --stack ${s}`));
    assert.ok(!commands(fake).includes("pulumi stack rm --yes ci-expired"), "a stack whose destroy failed is not removed");
    assert.match(result.stdout, /ci-expired +failed +resource "urn:pulumi:ci-expired::coturn::aws:ec2\/eip:Eip::ci-expired-ip" cannot be deleted because it is protected\./);
    assert.match(result.stdout, /try-expired +destroyed +expired 26h ago/);
    assert.match(result.stdout, /Destroyed 1, failed 1, skipped 0\./);
    assert.deepEqual(Object.keys(fake.state().stacks).sort(), ["ci-expired", "ci-live", "production-fra", "staging-fra"]);
  });

  test("--older-than selects by last update; with --match both must hold", () => {
    fake = createFakePulumi(backendState());
    fake.update((s) => {
      s.stacks["ci-live"].lastUpdate = lastUpdate(0.5 * HOUR);
    });
    assert.deepEqual(actions(run("destroyTestStacks", ["--older-than", "2h"], fake.env()).stdout)["ci-live"], "keep");
    assert.deepEqual(actions(run("destroyTestStacks", ["--older-than", "20m"], fake.env()).stdout)["ci-live"], "destroy");
    assert.deepEqual(actions(run("destroyTestStacks", ["--older-than", "20m", "--match", "try-*"], fake.env()).stdout)["ci-live"], "keep");
  });

  test("bad input gets a clear error naming the flag and value, before any pulumi command", () => {
    fake = createFakePulumi(backendState());
    const cases: Array<[string[], RegExp]> = [
      [["--older-than", "abc"], /--older-than abc: is not a duration: use a whole number and a unit m, h, d or w, e\.g\. 90m, 4h, 2d/],
      [["--older-than", "0h"], /--older-than 0h: is zero: use a positive duration/],
      [["--match", "prod;rm"], /--match "prod;rm": use a stack name pattern of letters, digits, _ \. - \/ and the wildcards \* and \?/],
      [["--force"], /Unknown option '--force'/],
    ];
    for (const [args, message] of cases) {
      const result = run("destroyTestStacks", args, fake.env());
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, message);
      assert.match(result.stderr, /usage: npm run destroy-test-stacks/);
    }
    assert.deepEqual(fake.invocations(), []);
  });

  test("a CLI too old to keep stack tags on a self-managed backend, or none at all, is an error that says what to install", () => {
    fake = createFakePulumi({ ...backendState(), version: "v3.210.1" });
    const old = run("destroyTestStacks", [], fake.env());
    assert.equal(old.code, 2);
    assert.match(old.stderr, /pulumi v3\.210\.1 is older than v3\.211\.0, the first that keeps stack tags on self-managed backends .*Upgrade it: https:\/\/www\.pulumi\.com\/docs\/install\//);
    assert.deepEqual(commands(fake), ["pulumi version"]);
    const missing = run("destroyTestStacks", [], { ...process.env, PATH: join(PROJECT_DIR, "node_modules", ".bin") });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /the pulumi CLI is not on PATH: install it \(https:\/\/www\.pulumi\.com\/docs\/install\/\)/);
  });
});

describe("destroySelected", () => {
  test("reads the tags again before each destroy: a stack marked lasting since the listing is skipped", async () => {
    const destroyed: string[] = [];
    const listed: ListedStack[] = [
      { name: "a", tags: { "coturn:ephemeral": "4h", "coturn:expires-at": "2020-01-01T00:00:00Z" } },
      { name: "b", tags: { "coturn:ephemeral": "4h", "coturn:expires-at": "2020-01-01T00:00:00Z" } },
    ];
    const backend: Pick<StackBackend, "tagsOf" | "destroyAndRemove"> = {
      tagsOf: async (stack) => (stack === "a" ? { "coturn:ephemeral": "false" } : listed[1].tags),
      destroyAndRemove: async (stack) => void destroyed.push(stack),
    };
    const now = new Date("2026-11-22T12:00:00Z");
    const outcomes = await destroySelected(backend as StackBackend, decide(listed, { now }), { now: () => now }, () => undefined);
    assert.deepEqual(destroyed, ["b"]);
    assert.deepEqual(outcomes.map((o) => [o.stack, o.result]), [["a", "skipped"], ["b", "destroyed"]]);
    assert.match(outcomes[0].detail, /its tags changed since the listing: not a test stack/);
  });
});

describe("npm run test-stack", () => {
  const name = `tst-${process.pid}`;
  afterEach(() => rmSync(stackFilePath(name), { force: true }));

  test("down refuses a stack without the marker and an unknown stack; destroys a test stack", () => {
    fake = createFakePulumi(backendState());
    const lasting = run("testStack", ["down", "--stack", "production-fra"], fake.env());
    assert.equal(lasting.code, 2);
    assert.match(lasting.stderr, /production-fra is not destroyed: not a test stack \(no coturn:ephemeral tag\)\. Only test stacks are; a lasting stack is removed with pulumi destroy/);
    const unknown = run("testStack", ["down", "--stack", "nope"], fake.env());
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no stack named "nope" in this project's backend/);
    assert.deepEqual(destroyCommands(fake), []);
    const live = run("testStack", ["down", "--stack", "ci-live"], fake.env());
    assert.equal(live.code, 0, live.stderr);
    assert.deepEqual(destroyCommands(fake), ["pulumi destroy --yes --skip-preview --exec-kind auto.local --stack ci-live"]);
    assert.equal(fake.state().stacks["ci-live"], undefined);
  });

  test("bad input: a TTL of zero, a missing --from, an unknown example, a bad name", () => {
    fake = createFakePulumi(backendState());
    const cases: Array<[string[], RegExp]> = [
      [["up", "--from", "aws-example", "--ttl", "0h"], /--ttl 0h: is zero: use a positive duration/],
      [["up", "--from", "aws-example", "--ttl", "soon"], /--ttl soon: is not a duration/],
      [["run"], /run needs --from <example stack>, e.g\. --from aws-example/],
      [["up", "--from", "aws-example", "--name", "Bad_Name"], /--name "Bad_Name": use lowercase letters, digits and -/],
      [["down"], /down needs --stack <name>/],
      [["deploy"], /"deploy" is not up, down or run/],
    ];
    for (const [args, message] of cases) {
      const result = run("testStack", args, fake.env());
      assert.equal(result.code, 2, args.join(" "));
      assert.match(result.stderr, message);
    }
    assert.deepEqual(fake.invocations(), []);
    const unknown = run("testStack", ["up", "--from", "nope", "--name", name], fake.env());
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /stacks\/Pulumi\.nope\.yaml: no such stack file/);
    assert.deepEqual(commands(fake), ["pulumi version"], "nothing was created");
  });

  test("run: a uniquely named test stack from the example file, up, probe, and down even when the probe fails", () => {
    fake = createFakePulumi(backendState());
    const before = Date.now();
    const result = run("testStack", ["run", "--from", "aws-example", "--name", name, "--ttl", "3h"], fake.env());
    assert.equal(result.code, 1, "the probe cannot open the example's secrets (no passphrase), so the run fails");
    assert.match(result.stderr, /Wrote .*stacks\/Pulumi\.tst-\d+\.yaml: a copy of aws-example with time to live 3h \(expires \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\), DNS name tst-\d+\.turn\.example\.com, VM t4g\.micro/);
    assert.match(result.stderr, /probe: .*PULUMI_CONFIG_PASSPHRASE/);
    const issued = commands(fake);
    assert.deepEqual(issued.slice(0, 3), ["pulumi version", `pulumi stack init ${name}`, `pulumi stack tag set coturn:ephemeral 3h --stack ${name}`]);
    assert.match(issued[3], new RegExp(`^pulumi stack tag set coturn:expires-at (\\S+) --stack ${name}$`));
    const expiry = Date.parse(/coturn:expires-at (\S+)/.exec(issued[3])?.[1] ?? "");
    assert.ok(expiry >= before + 3 * HOUR - 1000 && expiry <= Date.now() + 3 * HOUR, "expires 3 h after the run started");
    assert.deepEqual(issued.slice(4), [
      `pulumi stack select --stack ${name}`,
      `pulumi up --yes --skip-preview --exec-kind auto.local --stack ${name}`,
      // The Automation API reads the outputs and the update's summary itself.
      `pulumi stack output --json --stack ${name}`,
      `pulumi stack output --json --show-secrets --stack ${name}`,
      `pulumi stack history --json --show-secrets --page-size 1 --page 1 --stack ${name}`,
      "pulumi stack ls --json",
      ...["ci-expired", "ci-live", "production-fra", "staging-fra", name, "try-expired"].sort().map((s) => `pulumi stack tag ls --json --stack ${s}`),
      ...destroySequence(name),
    ]);
    assert.equal(fake.state().stacks[name], undefined, "the test stack is gone");
    assert.equal(existsSync(stackFilePath(name)), false, "and so is its stack file");
    assert.equal(Object.keys(fake.state().stacks).length, 5, "every other stack is untouched");
  });

  test("up writes the test stack's file: the example's config and secrets, its TTL and tags, its own name, no shared record, the smallest VM", () => {
    fake = createFakePulumi(backendState());
    const result = run("testStack", ["up", "--from", "aws-example", "--name", name, "--ttl", "90m"], fake.env());
    assert.equal(result.code, 1, "the probe fails without the passphrase");
    assert.match(result.stdout, /Remove it with: npm run test-stack -- down --stack tst-\d+/);
    const file = parse(readFileSync(stackFilePath(name), "utf8")) as { encryptionsalt: string; config: Record<string, unknown> };
    const example = parse(readFileSync(stackFilePath("aws-example"), "utf8")) as { encryptionsalt: string; config: Record<string, unknown> };
    assert.equal(file.encryptionsalt, example.encryptionsalt, "the secrets travel with the salt");
    const { "coturn:instanceType": _size, ...kept } = example.config;
    assert.deepEqual(file.config, {
      ...kept,
      "coturn:ephemeral": "90m",
      "pulumi:tags": { "coturn:ephemeral": "90m", "coturn:expires-at": fake.state().stacks[name].tags?.["coturn:expires-at"] },
      "coturn:regionDomain": `${name}.turn.example.com`,
      "coturn:publishSharedName": false,
    });
    assert.equal(fake.state().stacks[name].tags?.["coturn:ephemeral"], "90m");
  });
});

