/**
 * `npm run rotate` and `npm run mint` for real: scripts/rotate.ts and scripts/mint.ts run as child processes with a
 * FAKE `pulumi` first on PATH (test/support/fakePulumi.ts), which holds an AWS stack like stacks/Pulumi.aws-example.yaml
 * with plaintext test secrets and records every invocation.
 *
 * - the exact pulumi commands, in order, run in the project folder; no argv ever holds a secret, and secrets reach
 *   pulumi only on stdin with --secret;
 * - a whole rotation: add -> (pulumi up) -> apps switched -> drop, the drop refused before the window, allowed after
 *   it and with --force; an add interrupted after its first write is finished by the next run;
 * - mint's output is what `npm run probe -- --ice-servers` reads, and its credential verifies under the active secret;
 * - refusals (exit 1) and bad input (exit 2) with clear errors, before any pulumi command where the input alone is
 *   wrong;
 * - the PulumiCli wrapper itself against the fake, including `--path` writes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import type { Listener } from "../src/config/schema";
import { secretFingerprint, verifyTurnCredential } from "../src/credentials/turnRest";
import { iceServersTemplate, turnUrls } from "../src/plan/endpoints";
import { parseIceServers } from "../src/probe/target";
import { PROJECT_DIR, PulumiCli, PulumiCliError } from "../src/pulumiCli/pulumiCli";
import { createFakePulumi, type FakePulumi, type FakeStack, type FakeState, type Invocation } from "./support/fakePulumi";

const ROOT = join(__dirname, "..");
const STACK = "aws-test";
/** Test-only secrets of 48 characters, as `npm run rotate` generates them. */
const OLD_SECRET = "Old-test-secret-abcdefghijklmnopqrstuvwxyz012345";
const OLDER_SECRET = "Older-test-secret-abcdefghijklmnopqrstuvwxyz0123";
const fp = secretFingerprint;
const LISTENERS: Listener[] = ["udp", "tcp", "tls", "dtls", "tls-443"];

/** The AWS example's config as `pulumi config` holds it, with a plaintext test secret. */
function awsStack(config: Record<string, FakeStack["config"][string]> = {}, outputs?: Record<string, unknown>): FakeStack {
  const endpoints = { domain: "turn.example.com", listeners: new Set(LISTENERS) };
  return {
    config: {
      "coturn:cloud": { value: "aws" },
      "coturn:region": { value: "eu-central-1" },
      "coturn:domain": { value: "turn.example.com" },
      "coturn:authSecret": { value: OLD_SECRET, secret: true },
      "coturn:instanceType": { value: "t4g.small" },
      "coturn:image": { value: "debian-12" },
      "coturn:listeners": { value: LISTENERS },
      "coturn:relayPorts": { value: "49152-65535" },
      "coturn:tlsMode": { value: "self-signed" },
      "coturn:quotas": { value: { allocationsPerUser: 12, bytesPerSecondPerAllocation: 2500000 } },
      "coturn:ssh": { value: { allowedCidrs: ["203.0.113.7/32"] } },
      "coturn:tags": { value: { team: "realtime" } },
      "aws:region": { value: "eu-central-1" },
      ...config,
    },
    outputs: outputs ?? {
      publicIp: "198.51.100.20",
      domain: "turn.example.com",
      regionDomain: "eu-central-1.turn.example.com",
      dnsRecords: ["eu-central-1.turn.example.com", "turn.example.com"].map((name) => ({ name, type: "A", content: "198.51.100.20", ttl: 60, managedBy: "you" })),
      urls: turnUrls(endpoints).map((u) => u.url),
      iceServers: iceServersTemplate(endpoints),
      instanceId: "i-0123456789abcdef0",
      imageName: "debian-12-arm64-20261101-1234",
      acceptedSecretFingerprints: [fp(OLD_SECRET)],
    },
  };
}

