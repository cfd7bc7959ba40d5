/**
 * `npm run local` for real: scripts/local.ts starts the installed coturn inside a network namespace of this test's
 * own (so its ports never clash with the machine's), and real TURN clients (werift-ice, as child processes in the
 * namespace, through `npm run probe`) allocate relays with the printed credentials over UDP, TCP and TLS and relay
 * to each other.
 *
 * - the printed iceServers work, the credential is minted from the run's secret, which is never printed and sits
 *   only in a 0600 turnserver.conf; Chromium's SPKI flag matches the served certificate;
 * - SIGINT and SIGTERM stop coturn and remove the temp folder, leaving nothing running in the namespace;
 * - a busy port, a bad --listen, --ttl, --user or flag give a clear error and exit code 2 before coturn starts;
 * - it runs as an ordinary user (nobody) on a non-loopback address, relay to relay included;
 * - when coturn dies on its own, the command shows its log and exits 1.
 *
 * Needs root (network namespaces, and setpriv to become nobody), coturn and openssl. The namespace is deleted and
 * every process this file started is killed by its pid after each test, so a failing test leaves nothing behind.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import { verifyTurnCredential } from "../src/credentials/turnRest";
import { LOCAL_SECRET_LENGTH } from "../src/local/localStack";
import { spkiSha256 } from "../src/local/selfSigned";

const ROOT = join(__dirname, "..");
const SCRIPT = join(ROOT, "scripts", "local.ts");
const PROBE = join(ROOT, "scripts", "probe.ts");
/** This file's namespace: loopback plus a veth pair, one end with a second, non-loopback address. */
const NS = `ctlocal${process.pid}`;
const OTHER_IP = "10.200.0.1";
/** How long the command may take to print its status line (node + tsx + openssl + coturn startup). */
const START_MS = 20_000;

/** Every process this file started, stopped by pid after each test. */
const started: ChildProcess[] = [];

/** Kills, by pid, every process this file started that still runs, and anything left in the namespace. */
function killLeftovers(): void {
  const running = started.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid);
  for (const pid of [...running, ...namespacePids()]) {
    if (pid === undefined) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

function ip(...args: string[]): string {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

function namespacePids(): number[] {
  return spawnSync("ip", ["netns", "pids", NS], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).map(Number);
}

function coturnTempDirs(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith("coturn-local-"));
}

/** A run of scripts/local.ts inside the namespace. */
interface LocalRun {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Exit code, or the signal name. */
  readonly exited: Promise<number | string>;
}

function startLocal(args: readonly string[], options: { asNobody?: boolean } = {}): LocalRun {
  const become = options.asNobody ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] : [];
  const child = spawn("ip", ["netns", "exec", NS, ...become, process.execPath, "--import", "tsx", SCRIPT, ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Runs the command to its end (for runs that must fail before coturn starts). */
async function runLocal(args: readonly string[]): Promise<{ status: number | string; stdout: string; stderr: string }> {
  const run = startLocal(args);
  const status = await withTimeout(run.exited, START_MS, `npm run local ${args.join(" ")} to end`);
  return { status, stdout: run.stdout(), stderr: run.stderr() };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))),
  ]);
}

