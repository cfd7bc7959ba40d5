// Runtime: the per-source limits at work. A real coturn with the aws-example production config, the rendered limits
// loaded in the server's namespace (as coturn-limits.service loads them), an attacker namespace on the lab internet
// and a legitimate client in another. Each attack runs while the client keeps a relayed call (zero loss) and opens
// new allocations over UDP, TCP and TLS (all succeed); then the same attacks run without the limits, to show what
// each does when nothing stops it. Needs root (CI runs as root): `sudo bash scripts/test.sh`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { rateLimitRules } from "../src/render/rateLimitFiles";
import { CLOUD_LAB, LAB_SECRET, loadRateLimits, runLabJobAsync, startCloudLab, unloadRateLimits, type CloudLab } from "../lab/cloudLab";
import type { AttackJob, ConnectReport, FloodReport } from "../lab/attacker";
import type { Outcome, StreamReport } from "../lab/labClient";
import { LAB_INTERNET, waitFor, type LabProcess } from "../lab/netlab";
import { nftCounters } from "../lab/boot/opsChecks";
import { exampleStackConfig } from "./support/program";

const ECHO_PORT = 3480;
const ATTACKER_IP = `${LAB_INTERNET.prefix}.66`;
const PLAIN = { host: CLOUD_LAB.publicIp, port: 3478 };
const TLS = { host: CLOUD_LAB.publicIp, port: 5349 };
const LIMITS = exampleStackConfig("aws-example").rateLimits;
/** The legitimate call: 50 packets a second (audio), refreshed every 2 s, for the attack and a margin around it. */
const CALL = { packetsPerSecond: 50, refreshEveryMs: 2000 } as const;
const FLOOD_MS = 5000;
const CONNECT_RATE_MS = 4000;
/** Idle connections the attacker tries to hold: five times the default cap. */
const IDLE_CONNECTIONS = 5000;

/** What one attack did, with and without the limits. */
interface AttackFigures {
  readonly attack: string;
  readonly limits: boolean;
  readonly report: FloodReport | ConnectReport;
  /** Connections the server held for the attacker at the peak (hold-connections only). */
  readonly heldAtServer?: number;
  readonly dropped: number;
  readonly coturnCpuSeconds: number;
  readonly call: StreamReport;
  readonly allocations: readonly Outcome[];
}