function initialState(): FakeState {
  return {
    stacks: {
      [STACK]: awsStack(),
      "aws-short": awsStack({ "coturn:maxCredentialTtl": { value: "3600" } }),
      "aws-new": awsStack({}, {}),
      "aws-old-program": awsStack({}, { ...awsStack().outputs, acceptedSecretFingerprints: undefined }),
      "local-dev": { config: { "coturn:cloud": { value: "local" }, "coturn:domain": { value: "turn.localhost.test" } } },
      "aws-plaintext": awsStack({ "coturn:authSecret": { value: OLD_SECRET, secret: false } }),
    },
  };
}

/** One run of a script. */
interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The pulumi commands it issued. */
  readonly calls: Invocation[];
}

let fake: FakePulumi;
/** Every output of every run, checked for secrets at the end. */
const outputs: string[] = [];
/** Every secret the stacks held at any point. */
const secretsSeen = new Set<string>([OLD_SECRET, OLDER_SECRET]);

function run(script: "rotate" | "mint", args: string[], env?: NodeJS.ProcessEnv): Run {
  const before = fake.invocations().length;
  // From test/, so the commands must find the project folder on their own.
  const result = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", `${script}.ts`), ...args], {
    cwd: join(ROOT, "test"),
    env: env ?? fake.env(),
    encoding: "utf8",
    timeout: 60_000,
  });
  outputs.push(result.stdout, result.stderr);
  for (const stack of Object.values(fake.state().stacks)) {
    for (const key of ["coturn:authSecret", "coturn:previousAuthSecrets"]) {
      const stored = stack.config[key]?.value;
      // previousAuthSecrets is JSON text when npm run rotate wrote it, a list when set with --path.
      const value: unknown = typeof stored === "string" && key.endsWith("previousAuthSecrets") ? JSON.parse(stored) : stored;
      for (const secret of typeof value === "string" ? [value] : Array.isArray(value) ? value : []) secretsSeen.add(String(secret));
    }
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: fake.invocations().slice(before) };
}

const argvs = (calls: Invocation[]): string[][] => calls.map((c) => c.argv);
const READ_CONFIG = (stack = STACK) => ["config", "--json", "--show-secrets", "--stack", stack];
const READ_OUTPUTS = (stack = STACK) => ["stack", "output", "--json", "--stack", stack];

function config(stack = STACK): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fake.state().stacks[stack].config).map(([k, v]) => [k, v.value]));
}

/** What `pulumi up` would leave: the outputs report the fingerprints of the secrets now in config. */
function simulateUp(stack = STACK): void {
  fake.update((state) => {
    const c = state.stacks[stack].config;
    const previous = c["coturn:previousAuthSecrets"]?.value;
    const list = typeof previous === "string" ? (JSON.parse(previous) as string[]) : ((previous as string[] | undefined) ?? []);
    const secrets = [String(c["coturn:authSecret"].value), ...list];
    state.stacks[stack].outputs = { ...state.stacks[stack].outputs, acceptedSecretFingerprints: secrets.map(fp) };
  });
}

before(() => {
  fake = createFakePulumi(initialState());
});
after(() => {
  fake.cleanup();
});