/** Waits for the status line; returns it with the pid and temp folder it names. */
async function serving(run: LocalRun, stream: "stdout" | "stderr"): Promise<{ line: string; pid: number; dir: string }> {
  const deadline = Date.now() + START_MS;
  for (;;) {
    const line = run[stream]().split("\n").find((l) => l.endsWith("Ctrl-C stops it"));
    if (line) {
      const pid = Number(/\(pid (\d+)\)/.exec(line)?.[1]);
      const log = / log (\S+); /.exec(line)?.[1] ?? "";
      return { line, pid, dir: dirname(log) };
    }
    const code = run.child.exitCode ?? run.child.signalCode;
    if (code !== null || Date.now() > deadline) {
      throw new Error(`no status line (exit ${String(code)}):\n${run.stdout()}\n${run.stderr()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Runs `npm run probe` inside the namespace against the printed iceServers (on stdin). The local target relays to its
 * own listening address by design (two browsers on one machine), so the forbidden peers are other private ones.
 */
function probe(iceServers: IceServer[], ...flags: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(
    "ip",
    ["netns", "exec", NS, process.execPath, "--import", "tsx", PROBE, "--ice-servers", "-",
      "--forbidden-peer", "10.0.0.1", "--forbidden-peer", "169.254.169.254", ...flags],
    { cwd: ROOT, input: JSON.stringify(iceServers), encoding: "utf8", timeout: 30_000 },
  );
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

interface IceServer {
  urls: string[];
  username: string;
  credential: string;
}

/** Stops a run with `signal` and checks the clean end: exit 0, nothing left in the namespace, temp folder gone. */
async function stopsCleanly(run: LocalRun, signal: NodeJS.Signals, dir: string, stream: "stdout" | "stderr"): Promise<void> {
  const began = Date.now();
  run.child.kill(signal);
  const status = await withTimeout(run.exited, 8000, `exit after ${signal}`);
  const tookMs = Date.now() - began;
  assert.equal(status, 0, `exit after ${signal}:\n${run.stderr()}`);
  assert.ok(tookMs < 5000, `took ${tookMs} ms to stop`);
  assert.match(run[stream](), new RegExp(`${signal}: stopped coturn \\(pid \\d+\\) and removed ${dir.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\.`));
  assert.ok(!existsSync(dir), `${dir} is left behind`);
  // Helpers of node (esbuild's service) may take a moment to follow it out.
  const deadline = Date.now() + 3000;
  while (namespacePids().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(namespacePids(), [], "processes are left in the namespace");
}

describe("npm run local in a network namespace", () => {
  before(() => {
    assert.equal(process.getuid?.(), 0, "these tests create a network namespace and need root: run `sudo bash scripts/test.sh`");
    ip("netns", "add", NS);
    ip("-n", NS, "link", "set", "lo", "up");
    ip("-n", NS, "link", "add", "v0", "type", "veth", "peer", "name", "v1");
    ip("-n", NS, "addr", "add", `${OTHER_IP}/24`, "dev", "v0");
    ip("-n", NS, "link", "set", "v0", "up");
    ip("-n", NS, "link", "set", "v1", "up");
  });

  // After each test, so that one failing before its own stop cannot leave coturn holding the ports of the next.
  afterEach(killLeftovers);
  after(() => {
    killLeftovers();
    spawnSync("ip", ["netns", "del", NS]);
  });

  test("prints working iceServers with a credential from the run's secret, which it never shows; SIGINT stops everything", async () => {
    const dirsBefore = coturnTempDirs();
    const run = startLocal(["--json", "--user", "alice", "--ttl", "600"]);
    const { line, pid, dir } = await serving(run, "stderr");
    assert.match(line, /^coturn 4\.6\.\d+ \(pid \d+\) on 127\.0\.0\.1: 3478\/udp\+tcp turn:, 5349\/tcp turns: \(self-signed\), 5349\/udp DTLS, relay 49152-49407\/udp; log \/\S+\/turnserver\.log; Ctrl-C stops it$/);
    assert.equal(coturnTempDirs().length, dirsBefore.length + 1);

    // stdout holds the JSON alone.
    const iceServers = JSON.parse(run.stdout()) as IceServer[];
    assert.equal(iceServers.length, 1);
    const [server] = iceServers;
    assert.deepEqual(server.urls, [
      "turn:127.0.0.1:3478?transport=udp",
      "turn:127.0.0.1:3478?transport=tcp",
      "turns:127.0.0.1:5349?transport=tcp",
    ]);
    const [expiry, user] = server.username.split(":");
    assert.equal(user, "alice");
    assert.ok(Math.abs(Number(expiry) - (Date.now() / 1000 + 600)) < 30, `expiry ${expiry} is not about 600 s from now`);

    // The secret: only in the 0600 config (root can read it here), 48 base64url characters, never in the output.
    const confFile = join(dir, "turnserver.conf");
    assert.equal(statSync(confFile).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const secret = /^static-auth-secret=(.*)$/m.exec(readFileSync(confFile, "utf8"))?.[1] ?? "";
    assert.match(secret, new RegExp(`^[A-Za-z0-9_-]{${LOCAL_SECRET_LENGTH}}$`));
    assert.ok(verifyTurnCredential([secret], server.username, server.credential), "the credential is not minted from the run's secret");
    const output = run.stdout() + run.stderr();
    assert.ok(!output.includes(secret), "the secret was printed");
    assert.ok(!output.includes("static-auth-secret"));
    assert.ok(!readFileSync(join(dir, "turnserver.log"), "utf8").includes(secret), "the secret is in coturn's log");

    // Chromium's flag names the key coturn serves; apps are told to force the relay.
    const served = readFileSync(join(dir, "fullchain.pem"), "utf8");
    assert.ok(run.stderr().includes(`--ignore-certificate-errors-spki-list=${spkiSha256(served)}`));
    assert.match(run.stderr(), /iceTransportPolicy: "relay"/);

    // The probe, with the printed iceServers: allocations over UDP, TCP and TLS relayed on the listening address, the
    // served certificate verified against the run's own, relay between two allocations, no anonymous allocation.
    // Non-browser clients are told the CA file on a line of its own (on stderr with --json): the probe uses it.
    const caFile = /^CA file for non-browser clients: (\S+)$/m.exec(run.stderr())?.[1];
    assert.equal(caFile, join(dir, "fullchain.pem"), "the CA file line is missing or names another file");
    const checked = probe(iceServers, "--ca", caFile);
    assert.equal(checked.status, 0, `${checked.stdout}\n${checked.stderr}`);
    assert.match(checked.stdout, /allocation\s+tls\s+pass\s+relayed address 127\.0\.0\.1:\d+/);
    assert.match(checked.stdout, /relay between two allocations\s+udp\s+pass/);
    assert.match(checked.stdout, /TLS certificate\s+tls\s+pass\s+TLSv1\.2, trusted, names localhost turn\.localhost IP 127\.0\.0\.1,/);
    // A wrong password is refused: authentication is on.
    const wrong = probe([{ ...server, credential: "bm9wZQ==" }], "--transports", "udp");
    assert.equal(wrong.status, 1, wrong.stdout);
    assert.match(wrong.stdout, /allocation\s+udp\s+FAIL\s+401 Unauthorized/);

    assert.ok(namespacePids().includes(pid), "coturn's pid is not in the namespace");
    await stopsCleanly(run, "SIGINT", dir, "stderr");
  });

  test("a busy port is refused with the port, the address and a fix, exit 2, and coturn is never started", async () => {
    const holder = spawn(
      "ip",
      ["netns", "exec", NS, process.execPath, "-e", 'require("dgram").createSocket("udp4").bind(3478, "127.0.0.1", () => console.log("bound"))'],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    started.push(holder);
    await withTimeout(new Promise((resolve) => holder.stdout?.once("data", resolve)), 5000, "the port holder");
    const dirsBefore = coturnTempDirs();
    try {
      const result = await runLocal([]);
      assert.equal(result.status, 2, result.stderr);
      assert.equal(
        result.stderr.trim().split("\n").slice(-2).join("\n"),
        "local: coturn was not started:\n" +
          "  - port 3478/udp on 127.0.0.1 (turn: over UDP) is already in use (coturn would share it with another coturn without a word, " +
          "or retry binding it forever). `ss -lntup 'sport = :3478'` shows which process holds it " +
          "(a coturn system service? `sudo systemctl stop coturn`); stop it, or use another address with --listen",
      );
      assert.deepEqual(namespacePids(), [holder.pid], "something besides the port holder runs in the namespace");
      assert.deepEqual(coturnTempDirs(), dirsBefore, "a temp folder was made although coturn never started");
    } finally {
      if (holder.pid !== undefined) process.kill(holder.pid, "SIGKILL");
    }
  });

  test("bad flags are refused with the flag, the value and a fix, exit 2; a cloud stack exits 1", async () => {
    const cases: Array<{ args: string[]; status: number; message: RegExp }> = [
      {
        args: ["--listen", "10.9.9.9"],
        status: 2,
        message: /^local: --listen 10\.9\.9\.9: no interface of this machine has that address \(coturn would retry binding it forever\)\. Addresses here: 127\.0\.0\.1, 10\.200\.0\.1\.$/m,
      },
      { args: ["--listen", "0.0.0.0"], status: 2, message: /^local: --listen 0\.0\.0\.0 is the wildcard/m },
      { args: ["--listen", "localhost"], status: 2, message: /^local: --listen "localhost" is not an IPv4 address/m },
      {
        args: ["--ttl", "abc"],
        status: 2,
        message: /^local: --ttl "abc" is not a whole number of seconds from 1 to 86400 \(a day\): use e\.g\. --ttl 3600 for one hour$/m,
      },
      { args: ["--ttl", "0"], status: 2, message: /^local: --ttl "0" is not a whole number of seconds from 1 to 86400/m },
      { args: ["--ttl", "86401"], status: 2, message: /^local: --ttl "86401" is not a whole number of seconds from 1 to 86400/m },
      { args: ["--user", "a:b"], status: 2, message: /^local: --user "a:b": user "a:b" is not a valid user id/m },
      { args: ["--bogus"], status: 2, message: /^local: Unknown option '--bogus'[\s\S]*usage: npm run local/m },
      {
        args: ["--stack", "aws-example"],
        status: 1,
        message: /coturn:cloud = "aws": is a cloud stack: `npm run local` runs stacks with coturn:cloud "local"/,
      },
    ];
    const dirsBefore = coturnTempDirs();
    const results = await Promise.all(cases.map((c) => runLocal(c.args)));
    for (const [i, c] of cases.entries()) {
      assert.equal(results[i].status, c.status, `${c.args.join(" ")}: ${results[i].stderr}`);
      assert.match(results[i].stderr, c.message, c.args.join(" "));
    }
    assert.deepEqual(namespacePids(), []);
    assert.deepEqual(coturnTempDirs(), dirsBefore);
    const help = await runLocal(["--help"]);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /^usage: npm run local -- \[--stack <name>\] \[--listen <ipv4>\]/);
  });

  test("runs as an ordinary user (nobody) on a non-loopback address, relay to relay; SIGTERM stops it", async () => {
    const run = startLocal(["--listen", OTHER_IP, "--user", "bob"], { asNobody: true });
    const { pid, dir } = await serving(run, "stdout");
    const owner = spawnSync("ps", ["-o", "user=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim();
    assert.equal(owner, "nobody", "coturn does not run as nobody");
    assert.equal(statSync(dir).uid, 65534);

    // Without --json, the JSON sits between "iceServers for your app:" and the usage lines.
    const lines = run.stdout().split("\n");
    const start = lines.indexOf("iceServers for your app:") + 1;
    const end = lines.indexOf("]", start) + 1;
    const [server] = JSON.parse(lines.slice(start, end).join("\n")) as IceServer[];
    assert.equal(server.urls[0], `turn:${OTHER_IP}:3478?transport=udp`);
    assert.match(server.username, /^\d+:bob$/);

    // Not loopback, so only allowed-peer-ip lets the two relays reach each other.
    const checked = probe([server], "--insecure-tls");
    assert.equal(checked.status, 0, `${checked.stdout}\n${checked.stderr}`);
    assert.match(checked.stdout, new RegExp(`allocation\\s+udp\\s+pass\\s+relayed address ${OTHER_IP.replace(/\./g, "\\.")}:\\d+`));
    assert.match(checked.stdout, /relay between two allocations\s+udp\s+pass/);

    await stopsCleanly(run, "SIGTERM", dir, "stdout");
  });

  test("when coturn dies on its own, the command shows the end of its log and exits 1, cleaning up", async () => {
    const run = startLocal(["--json"]);
    const { pid, dir } = await serving(run, "stderr");
    process.kill(pid, "SIGKILL");
    const status = await withTimeout(run.exited, 8000, "the command to notice");
    assert.equal(status, 1, run.stderr());
    assert.match(run.stderr(), new RegExp(`local: coturn \\(pid ${pid}\\) exited on its own \\(SIGKILL\\)\\. The end of its log:\\n`));
    assert.match(run.stderr(), /SQLite DB connection success/, "no log lines shown");
    assert.ok(!existsSync(dir));
    assert.deepEqual(namespacePids(), []);
  });
});