describe("per-source limits against three attacks (aws-example production config, real coturn)", () => {
  let cloud: CloudLab;
  let attacker: string;
  const figures: AttackFigures[] = [];

  const credentials = (user: string): { username: string; password: string } => {
    const minted = mintTurnCredential({ secret: LAB_SECRET, user, ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  };
  const coturnCpuSeconds = (): number => {
    const fields = readFileSync(`/proc/${cloud.coturn.child.pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const dropped = (limit: string): number => {
    const listing = cloud.lab.execResult(cloud.hosts.turn, "nft", ["list", "counters", "table", "inet", "coturn_limits"]).stdout;
    return nftCounters(listing).get(`${limit}_dropped`)?.packets ?? 0;
  };
  const serverConnections = (): number =>
    cloud.lab.exec(cloud.hosts.turn, "ss", "-Htn", "state", "established", "( sport = :3478 or sport = :5349 )").split("\n").filter((l) => l.trim()).length;

  /** The attacker's job as a process of its own (every loop in it is bounded by the job). */
  const startAttack = (job: AttackJob): LabProcess =>
    cloud.lab.start(attacker, process.execPath, ["--import", "tsx", join(__dirname, "..", "lab", "attacker.ts"), JSON.stringify(job)]);
  const reportOf = async <T>(run: LabProcess): Promise<T> => {
    await run.exited;
    const last = run.output().trim().split("\n").at(-1) ?? "";
    const parsed = JSON.parse(last) as T & { error?: string };
    if (parsed.error) throw new Error(`the attacker failed: ${parsed.error}`);
    return parsed;
  };

  /**
   * Runs `attack` while the legitimate client keeps a call and opens an allocation per transport; returns the
   * attack's figures. `during` runs once the attack is under way (what to read at its peak).
   */
  const underAttack = async (
    name: string,
    limits: boolean,
    limit: string,
    attackMs: number,
    attack: () => Promise<{ report: FloodReport | ConnectReport; heldAtServer?: number }>,
  ): Promise<AttackFigures> => {
    const call = cloud.lab.start(cloud.hosts.client, process.execPath, [
      "--import",
      "tsx",
      join(__dirname, "..", "lab", "labClient.ts"),
      JSON.stringify({ job: "stream", server: PLAIN, transport: "udp", credentials: credentials(`call-${name}`), peer: { host: CLOUD_LAB.peer, port: ECHO_PORT }, durationMs: attackMs + 3000, ...CALL }),
    ]);
    await waitFor("the legitimate call to relay media", () => {
      if (call.child.exitCode !== null) throw new Error(`the call ended early: ${call.output()}`);
      return call.output().includes('"ready":true');
    });
    const droppedBefore = dropped(limit);
    const cpuBefore = coturnCpuSeconds();
    const attacking = attack();
    // Its failure is reported where it is awaited, after the allocations.
    attacking.catch(() => undefined);
    // New allocations while the attack is under way, one per transport, from the legitimate client's address.
    await new Promise((resolve) => setTimeout(resolve, Math.min(1500, attackMs / 3)));
    const allocations = (await Promise.all(
      (["udp", "tcp", "tls"] as const).map((transport) =>
        runLabJobAsync(cloud.lab, cloud.hosts.client, { job: "allocate", server: transport === "tls" ? TLS : PLAIN, transport, credentials: credentials(`new-${name}-${transport}`) }),
      ),
    )) as unknown as Outcome[];
    const { report, heldAtServer } = await attacking;
    const cpu = coturnCpuSeconds() - cpuBefore;
    await call.exited;
    const stream = JSON.parse(call.output().trim().split("\n").at(-1) ?? "{}") as StreamReport;
    const result: AttackFigures = {
      attack: name,
      limits,
      report,
      ...(heldAtServer === undefined ? {} : { heldAtServer }),
      dropped: dropped(limit) - droppedBefore,
      coturnCpuSeconds: Math.round(cpu * 100) / 100,
      call: stream,
      allocations,
    };
    figures.push(result);
    return result;
  };

  const requestFlood = (limits: boolean): Promise<AttackFigures> =>
    underAttack("request-flood", limits, "udp_requests", FLOOD_MS, async () => ({
      report: await reportOf<FloodReport>(startAttack({ job: "request-flood", target: PLAIN, perSecond: 10 * LIMITS.udpRequestsPerSecond, durationMs: FLOOD_MS })),
    }));

  const idleConnections = (limits: boolean): Promise<AttackFigures> =>
    underAttack("idle-connections", limits, "tcp_connections", 12_000, async () => {
      const run = startAttack({ job: "hold-connections", targets: [PLAIN, TLS], count: IDLE_CONNECTIONS, concurrency: 400, connectTimeoutMs: 900, holdMs: 12_000 });
      await waitFor("the attacker to hold its connections", () => run.output().includes('"holding"') || run.child.exitCode !== null, 60_000);
      const heldAtServer = serverConnections();
      return { report: await reportOf<ConnectReport>(run), heldAtServer };
    });

  const connectionRate = (limits: boolean): Promise<AttackFigures> =>
    underAttack("connection-rate", limits, "tcp_new_connections", CONNECT_RATE_MS, async () => ({
      report: await reportOf<ConnectReport>(
        startAttack({ job: "connect-rate", target: TLS, perSecond: 10 * LIMITS.tcpNewConnectionsPerSecond, durationMs: CONNECT_RATE_MS, connectTimeoutMs: 900 }),
      ),
    }));

  /** The legitimate client saw no harm: every packet of its call came back, every new allocation succeeded. */
  const unharmed = (f: AttackFigures): void => {
    assert.equal(f.call.lost, 0, `${f.attack}: the call lost ${f.call.lost} of ${f.call.sent} (first ${f.call.firstLost.join(", ")})`);
    assert.ok(f.call.refreshes.every((r) => r.ok), `${f.attack}: a refresh failed: ${JSON.stringify(f.call.refreshes)}`);
    assert.deepEqual(f.allocations.map((a) => a.ok), [true, true, true], `${f.attack}: ${JSON.stringify(f.allocations)}`);
  };

  before(async () => {
    // The attacker and coturn each hold IDLE_CONNECTIONS sockets (the VM gives coturn 1,048,576).
    const openFiles = Number(execFileSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).trim());
    assert.ok(openFiles >= 2 * IDLE_CONNECTIONS, `ulimit -n is ${openFiles}: the test needs ${2 * IDLE_CONNECTIONS} (raise it with ulimit -n, or in /etc/security/limits.conf)`);
    cloud = await startCloudLab({ stack: "aws-example", tag: `lim${process.pid}` });
    attacker = cloud.lab.addHost("attacker");
    cloud.lab.attachToInternet(attacker, "eth0", ATTACKER_IP);
    cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
  });
  after(async () => {
    if (figures.length > 0) console.log(`# per-source limits: ${JSON.stringify(figures.map(({ call, allocations, ...rest }) => ({ ...rest, callLost: call.lost, callSent: call.sent, allocationsOk: allocations.filter((a) => a.ok).length })))}`);
    await cloud?.destroy();
  });

  describe("with the limits", () => {
    test("an Allocate flood at 10x the request limit: the excess is dropped before coturn, the call loses nothing", async () => {
      const f = await requestFlood(true);
      const r = f.report as FloodReport;
      unharmed(f);
      const seconds = r.elapsedMs / 1000;
      // What the limit lets through: the burst, then the rate (a second of margin for the answers in flight).
      const allowed = LIMITS.udpRequestsBurst + LIMITS.udpRequestsPerSecond * (seconds + 1);
      // Sent at 10x the rate; at least 5x even on a loaded machine.
      assert.ok(r.sent / seconds >= 5 * LIMITS.udpRequestsPerSecond, `the flood was a flood: ${r.sent} requests in ${seconds} s`);
      assert.ok(r.answered <= allowed, `coturn answered ${r.answered}, more than the ${allowed} the limit lets through`);
      assert.ok(f.dropped >= r.sent - allowed, `the counter shows ${f.dropped} dropped of ${r.sent} sent`);
      assert.ok(f.dropped + r.answered <= r.sent, "nothing is counted twice");
    });

    test(`${IDLE_CONNECTIONS} idle TCP/TLS connections from one address: it keeps ${LIMITS.tcpConnectionsPerSource}, the rest are dropped`, async () => {
      // Only the concurrent cap here: the new-connection rate, raised, must not be what stops the attacker.
      loadRateLimits(cloud, rateLimitRules({ stack: "aws-example", rateLimits: { ...LIMITS, tcpNewConnectionsPerSecond: 100_000, tcpNewConnectionsBurst: 100_000 } }));
      try {
        const f = await idleConnections(true);
        const r = f.report as ConnectReport;
        unharmed(f);
        assert.equal(r.established, LIMITS.tcpConnectionsPerSource, `the attacker held ${r.established}`);
        assert.ok((f.heldAtServer ?? 0) <= LIMITS.tcpConnectionsPerSource + 3, `the server held ${f.heldAtServer} (the call's client holds up to 2)`);
        assert.ok(f.dropped >= IDLE_CONNECTIONS - LIMITS.tcpConnectionsPerSource, `${f.dropped} connection attempts dropped`);
      } finally {
        loadRateLimits(cloud);
      }
    });

    test("connections opened at 10x the rate limit: the burst and the rate get through, the rest are dropped", async () => {
      const f = await connectionRate(true);
      const r = f.report as ConnectReport;
      unharmed(f);
      const seconds = r.elapsedMs / 1000;
      const allowed = LIMITS.tcpNewConnectionsBurst + LIMITS.tcpNewConnectionsPerSecond * (seconds + 1);
      assert.ok(r.attempted / seconds >= 5 * LIMITS.tcpNewConnectionsPerSecond, `the attack was fast: ${r.attempted} in ${seconds} s`);
      assert.ok(r.established <= allowed, `${r.established} connections were established, more than the ${allowed} allowed`);
      assert.ok(r.established >= LIMITS.tcpNewConnectionsBurst / 2, `the burst got through (${r.established})`);
      assert.ok(f.dropped >= r.attempted - allowed, `${f.dropped} dropped of ${r.attempted}`);
    });
  });

  describe("without the limits (control: what each attack does when nothing stops it)", () => {
    before(() => unloadRateLimits(cloud));

    test("the Allocate flood reaches coturn: every request is answered, and coturn spends more CPU on it", async () => {
      const f = await requestFlood(false);
      const r = f.report as FloodReport;
      assert.ok(r.answered >= 0.9 * r.sent, `coturn answered ${r.answered} of ${r.sent}`);
      const limited = figures.find((g) => g.attack === "request-flood" && g.limits);
      assert.ok(limited && f.coturnCpuSeconds > limited.coturnCpuSeconds, `coturn CPU ${f.coturnCpuSeconds} s without the limits, ${limited?.coturnCpuSeconds} s with`);
    });

    test(`the ${IDLE_CONNECTIONS} idle connections are all held by the server`, async () => {
      const f = await idleConnections(false);
      const r = f.report as ConnectReport;
      assert.equal(r.established, IDLE_CONNECTIONS);
      assert.ok((f.heldAtServer ?? 0) >= IDLE_CONNECTIONS, `the server held ${f.heldAtServer}`);
    });

    test("every connection of the fast opener is established", async () => {
      const f = await connectionRate(false);
      const r = f.report as ConnectReport;
      assert.ok(r.established >= 0.95 * r.attempted, `${r.established} of ${r.attempted}`);
    });
  });
});