describe("npm run rotate: a whole rotation through the pulumi CLI", () => {
  let newSecret = "";

  test("add: reads config and outputs, then writes previousAuthSecrets, authSecret, rotation (secrets on stdin, --secret)", () => {
    const r = run("rotate", ["--stack", STACK]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls), [
      READ_CONFIG(),
      READ_OUTPUTS(),
      ["config", "set", "coturn:previousAuthSecrets", "--stack", STACK, "--secret"],
      ["config", "set", "coturn:authSecret", "--stack", STACK, "--secret"],
      ["config", "set", "coturn:rotation", "--stack", STACK, "--plaintext"],
    ]);
    for (const call of r.calls) assert.equal(call.cwd, PROJECT_DIR, "pulumi runs in the project folder");
    assert.equal(PROJECT_DIR, ROOT);
    assert.deepEqual(JSON.parse(r.calls[2].stdin ?? ""), [OLD_SECRET]);
    newSecret = r.calls[3].stdin ?? "";
    assert.match(newSecret, /^[A-Za-z0-9_-]{48}$/);
    assert.notEqual(newSecret, OLD_SECRET);
    const rotation = JSON.parse(r.calls[4].stdin ?? "") as { phase: string; addedAt: string };
    assert.equal(rotation.phase, "added");
    assert.ok(Math.abs(Date.parse(rotation.addedAt) - Date.now()) < 60_000);

    assert.deepEqual(config()["coturn:previousAuthSecrets"], JSON.stringify([OLD_SECRET]));
    assert.equal(config()["coturn:authSecret"], newSecret);
    assert.equal(fake.state().stacks[STACK].config["coturn:authSecret"].secret, true);
    assert.equal(fake.state().stacks[STACK].config["coturn:previousAuthSecrets"].secret, true);

    // One progress line on stderr per pulumi command.
    assert.equal(r.stderr.split("\n").filter((l) => l.startsWith("rotate: ")).length, 5);
    assert.match(r.stderr, /^rotate: Reading the config of stack "aws-test" \(pulumi config --json --show-secrets --stack aws-test\) …$/m);
    assert.match(r.stdout, /role\s+fingerprint\s+accepted by deployed server/);
    assert.match(r.stdout, new RegExp(`active\\s+${fp(newSecret)}\\s+no`));
    assert.match(r.stdout, new RegExp(`previous\\s+${fp(OLD_SECRET)}\\s+yes`));
    assert.match(r.stdout, /Next:\n\s+1\. pulumi up --stack aws-test: .*\n\s+2\. .*\n\s+3\. When every app mints with it: npm run rotate -- --stack aws-test --apps-switched/);
  });

  test("before pulumi up: mint and --apps-switched are refused (the server would answer 401); no config is written", () => {
    const mint = run("mint", ["--stack", STACK]);
    assert.equal(mint.status, 1);
    assert.match(mint.stderr, new RegExp(`does not accept the active secret ${fp(newSecret)} yet .*401.*Run pulumi up --stack aws-test`));
    assert.equal(mint.stdout, "");

    const r = run("rotate", ["--stack", STACK, "--apps-switched"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /refused: The server does not accept the new secret [0-9a-f]{16} yet: run pulumi up --stack aws-test/);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG(), READ_OUTPUTS()]);
  });

  test("without flags in phase added: status and the next step, exit 0, nothing written", () => {
    const r = run("rotate", ["--stack", STACK]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG(), READ_OUTPUTS()]);
    assert.match(r.stdout, /phase added/);
    assert.match(r.stdout, /1\. pulumi up --stack aws-test/);
  });

  test("after pulumi up: mint works with the new secret, and --apps-switched records the switch", () => {
    simulateUp();
    const mint = run("mint", ["--stack", STACK]);
    assert.equal(mint.status, 0, mint.stderr);
    const parsed = parseIceServers(mint.stdout, "mint");
    assert.equal(verifyTurnCredential([newSecret], parsed.username, parsed.password), true);

    const r = run("rotate", ["--stack", STACK, "--apps-switched"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG(), READ_OUTPUTS(), ["config", "set", "coturn:rotation", "--stack", STACK, "--plaintext"]]);
    const rotation = JSON.parse(String(config()["coturn:rotation"])) as { phase: string; switchedAt: string };
    assert.equal(rotation.phase, "switched");
    const earliest = new Date(Date.parse(rotation.switchedAt) + 86_400_000).toISOString().replace(".000Z", "Z");
    assert.match(r.stdout, new RegExp(`can be dropped from ${earliest} \\(UTC, in 24h 0m`));
    assert.match(r.stdout, new RegExp(`accepted by deployed server[\\s\\S]*active\\s+${fp(newSecret)}\\s+yes[\\s\\S]*previous\\s+${fp(OLD_SECRET)}\\s+yes`));
  });

  test("drop before switchedAt + maxCredentialTtl: refused (exit 1), naming the time left and the earliest UTC time", () => {
    const r = run("rotate", ["--stack", STACK]);
    assert.equal(r.status, 1);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG(), READ_OUTPUTS()]);
    assert.match(r.stderr, /rotate: refused: Too early to drop the old secret\(s\) [0-9a-f]{16}: .* (23h 59m|24h 0m) left: the earliest time is \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(UTC\)/);
    assert.match(r.stdout, /or now with --force/);
  });

  test("drop with --force: removes previousAuthSecrets, then the rotation record", () => {
    const saved = fake.state();
    const r = run("rotate", ["--stack", STACK, "--force"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls), [
      READ_CONFIG(),
      READ_OUTPUTS(),
      ["config", "rm", "coturn:previousAuthSecrets", "--stack", STACK],
      ["config", "rm", "coturn:rotation", "--stack", STACK],
    ]);
    assert.match(r.stdout, /\(forced, /);
    assert.equal(config()["coturn:previousAuthSecrets"], undefined);
    assert.equal(config()["coturn:rotation"], undefined);
    fake.setState(saved);
  });

  test("drop after the window (switchedAt in the past, stored with a time-zone offset): allowed, next step pulumi up", () => {
    fake.update((state) => {
      const c = state.stacks[STACK].config;
      const rotation = JSON.parse(String(c["coturn:rotation"].value)) as Record<string, string>;
      // 25 hours ago, written as local time at +02:00.
      const past = new Date(Date.now() - 25 * 3_600_000 + 2 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, "+02:00");
      c["coturn:rotation"] = { value: JSON.stringify({ ...rotation, switchedAt: past }) };
    });
    const r = run("rotate", ["--stack", STACK]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls).slice(2), [
      ["config", "rm", "coturn:previousAuthSecrets", "--stack", STACK],
      ["config", "rm", "coturn:rotation", "--stack", STACK],
    ]);
    assert.doesNotMatch(r.stdout, /forced/);
    assert.match(r.stdout, new RegExp(`1\\. pulumi up --stack aws-test: the server then accepts only ${fp(newSecret)}; credentials minted with the old secret\\(s\\) get 401`));
    assert.deepEqual(Object.keys(config()).filter((k) => k.includes("Secret") || k.includes("rotation")), ["coturn:authSecret"]);
  });

  test("--status after pulumi up: idle, only reads", () => {
    simulateUp();
    const r = run("rotate", ["--stack", STACK, "--status"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG(), READ_OUTPUTS()]);
    assert.match(r.stdout, /No rotation in progress on stack aws-test/);
    assert.match(r.stdout, new RegExp(`active\\s+${fp(newSecret)}\\s+yes`));
  });
});

