// Runtime: `npm run probe` against real coturn servers in the namespace lab: the production config passes; a wrong
// secret and a server without a deny list fail with a reason a person can act on. Needs root (CI runs as root).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { CLOUD_LAB, LAB_SECRET, applySecretSet, createUserDb, labConf, productionConf, startCloudLab, type CloudLab } from "./support/cloudLab";
import { LAB_INTERNET, waitFor } from "./support/netlab";
import { makeSelfSignedCertificate } from "../src/local/selfSigned";

const OPEN_RELAY_IP = `${LAB_INTERNET.prefix}.50`;
const PROBE = join(__dirname, "..", "scripts", "probe.ts");

interface ProbeRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe("npm run probe against real coturn servers", () => {
  let cloud: CloudLab;
  let dir: string;

  before(async () => {
    cloud = await startCloudLab();
    dir = mkdtempSync(join(tmpdir(), "coturn-open-relay-"));
    // A misconfigured server: the production config with every denied-peer-ip line removed, on a public address.
    const open = cloud.lab.addHost("open");
    cloud.lab.attachToInternet(open, "eth0", OPEN_RELAY_IP);
    const userDb = join(dir, "open.turndb");
    createUserDb(userDb);
    const lab = labConf(productionConf(), { ...makeSelfSignedCertificate(dir, OPEN_RELAY_IP, "open.example.com"), logFile: join(dir, "open.log"), userDb });
    const privateIp = new RegExp(`^(listening|relay)-ip=${CLOUD_LAB.privateIp.replace(/\./g, "\\.")}$`);
    const conf = lab.conf
      .split("\n")
      .filter((line) => !/^(denied-peer-ip|external-ip)=/.test(line) && line !== `relay-ip=${CLOUD_LAB.relayIpv6}`)
      .map((line) => line.replace(privateIp, `$1-ip=${OPEN_RELAY_IP}`))
      .join("\n");
    writeFileSync(join(dir, "open.conf"), conf, { mode: 0o600 });
    applySecretSet(cloud.lab, open, cloud.secretsScript, join(dir, "open.conf"), [LAB_SECRET]);
    const coturn = cloud.lab.start(open, "turnserver", ["-c", join(dir, "open.conf"), "--pidfile", join(dir, "open.pid")]);
    await waitFor("the open relay to listen", () => {
      if (coturn.child.exitCode !== null) throw new Error(coturn.output());
      return cloud.lab.exec(open, "ss", "-Hlnu").includes(`${OPEN_RELAY_IP}:3478`);
    });
  });
  after(async () => {
    await cloud?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const probe = (secret: string, ...args: string[]): ProbeRun => {
    const result = spawnSync("ip", ["netns", "exec", cloud.hosts.client, process.execPath, "--import", "tsx", PROBE, ...args], {
      encoding: "utf8",
      env: { ...process.env, TURN_AUTH_SECRET: secret, PULUMI_CONFIG_PASSPHRASE: undefined, PULUMI_CONFIG_PASSPHRASE_FILE: undefined },
      timeout: 60_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const rows = (run: ProbeRun): string[] => run.stdout.split("\n").filter((line) => /\s(pass|FAIL)\s/.test(line));

  test("passes every check against the production config, with the static IP as relayed address", () => {
    const run = probe(LAB_SECRET, "--host", CLOUD_LAB.publicIp, "--ca", cloud.certificatePath);
    assert.equal(run.status, 0, `${run.stdout}\n${run.stderr}`);
    const table = rows(run);
    for (const check of ["STUN binding", "no credentials refused", "allocation", "TLS certificate", "relay between two allocations", "peer 169.254.169.254 refused"]) {
      assert.ok(table.some((line) => line.startsWith(check) && /\spass\s/.test(line)), `${check} passed:\n${run.stdout}`);
    }
    assert.equal(table.filter((line) => line.startsWith("allocation ")).length, 3, "udp, tcp and tls allocations");
    assert.ok(table.every((line) => !line.includes("FAIL")));
    assert.match(run.stdout, /All \d+ checks passed/);
    assert.match(run.stderr, /Probing 11\.0\.0\.10 over udp, tcp, tls, expecting relayed addresses on 11\.0\.0\.10/);
    assert.ok(!run.stdout.includes(LAB_SECRET) && !run.stderr.includes(LAB_SECRET), "the secret is never printed");
  });

  test("--json gives the same verdict in machine-readable form", () => {
    const run = probe(LAB_SECRET, "--host", CLOUD_LAB.publicIp, "--ca", cloud.certificatePath, "--transports", "udp", "--json");
    assert.equal(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout) as { ok: boolean; results: Array<{ check: string; ok: boolean }> };
    assert.equal(report.ok, true);
    assert.ok(report.results.length >= 5 && report.results.every((r) => r.ok));
  });

  test("fails with the reason when the secret is wrong", () => {
    const run = probe("a-secret-the-server-does-not-hold-0123456789", "--host", CLOUD_LAB.publicIp, "--ca", cloud.certificatePath);
    assert.equal(run.status, 1, run.stdout);
    const allocations = rows(run).filter((line) => line.startsWith("allocation "));
    assert.equal(allocations.length, 3);
    for (const line of allocations) assert.match(line, /FAIL\s+401 Unauthorized: credentials rejected: minted with a secret the server does not hold/);
    assert.match(run.stdout, /checks FAILED/);
  });

  test("fails with the reason against a server whose deny list is open", () => {
    const run = probe(LAB_SECRET, "--host", OPEN_RELAY_IP, "--insecure-tls", "--transports", "udp");
    assert.equal(run.status, 1, run.stdout);
    const table = rows(run);
    for (const peer of ["10.0.0.1", "169.254.169.254"]) {
      const line = table.find((l) => l.startsWith(`peer ${peer} refused`)) ?? "";
      assert.match(line, /FAIL\s+relay ACCEPTED .*: the deny list is open/, `${peer}:\n${run.stdout}`);
    }
    // coturn refuses loopback peers on its own, deny list or not: the probe reports that truthfully.
    assert.match(table.find((l) => l.startsWith("peer 127.0.0.1 refused")) ?? "", /\spass\s+403 Forbidden/);
  });

  test("fails with the reason when relayed addresses are not the expected static IP", () => {
    const run = probe(LAB_SECRET, "--host", CLOUD_LAB.publicIp, "--ca", cloud.certificatePath, "--transports", "udp", "--expect-relay-ip", "11.0.0.99");
    assert.equal(run.status, 1);
    assert.match(run.stdout, /FAIL\s+relayed address 11\.0\.0\.10:\d+ is not the static IP 11\.0\.0\.99: peers would send media to the wrong address/);
  });

  test("fails when nothing answers, naming the likely cause", () => {
    const run = probe(LAB_SECRET, "--host", "11.0.0.99", "--transports", "udp,tcp", "--timeout-ms", "500");
    assert.equal(run.status, 1);
    assert.match(run.stdout, /STUN binding\s+udp\s+FAIL\s+STUN Binding to 11\.0\.0\.99:3478: no answer within 500 ms \(firewall closed/);
  });

  test("bad input exits 2 with the flag, the value and the fix, before any network step", () => {
    const cases: Array<[string[], RegExp, string?]> = [
      [[], /give exactly one of --stack, --host or --ice-servers/],
      [["--host", "h", "--stack", "s"], /give exactly one of --stack, --host or --ice-servers/],
      [["--host", "h", "--transports", "udp,quic"], /--transports "udp,quic": "quic" is not one of udp, tcp, tls/],
      [["--host", "h", "--forbidden-peer", "10.0.0"], /--forbidden-peer 10\.0\.0: not an IP address/],
      [["--host", "h", "--timeout-ms", "5s"], /--timeout-ms 5s: use a whole number of milliseconds from 100 to 60000/],
      [["--host", "h"], /--host needs the shared secret in the TURN_AUTH_SECRET environment variable/, ""],
      [["--hots", "h"], /Unknown option '--hots'/],
      [["--stack", "local"], /stack "local" is the local target, whose secret lives for one run: npm run --silent local -- --json > ice\.json/],
      [["--stack", "aws-example"], /Pulumi\.aws-example\.yaml: reading its secrets needs the stack's passphrase in PULUMI_CONFIG_PASSPHRASE/],
      [["--stack", "no-such-stack"], /Pulumi\.no-such-stack\.yaml/],
      [["--ice-servers", "/nonexistent.json"], /--ice-servers \/nonexistent\.json: cannot read it \(ENOENT\)/],
      [["--host", "h", "--ca", "/nonexistent.pem"], /--ca \/nonexistent\.pem: cannot read it \(ENOENT\)/],
    ];
    for (const [args, message, secret] of cases) {
      const run = probe(secret ?? LAB_SECRET, ...args);
      assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(" "));
      assert.equal(run.stdout, "", "nothing probed");
    }
  });
});
