// Runtime: `npm run status` against a real coturn in the namespace lab, with the real monitoring (mtail,
// node-exporter, the collector: lab/monitoringLab.ts, loopback only, as on a VM without scrapers) and a real sshd in the server's namespace whose one authorized key is restricted to the lab's rendered read
// command. The command runs in the client namespace and reaches the server through the cloud's 1:1 NAT on the
// static IP, as an operator's machine does. A fake pulumi serves the outputs. A known load (W wrong credentials,
// a user over quota, an echo) is driven between the two reads, and status must print exactly that.
// sshd runs as root and the key logs in as root: the lab runs as root anyway (the VM's user is coturn-deploy).
import { strict as assert } from "node:assert";
import { spawn, execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { newEncryptionSalt } from "../src/config/passphraseSecrets";
import { STACKS_DIR } from "../src/config/stackFile";
import { parseExposition, sumOf } from "../src/status/exposition";
import type { ServerStatus } from "../src/status/serverStatus";
import { CLOUD_LAB, LAB_SECRET, runLabJobAsync, startCloudLab, type CloudLab } from "../lab/cloudLab";
import { startMonitoring, type MonitoringLab } from "../lab/monitoringLab";
import { requireCommands, waitFor, type LabProcess } from "../lab/netlab";
import { createFakePulumi, type FakePulumi } from "./support/fakePulumi";

const STATUS = join(__dirname, "..", "scripts", "status.ts");
const ECHO_PORT = 5000;
const PASSPHRASE = "status lab pass phrase";
const REGION = `tst-status-${process.pid}`;
const REGION_B = `tst-status-b-${process.pid}`;
const GLOBAL = `tst-status-g-${process.pid}`;
const full = (stack: string): string => `organization/coturn/${stack}`;

function credentials(user: string, secret = LAB_SECRET): { username: string; password: string } {
  const minted = mintTurnCredential({ secret, user, ttlSeconds: 600 });
  return { username: minted.username, password: minted.credential };
}

interface StatusRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** The JSON document of a non-watch run. */
interface StatusDocument {
  ok: boolean;
  intervalSeconds: number;
  servers: ServerStatus[];
}

describe("npm run status against a real coturn over a real sshd", { timeout: 120_000 }, () => {
  let cloud: CloudLab;
  let monitoring: MonitoringLab;
  let sshd: LabProcess;
  let fake: FakePulumi;
  let collector: NodeJS.Timeout | undefined;
  const keyDir = mkdtempSync(join(tmpdir(), "coturn-status-lab-"));
  const stackFiles = [REGION, REGION_B, GLOBAL].map((s) => join(STACKS_DIR, `Pulumi.${s}.yaml`));
  let access: { server: string; address: string; user: string; hostPublicKey: string; privateKey: string };

  /** Runs status in the client namespace without blocking this process; `onStderr` sees stderr as it comes. */
  const status = (args: string[], onStderr: (text: string) => void = () => undefined): Promise<StatusRun> =>
    new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", cloud.hosts.client, process.execPath, "--import", "tsx", STATUS, ...args], {
        env: fake.env({ PULUMI_CONFIG_PASSPHRASE: PASSPHRASE }),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
        onStderr(stderr);
      });
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ status: code, stdout, stderr });
      });
    });
  /** coturn_allocations_active summed, as the lab reads the server's page directly (no SSH). */
  const labAllocations = (): number => sumOf(parseExposition(monitoring.metrics()), "coturn_allocations_active") ?? Number.NaN;
  const noSecrets = (run: StatusRun): void => {
    for (const secret of [access.privateKey.split("\n")[1], LAB_SECRET]) {
      assert.ok(!run.stdout.includes(secret) && !run.stderr.includes(secret), "no key, password or secret in the output");
    }
  };

  before(async () => {
    requireCommands([
      ["/usr/sbin/sshd", "openssh-server"],
      ["/usr/bin/ssh", "openssh-client"],
      ["/usr/bin/ssh-keygen", "openssh-client"],
    ]);
    cloud = await startCloudLab({ tag: `st${process.pid}` });
    monitoring = await startMonitoring(cloud);
    cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
    // As the VM's timer does (every 15 s there): here every second, so a read never waits long for a collection.
    monitoring.collect();
    collector = setInterval(() => monitoring.collect(), 1000);

    // sshd on the server's address, with a host key of its own and one key that can only run the read command.
    for (const name of ["host_key", "client_key", "other_host_key"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(keyDir, name)]);
    const webConfig = monitoring.readCommandEnv.COTURN_METRICS_WEB_CONFIG ?? "";
    // The lab's web config sits at a lab path; over SSH no variable reaches a forced command, so the command sets it.
    writeFileSync(
      join(keyDir, "authorized_keys"),
      `restrict,command="env COTURN_METRICS_WEB_CONFIG=${webConfig} ${monitoring.readCommand}" ${readFileSync(join(keyDir, "client_key.pub"), "utf8")}`,
      { mode: 0o600 },
    );
    writeFileSync(
      join(keyDir, "sshd_config"),
      [
        `ListenAddress ${cloud.privateIp}:22`,
        `HostKey ${join(keyDir, "host_key")}`,
        `AuthorizedKeysFile ${join(keyDir, "authorized_keys")}`,
        `PidFile ${join(keyDir, "sshd.pid")}`,
        "PermitRootLogin forced-commands-only",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "",
      ].join("\n"),
    );
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation folder
    sshd = cloud.lab.start(cloud.hosts.turn, "/usr/sbin/sshd", ["-D", "-e", "-f", join(keyDir, "sshd_config")]);
    await waitFor("sshd to listen", () => {
      if (sshd.child.exitCode !== null) throw new Error(`sshd exited: ${sshd.output()}`);
      return cloud.lab.exec(cloud.hosts.turn, "ss", "-Hltn").includes(`${cloud.privateIp}:22`);
    });

    // Region stack files (no scrapers: the metrics password path is left out, see the note of issue 20: with
    // startMonitoring's scraperPassword the lab's own read command answered HTTP 400).
    const { encryptionSalt, crypter } = newEncryptionSalt(PASSPHRASE);
    const regionFile = readFileSync(join(STACKS_DIR, "Pulumi.aws-example.yaml"), "utf8")
      .replace(/^encryptionsalt: .*$/m, `encryptionsalt: ${encryptionSalt}`)
      .replace(/secure: v1:.*$/gm, `secure: ${crypter.encrypt(LAB_SECRET)}`)
;
    writeFileSync(stackFiles[0], regionFile);
    writeFileSync(stackFiles[1], regionFile);
    writeFileSync(
      stackFiles[2],
      [
        "config:",
        "  coturn:cloud: global",
        "  coturn:domain: turn.example.com",
        "  coturn:regions:",
        `    - stack: ${full(REGION)}`,
        `    - stack: ${full(REGION_B)}`,
        "      drain: true",
        "  coturn:geoDns:",
        "    mode: dns-records",
        `    fallbackRegion: ${full(REGION)}`,
        "",
      ].join("\n"),
    );
    access = {
      server: REGION,
      address: CLOUD_LAB.publicIp,
      user: "root",
      hostPublicKey: readFileSync(join(keyDir, "host_key.pub"), "utf8").trim(),
      privateKey: readFileSync(join(keyDir, "client_key"), "utf8"),
    };
    const outputs = (name: string) => ({
      servers: [{ name, domain: "eu-central-1.turn.example.com", publicIp: CLOUD_LAB.publicIp, instanceId: "i-0" }],
      metricsAccess: [{ ...access, server: name }],
    });
    fake = createFakePulumi({
      stacks: {
        [REGION]: { config: {}, outputs: outputs(REGION) },
        [full(REGION)]: { config: {}, outputs: outputs(REGION) },
        [full(REGION_B)]: { config: {}, outputs: outputs(REGION_B) },
      },
    });
  });

  after(async () => {
    if (collector) clearInterval(collector);
    fake?.cleanup();
    for (const file of stackFiles) rmSync(file, { force: true });
    await cloud?.destroy();
    rmSync(keyDir, { recursive: true, force: true });
  });

  test("a region stack: the load driven between the two reads, exactly", async () => {
    const tempBefore = new Set(readdirSync(tmpdir()).filter((f) => f.startsWith("coturn-status-") && !keyDir.endsWith(f)));
    let load: Promise<Array<Record<string, unknown>>> | undefined;
    const refused486 = (): number => sumOf(parseExposition(monitoring.metrics()), "coturn_requests_refused_total", { code: "486" }) ?? 0;
    let before486 = 0;
    const run = await status(["--stack", REGION, "--interval", "10", "--json"], (stderr) => {
      // Once the first read is done: 3 wrong credentials (401), one user over quota (12 allocations, the 13th 486,
      // all released), one echo of 1000 bytes through the relay.
      if (load === undefined && stderr.includes("reading metrics from 1 server… (10 s)")) {
        before486 = refused486();
        load = Promise.all([
          runLabJobAsync(cloud.lab, cloud.hosts.client, { job: "quota", server: { host: CLOUD_LAB.publicIp, port: 3478 }, credentials: credentials("mallory", "not-the-server-secret-but-long-enough-0123456789"), count: 3 }),
          runLabJobAsync(cloud.lab, cloud.hosts.client, { job: "quota", server: { host: CLOUD_LAB.publicIp, port: 3478 }, credentials: credentials("greedy"), count: 13 }),
          runLabJobAsync(cloud.lab, cloud.hosts.client, { job: "echo", server: { host: CLOUD_LAB.publicIp, port: 3478 }, transport: "udp", credentials: credentials("echo"), peer: { host: CLOUD_LAB.peer, port: ECHO_PORT }, bytes: 1000 }),
        ]);
      }
    });
    assert.ok(load, `status said what it was doing: ${run.stderr}`);
    const [wrong, quota, echo] = await load;
    assert.deepEqual((wrong.outcomes as Array<{ code?: number }>).map((o) => o.code), [401, 401, 401], JSON.stringify(wrong));
    assert.deepEqual((quota.outcomes as Array<{ ok: boolean; code?: number }>).map((o) => o.code ?? "ok"), [...Array(12).fill("ok"), 486]);
    assert.equal(echo.identical, true);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    noSecrets(run);
    const document = JSON.parse(run.stdout) as StatusDocument;
    assert.equal(document.ok, true);
    assert.equal(document.intervalSeconds, 10);
    assert.equal(document.servers.length, 1);
    const row = document.servers[0];
    assert.equal(row.server, REGION);
    assert.equal(row.state, "serving");
    assert.equal(row.up, true);
    assert.ok(row.uptimeSeconds !== null && row.uptimeSeconds >= 0 && row.uptimeSeconds < 120, `uptime ${row.uptimeSeconds}`);
    // Every allocation was released before the second read: the drain step's figure.
    assert.equal(row.allocations, 0);
    assert.equal(labAllocations(), 0, "and the server's own page agrees");
    // Exactly the 3 wrong credentials and the one allocation over the quota.
    const served486 = refused486() - before486;
    assert.equal(served486, 1);
    assert.deepEqual(row.refused, { "401": 3, "403": 0, "486": 1 });
    const window = row.windowSeconds ?? 0;
    assert.ok(window >= 9 && window <= 14, `window ${window}`);
    assert.deepEqual(row.refusedPerMinute, { "401": (3 * 60) / window, "403": 0, "486": (served486 * 60) / window });
    assert.ok((row.mbitPerSecondIn ?? 0) > 0 && (row.mbitPerSecondOut ?? 0) > 0, "the echo's bytes went in and out");
    assert.equal(row.limitedPerMinute, 0, "the lab's per-source limits are loaded (a series exists) and dropped none of this load");
    assert.ok(row.sustainedBandwidthBits !== null && row.sustainedBandwidthBits > 0, "t4g.small is in the sizing table");
    const percentIn = ((row.mbitPerSecondIn ?? 0) * 1e6 * 100) / row.sustainedBandwidthBits;
    assert.ok(Math.abs((row.bandwidthPercentIn ?? Number.NaN) - percentIn) <= 1e-12 * percentIn, `${row.bandwidthPercentIn} % of sustained, not ${percentIn}`);
    const expiry = Math.floor(Date.parse(new X509Certificate(readFileSync(cloud.certificatePath)).validTo) / 1000);
    assert.equal(row.certificateDaysLeft, Math.floor((expiry - (row.collectedAtSeconds ?? 0)) / 86_400));
    assert.deepEqual(row.warnings, []);
    const tempAfter = readdirSync(tmpdir()).filter((f) => f.startsWith("coturn-status-") && !keyDir.endsWith(f) && !tempBefore.has(f));
    assert.deepEqual(tempAfter, [], "the key and known-hosts files were removed");
  });

  test("allocations held during the reads show; the table says up", async () => {
    const baseline = labAllocations();
    const stream = runLabJobAsync(cloud.lab, cloud.hosts.client, {
      job: "stream",
      server: { host: CLOUD_LAB.publicIp, port: 3478 },
      transport: "udp",
      credentials: credentials("caller"),
      peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
      packetsPerSecond: 50,
      durationMs: 9000,
      refreshEveryMs: 60_000,
    });
    await waitFor("the call's allocation to show in the metrics", () => labAllocations() === baseline + 1, 8000);
    const run = await status(["--stack", REGION, "--interval", "2"]);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const line = run.stdout.split("\n").find((l) => l.startsWith(`${REGION} `)) ?? "";
    assert.match(line, new RegExp(`^${REGION}\\s+${REGION}\\s+serving\\s+up\\s+\\d+[sm][^\\s]*( \\d+s)?\\s+${baseline + 1}\\s+\\d+\\.\\d\\d \\(\\d+\\.\\d%\\)\\s+\\d+\\.\\d\\d \\(\\d+\\.\\d%\\)\\s+\\d+\\.\\d%\\s+0\\.0\\s+0\\.0\\s+0\\.0\\s+0\\.0\\s+\\d+$`), run.stdout);
    assert.match(run.stdout, /\nAll 1 servers up\.\n$/);
    const report = await stream;
    assert.equal(report.lost, 0);
    noSecrets(run);
  });

  test("a global stack of two regions (the lab's server twice, one region drained)", async () => {
    // The previous test's call ends a moment after its stream: then the drained region holds none.
    await waitFor("the call's allocation to close", () => labAllocations() === 0, 10_000);
    const held = 0;
    const run = await status(["--stack", GLOBAL, "--interval", "2"]);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /reading metrics from 2 servers… \(2 s\)/);
    const lines = run.stdout.split("\n");
    assert.match(lines.find((l) => l.startsWith(`${REGION} `)) ?? "", new RegExp(`^${REGION}\\s+${REGION}\\s+serving\\s+up\\s+`));
    assert.match(lines.find((l) => l.startsWith(`${REGION_B} `)) ?? "", new RegExp(`^${REGION_B}\\s+${REGION_B}\\s+drained\\s+up\\s+\\S+( \\S+)?\\s+${held}\\s+`));
    assert.match(run.stdout, new RegExp(`All 2 servers up\\.\\nDrained servers still hold ${held} allocations${held === 0 ? ": the drain is complete" : ""}\\.\\n$`));
    noSecrets(run);
  });

  test("a VM that does not hold the pinned host key is refused", async () => {
    fake.update((state) => {
      const outputs = state.stacks[REGION].outputs as { metricsAccess: Array<Record<string, string>> };
      outputs.metricsAccess[0].hostPublicKey = readFileSync(join(keyDir, "other_host_key.pub"), "utf8").trim();
    });
    try {
      const run = await status(["--stack", REGION, "--interval", "2", "--json"]);
      assert.equal(run.status, 1, run.stderr);
      const row = (JSON.parse(run.stdout) as StatusDocument).servers[0];
      assert.match(row.problem ?? "", /^host key mismatch: 11\.0\.0\.10 did not prove it holds the pinned host key/);
      noSecrets(run);
    } finally {
      fake.update((state) => {
        (state.stacks[REGION].outputs as { metricsAccess: Array<Record<string, string>> }).metricsAccess[0].hostPublicKey = access.hostPublicKey;
      });
    }
  });

  test("sshd stopped: the row says unreachable, exit 1", async () => {
    sshd.child.kill("SIGTERM");
    await sshd.exited;
    const run = await status(["--stack", REGION, "--interval", "2"]);
    assert.equal(run.status, 1, `${run.stdout}\n${run.stderr}`);
    const line = run.stdout.split("\n").find((l) => l.startsWith(`${REGION} `)) ?? "";
    assert.match(line, /serving\s+\?\s+unreachable: ssh: connect to host 11\.0\.0\.10 port 22: Connection refused$/);
    assert.match(run.stdout, /1 of 1 servers DOWN or unreadable \(see note\)\./);
    noSecrets(run);
  });
});