describe("npm run rotate: interrupted runs and refusals", () => {
  beforeEach(() => fake.setState(initialState()));

  test("an add interrupted after its first write is finished by the next run", () => {
    fake.update((state) => {
      state.stacks[STACK].config["coturn:previousAuthSecrets"] = { value: JSON.stringify([OLD_SECRET, OLDER_SECRET]), secret: true };
    });
    const r = run("rotate", ["--stack", STACK]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /an earlier run was interrupted after its first write\. Finishing it\./);
    assert.deepEqual(JSON.parse(r.calls[2].stdin ?? ""), [OLD_SECRET, OLDER_SECRET]);
    assert.deepEqual(JSON.parse(String(config()["coturn:previousAuthSecrets"])), [OLD_SECRET, OLDER_SECRET]);
    assert.notEqual(config()["coturn:authSecret"], OLD_SECRET);
  });

  test("a local stack is refused (exit 1): nothing to rotate", () => {
    const r = run("rotate", ["--stack", "local-dev"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /rotate: refused: stack local-dev has coturn:cloud local: npm run local makes a fresh secret on each run/);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG("local-dev")]);
  });

  test("an invalid config is refused (exit 1) with validation's message, and nothing is written", () => {
    const r = run("rotate", ["--stack", "aws-plaintext"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /coturn:authSecret = \(not shown\): is stored in plain text\. Set it again encrypted/);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG("aws-plaintext")]);
  });

  test("--apps-switched with no rotation in progress is refused", () => {
    const r = run("rotate", ["--stack", STACK, "--apps-switched"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /No rotation is in progress on stack aws-test, so there is no switch to record/);
    assert.equal(r.calls.length, 2);
  });
});

describe("npm run mint", () => {
  beforeEach(() => fake.setState(initialState()));

  test("prints the iceServers JSON that probe reads; its credential verifies under the active secret; expiry on stderr", () => {
    const r = run("mint", ["--stack", STACK, "--user", "alice", "--ttl", "600"]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(argvs(r.calls), [READ_CONFIG(), READ_OUTPUTS()]);
    const servers = JSON.parse(r.stdout) as { urls: string[]; username: string; credential: string }[];
    assert.deepEqual(
      servers.map((s) => Object.keys(s)),
      [["urls", "username", "credential"]],
      "the shape npm run local -- --json prints",
    );
    assert.deepEqual(servers[0].urls, [
      "turn:turn.example.com:3478?transport=udp",
      "turn:turn.example.com:3478?transport=tcp",
      "turns:turn.example.com:5349?transport=tcp",
      "turns:turn.example.com:443?transport=tcp",
    ]);
    const parsed = parseIceServers(r.stdout, "mint output");
    assert.equal(parsed.host, "turn.example.com");
    assert.deepEqual(parsed.transports, ["udp", "tcp", "tls"]);
    assert.match(parsed.username, /^\d+:alice$/);
    const expiry = Number(parsed.username.split(":")[0]);
    assert.ok(Math.abs(expiry - (Date.now() / 1000 + 600)) < 30, "expires in --ttl seconds");
    assert.equal(verifyTurnCredential([OLD_SECRET], parsed.username, parsed.password), true);
    assert.equal(verifyTurnCredential([OLDER_SECRET], parsed.username, parsed.password), false);
    assert.match(r.stderr, new RegExp(`credential for user alice, minted with secret ${fp(OLD_SECRET)}; it expires at \\S+Z \\(UTC, in 10m\\)`));
  });

  test("--ttl up to the stack's maxCredentialTtl is accepted", () => {
    const r = run("mint", ["--stack", "aws-short", "--ttl", "3600"]);
    assert.equal(r.status, 0, r.stderr);
  });

  test("a stack never deployed: refused (exit 1), run pulumi up", () => {
    const r = run("mint", ["--stack", "aws-new"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mint: refused: stack aws-new has no iceServers output: it has not been deployed .* Run pulumi up --stack aws-new/);
    assert.equal(r.stdout, "");
  });

  test("a deployment without acceptedSecretFingerprints: refused, run pulumi up", () => {
    const r = run("mint", ["--stack", "aws-old-program"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /has no acceptedSecretFingerprints output, so whether its server accepts the active secret [0-9a-f]{16} is unknown\. Run pulumi up --stack aws-old-program/);
  });

  test("a local stack: refused, pointing at npm run local", () => {
    const r = run("mint", ["--stack", "local-dev"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /npm run --silent local -- --json/);
  });
});

describe("bad input: a clear error and exit 2", () => {
  beforeEach(() => fake.setState(initialState()));
  const cases: { script: "rotate" | "mint"; args: string[]; message: RegExp; pulumiCalls: number }[] = [
    { script: "rotate", args: [], message: /^rotate: --stack is required: name the stack whose secret to rotate/, pulumiCalls: 0 },
    { script: "mint", args: [], message: /^mint: --stack is required: name the deployed stack to mint for/, pulumiCalls: 0 },
    { script: "rotate", args: ["--stack", "nosuch"], message: /^rotate: `pulumi config --json --show-secrets --stack nosuch` failed: error: no stack named 'nosuch' found \(exit code 6\)\. List the stacks of this project with: pulumi stack ls/, pulumiCalls: 1 },
    { script: "mint", args: ["--stack", "nosuch"], message: /^mint: `pulumi config --json --show-secrets --stack nosuch` failed: error: no stack named 'nosuch' found/, pulumiCalls: 1 },
    { script: "mint", args: ["--stack", STACK, "--ttl", "abc"], message: /^mint: --ttl "abc" is not a whole number of seconds: use a whole number of seconds from 1 to 86400 \(a day\), e\.g\. --ttl 3600 for one hour$/m, pulumiCalls: 0 },
    { script: "mint", args: ["--stack", STACK, "--ttl", "0"], message: /^mint: --ttl "0" is not positive: use a whole number of seconds from 1 to 86400/, pulumiCalls: 0 },
    { script: "mint", args: ["--stack", STACK, "--ttl=-5"], message: /^mint: --ttl "-5" is not a whole number of seconds/, pulumiCalls: 0 },
    { script: "mint", args: ["--stack", STACK, "--ttl", "90000"], message: /^mint: --ttl "90000" is too long: use a whole number of seconds from 1 to 86400 \(a day\)/, pulumiCalls: 0 },
    { script: "mint", args: ["--stack", "aws-short", "--ttl", "7200"], message: /^mint: --ttl 7200 is above coturn:maxCredentialTtl of stack aws-short \(3600 s\).*Use --ttl 3600 or less, or raise the limit: pulumi config set coturn:maxCredentialTtl 7200 --stack aws-short/, pulumiCalls: 1 },
    { script: "mint", args: ["--stack", STACK, "--user", "a:b"], message: /^mint: --user "a:b": user "a:b" is not a valid user id: use a non-empty id without ':' or whitespace/, pulumiCalls: 0 },
    { script: "mint", args: ["--stack", STACK, "--user", ""], message: /^mint: --user "": user "" is not a valid user id/, pulumiCalls: 0 },
    { script: "mint", args: ["--stack", STACK, "extra"], message: /^mint: Unexpected argument 'extra'/, pulumiCalls: 0 },
    { script: "rotate", args: ["--stack", STACK, "--bogus"], message: /^rotate: Unknown option '--bogus'/, pulumiCalls: 0 },
    { script: "rotate", args: ["--stack", STACK, "--status", "--force"], message: /^rotate: --status only prints the state; give it without --apps-switched or --force/, pulumiCalls: 0 },
    { script: "rotate", args: ["--stack", STACK, "--apps-switched", "--force"], message: /^rotate: --apps-switched and --force belong to different steps/, pulumiCalls: 0 },
    { script: "rotate", args: ["--stack", "bad name;rm"], message: /"bad name;rm" is not a stack name \(letters, digits, - _ \. \/ only\); nothing was run/, pulumiCalls: 0 },
  ];
  for (const { script, args, message, pulumiCalls } of cases) {
    test(`${script} ${args.map((a) => JSON.stringify(a)).join(" ") || "(no flags)"}`, () => {
      const r = run(script, args);
      assert.equal(r.status, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.match(r.stderr.split("\n").filter((l) => !l.endsWith(" …")).join("\n"), message);
      assert.equal(r.stdout, "");
      assert.equal(r.calls.length, pulumiCalls, `pulumi commands: ${JSON.stringify(argvs(r.calls))}`);
    });
  }

  test("no pulumi on PATH: says it is not installed and where to get it", () => {
    const empty = mkdtempSync(join(tmpdir(), "no-pulumi-"));
    try {
      for (const script of ["rotate", "mint"] as const) {
        const r = run(script, ["--stack", STACK], { ...process.env, PATH: empty });
        assert.equal(r.status, 2, r.stderr);
        assert.match(r.stderr, /the Pulumi CLI is not installed \(no `pulumi` on PATH\)\. Install it \(https:\/\/www\.pulumi\.com\/docs\/install\/\)/);
      }
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe("PulumiCli against the fake", () => {
  beforeEach(() => fake.setState(initialState()));
  const lines: string[] = [];
  const cli = () => new PulumiCli({ env: fake.env(), log: (line) => lines.push(line) });

  test("readStackConfig gives validation's raw form: text values, JSON text for lists and objects, secret keys marked", () => {
    const raw = cli().readStackConfig(STACK);
    assert.equal(raw.stack, STACK);
    assert.equal(raw.values["coturn:authSecret"], OLD_SECRET);
    assert.equal(raw.values["coturn:listeners"], JSON.stringify(LISTENERS));
    assert.equal(raw.values["coturn:ssh"], JSON.stringify({ allowedCidrs: ["203.0.113.7/32"] }));
    assert.deepEqual([...raw.secretKeys], ["coturn:authSecret"]);
    assert.equal(raw.opaqueKeys, undefined);
  });

  test("setConfig --path writes list items and object fields, values from stdin, typed as pulumi types them", () => {
    const c = cli();
    c.setConfig(STACK, "coturn:previousAuthSecrets[0]", OLDER_SECRET, { secret: true, path: true });
    c.setConfig(STACK, "coturn:rotation.phase", "added", { secret: false, path: true });
    c.setConfig(STACK, "coturn:quotas.allocationsPerUser", "20", { secret: false, path: true });
    c.setConfig(STACK, "coturn:ssh.allowedCidrs[1]", "198.51.100.0/24", { secret: false, path: true });
    const calls = fake.invocations().slice(-4);
    assert.deepEqual(calls[0].argv, ["config", "set", "coturn:previousAuthSecrets[0]", "--stack", STACK, "--secret", "--path"]);
    assert.equal(calls[0].stdin, OLDER_SECRET);
    const raw = c.readStackConfig(STACK);
    assert.equal(raw.values["coturn:previousAuthSecrets"], JSON.stringify([OLDER_SECRET]));
    assert.ok(raw.secretKeys.has("coturn:previousAuthSecrets"));
    assert.equal(raw.values["coturn:rotation"], JSON.stringify({ phase: "added" }));
    assert.deepEqual(JSON.parse(raw.values["coturn:quotas"]), { allocationsPerUser: 20, bytesPerSecondPerAllocation: 2500000 });
    assert.deepEqual(JSON.parse(raw.values["coturn:ssh"]), { allowedCidrs: ["203.0.113.7/32", "198.51.100.0/24"] });

    c.removeConfig(STACK, "coturn:ssh.allowedCidrs[0]", { path: true });
    c.removeConfig(STACK, "coturn:rotation");
    const after = c.readStackConfig(STACK);
    assert.deepEqual(JSON.parse(after.values["coturn:ssh"]), { allowedCidrs: ["198.51.100.0/24"] });
    assert.equal(after.values["coturn:rotation"], undefined);
  });

  test("readStackOutputs: the outputs, {} for a stack never deployed", () => {
    assert.equal(cli().readStackOutputs(STACK).publicIp, "198.51.100.20");
    assert.deepEqual(cli().readStackOutputs("aws-new"), {});
  });

  test("errors name the command and pulumi's stderr, and never the value that was on stdin", () => {
    assert.throws(
      () => cli().setConfig(STACK, "coturn:authSecret[3]", OLD_SECRET, { secret: true, path: true }),
      (error: unknown) => {
        assert.ok(error instanceof PulumiCliError);
        assert.equal(error.failure, "failed");
        assert.match(error.message, /^`pulumi config set coturn:authSecret\[3\] --stack aws-test --secret --path` failed: error: /);
        assert.ok(!error.message.includes(OLD_SECRET));
        return true;
      },
    );
    assert.throws(() => cli().readStackOutputs("nosuch"), (error: unknown) => error instanceof PulumiCliError && error.failure === "no-stack");
  });

  test("the fake fails loudly on a command it does not know", () => {
    assert.throws(() => cli().run(["stack", "export", "--stack", STACK], "Exporting"), /fake pulumi: unsupported command/);
    assert.equal(cli().version(), "v3.248.0");
    assert.ok(lines.includes("Checking the Pulumi CLI (pulumi version)"));
  });
});

describe("secrets never leave stdin", () => {
  test("no recorded argv, output or error line of any run holds a secret; secrets reached pulumi only with --secret", () => {
    const calls = fake.invocations();
    assert.ok(calls.length > 20, "the tests above ran commands");
    for (const secret of secretsSeen) {
      assert.equal(secret.length, 48);
      for (const call of calls) {
        for (const arg of call.argv) assert.ok(!arg.includes(secret), `argv holds a secret: ${JSON.stringify(call.argv)}`);
        if (call.stdin?.includes(secret)) assert.ok(call.argv.includes("--secret"), `a secret on stdin without --secret: ${JSON.stringify(call.argv)}`);
      }
      for (const text of outputs) assert.ok(!text.includes(secret), `a secret was printed:\n${text}`);
    }
  });
});
