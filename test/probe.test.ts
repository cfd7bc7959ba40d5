// Runtime: `npm run probe` against real coturn servers in the namespace lab: the production config passes; a wrong
// secret and a server without a deny list fail with a reason a person can act on. Needs root (CI runs as root).
// The TLS certificate check also runs against plain TLS servers on loopback (openssl-made certificates, no root): the
// served names, issuer and days to expiry are reported; too few days, a name that is not the host, or an untrusted
// chain fail; and --min-cert-days takes only a whole number of days.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:tls";
import { after, before, describe, test } from "node:test";
import { CLOUD_LAB, LAB_SECRET, applySecretSet, createUserDb, labConf, productionConf, startCloudLab, type CloudLab } from "../lab/cloudLab";
import { STACKS_DIR } from "../src/config/stackFile";
import { newEncryptionSalt } from "../src/config/passphraseSecrets";
import { createFakePulumi } from "./support/fakePulumi";
import { LAB_INTERNET, waitFor } from "../lab/netlab";
import { makeSelfSignedCertificate } from "../src/local/selfSigned";
import { subjectAltNames } from "../src/probe/certificate";
import { checkCertificate, type CheckResult } from "../src/probe/probeChecks";

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

  test("a global stack: every server of every region is probed at its own address under the shared name", () => {
    // The global example's regions output, as `pulumi stack output regions --json` gives it: the production server,
    // and the open relay as a drained region (still probed: it still carries calls that began before the drain).
    const regions = [
      { stack: "organization/coturn/aws-eu-central-1", pool: "aws-eu-central-1", place: "aws eu-central-1", drained: false, servers: [{ name: "aws-example", publicIp: CLOUD_LAB.publicIp, domain: "eu-central-1.turn.example.com" }] },
      { stack: "organization/coturn/open", pool: "open-relay", place: "aws us-east-1", drained: true, servers: [{ name: "open", publicIp: OPEN_RELAY_IP, domain: "open.example.com" }] },
    ];
    const fake = createFakePulumi({ stacks: { "global-example": { config: {}, outputs: { regions } } } });
    try {
      const result = spawnSync("ip", ["netns", "exec", cloud.hosts.client, process.execPath, "--import", "tsx", PROBE, "--stack", "global-example", "--ca", cloud.certificatePath, "--transports", "udp,tls"], {
        encoding: "utf8",
        env: fake.env({ TURN_AUTH_SECRET: LAB_SECRET }),
        timeout: 90_000,
      });
      assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /Probing 2 servers in 2 regions behind turn\.example\.com/);
      const lines = result.stdout.split("\n");
      assert.match(lines.find((l) => l.startsWith("aws-eu-central-1 ")) ?? "", new RegExp(`aws-example\\s+${CLOUD_LAB.publicIp.replace(/\./g, "\\.")}\\s+\\d+/\\d+\\s+pass`));
      // The open relay fails twice over: its certificate does not name the shared name, and its deny list is open.
      assert.match(lines.find((l) => l.startsWith("open-relay (drained) ")) ?? "", /open\s+11\.0\.0\.50\s+\d+\/\d+\s+FAIL\s+\S/);
      assert.match(result.stdout, /1 of 2 servers FAILED/);
      assert.ok(!result.stdout.includes(LAB_SECRET) && !result.stderr.includes(LAB_SECRET));
      assert.ok(fake.invocations().some((i) => i.argv.join(" ") === "stack output regions --json --stack global-example"));
    } finally {
      fake.cleanup();
    }
  });

  test("a region of several servers: each server is probed at its own address under the region's name", () => {
    // A stack file with a known passphrase, written where the probe reads stacks; two servers: the production one and
    // the open relay. The fake pulumi answers `stack output servers`.
    const name = `tst-probe-${process.pid}`;
    const file = join(STACKS_DIR, `Pulumi.${name}.yaml`);
    const { encryptionSalt, crypter } = newEncryptionSalt("pass phrase");
    const example = readFileSync(join(STACKS_DIR, "Pulumi.aws-example.yaml"), "utf8")
      .replace(/^encryptionsalt: .*$/m, `encryptionsalt: ${encryptionSalt}`)
      .replace(/secure: v1:.*$/gm, `secure: ${crypter.encrypt(LAB_SECRET)}`)
      .replace(/^ {2}coturn:regionDomain: .*$/m, "  coturn:regionDomain: turn.example.com\n  coturn:serverCount: 2");
    writeFileSync(file, example);
    const servers = [
      { name, domain: "s1.turn.example.com", publicIp: CLOUD_LAB.publicIp, instanceId: "i-1" },
      { name: `${name}-2`, domain: "s2.turn.example.com", publicIp: OPEN_RELAY_IP, instanceId: "i-2" },
    ];
    const fake = createFakePulumi({ stacks: { [name]: { config: {}, outputs: { servers } } } });
    try {
      const result = spawnSync("ip", ["netns", "exec", cloud.hosts.client, process.execPath, "--import", "tsx", PROBE, "--stack", name, "--ca", cloud.certificatePath, "--transports", "udp"], {
        encoding: "utf8",
        env: fake.env({ PULUMI_CONFIG_PASSPHRASE: "pass phrase", TURN_AUTH_SECRET: undefined }),
        timeout: 90_000,
      });
      assert.equal(result.status, 1, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /Probing 2 servers behind turn\.example\.com/);
      const lines = result.stdout.split("\n");
      assert.match(lines.find((l) => l.includes(` ${name} `)) ?? "", /\s+pass\s*$/);
      assert.match(lines.find((l) => l.includes(`${name}-2`)) ?? "", /FAIL\s+peer 10\.0\.0\.1 refused \(udp\): relay ACCEPTED/);
      assert.ok(!result.stdout.includes(LAB_SECRET) && !result.stderr.includes(LAB_SECRET));
    } finally {
      fake.cleanup();
      rmSync(file, { force: true });
    }
  });

  test("a global stack without the regions' secret is refused with the fix", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", PROBE, "--stack", "global-example"], {
      encoding: "utf8",
      env: { ...process.env, TURN_AUTH_SECRET: "" },
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /global stack "global-example" has no secret of its own: put the regions' common coturn:authSecret in TURN_AUTH_SECRET/);
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

/** A certificate and key openssl made for one loopback test server. */
interface LoopbackCertificate {
  /** PEM certificate (also what a client passes as `ca` to trust it). */
  readonly pem: string;
  /** Path of the PEM certificate. */
  readonly path: string;
  /** PEM private key. */
  readonly key: string;
}

/** A self-signed EC certificate valid for `days` from now, with `subjectAltName` when given (none otherwise). */
function makeCertificate(dir: string, label: string, days: number, commonName: string, subjectAltName?: string): LoopbackCertificate {
  const path = join(dir, `${label}.pem`);
  const keyPath = join(dir, `${label}.key`);
  const result = spawnSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", String(days),
      "-subj", `/CN=${commonName}`, ...(subjectAltName ? ["-addext", `subjectAltName=${subjectAltName}`] : []),
      "-keyout", keyPath, "-out", path,
    ],
    { encoding: "utf8" },
  );
  assert.equal(result.status, 0, `openssl: ${result.stderr}`);
  return { pem: readFileSync(path, "utf8"), path, key: readFileSync(keyPath, "utf8") };
}

/** A TLS server on 127.0.0.1 that completes handshakes and hangs up: enough to read its certificate. */
interface LoopbackTlsServer {
  /** Its port. */
  readonly port: number;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

async function serveCertificate(certificate: LoopbackCertificate): Promise<LoopbackTlsServer> {
  const sockets = new Set<Socket>();
  const server = createServer({ key: certificate.key, cert: certificate.pem }, (socket) => socket.destroy());
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("tlsClientError", () => undefined); // a client hanging up mid-handshake is no server failure
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs the probe CLI without blocking this process, whose loopback servers must keep answering meanwhile. */
function runProbeCli(...args: string[]): Promise<ProbeRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", PROBE, ...args], { encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (error as { code?: unknown }).code : 0;
      resolve({ status: typeof code === "number" ? code : null, stdout, stderr });
    });
  });
}

describe("the TLS certificate check against TLS servers on loopback", () => {
  // openssl's notAfter is its notBefore (now, whole seconds) plus the days, so a certificate made for 60 days has 59
  // whole days left when checked moments later, and one made for 3 days has 2.
  let dir: string;
  let named60: LoopbackCertificate;
  let named3: LoopbackCertificate;
  let otherName60: LoopbackCertificate;
  let noSan60: LoopbackCertificate;
  const servers: LoopbackTlsServer[] = [];
  const ports = new Map<LoopbackCertificate, number>();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "coturn-probe-certificates-"));
    const names = "DNS:turn.example.test,DNS:localhost,IP:127.0.0.1";
    named60 = makeCertificate(dir, "named60", 60, "turn.example.test", names);
    named3 = makeCertificate(dir, "named3", 3, "turn.example.test", names);
    otherName60 = makeCertificate(dir, "other60", 60, "other.example.test", "DNS:other.example.test");
    noSan60 = makeCertificate(dir, "nosan60", 60, "127.0.0.1"); // the name only in the subject CN, which browsers ignore
    for (const certificate of [named60, named3, otherName60, noSan60]) {
      const server = await serveCertificate(certificate);
      servers.push(server);
      ports.set(certificate, server.port);
    }
  });
  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Checks a served certificate, trusting it as its own CA unless `tls` says otherwise. */
  const check = (
    certificate: LoopbackCertificate,
    options: { minCertificateDays?: number; tls?: { ca?: string; servername?: string; rejectUnauthorized?: boolean } } = {},
  ): Promise<CheckResult> =>
    checkCertificate({
      host: "127.0.0.1",
      ports: { plain: 1, tls: ports.get(certificate) ?? 0 },
      tls: options.tls ?? { ca: certificate.pem },
      timeoutMs: 5000,
      ...(options.minCertificateDays !== undefined ? { minCertificateDays: options.minCertificateDays } : {}),
    });

  test("reports the served names, issuer, notAfter and days left, and passes with days to spare", async () => {
    const result = await check(named60);
    assert.equal(result.ok, true, result.detail);
    const notAfter = new Date(Date.parse(new X509Certificate(named60.pem).validTo)).toISOString();
    assert.deepEqual(result.certificate, {
      connectedAs: "127.0.0.1",
      protocol: "TLSv1.3",
      trusted: true,
      names: ["turn.example.test", "localhost"],
      ipAddresses: ["127.0.0.1"],
      namesHost: true,
      issuer: "CN=turn.example.test",
      notAfter,
      daysLeft: 59,
    });
    assert.equal(
      result.detail,
      `TLSv1.3, trusted, names turn.example.test localhost IP 127.0.0.1, issuer CN=turn.example.test, expires ${notAfter} (59 days left)`,
    );
  });

  test("fails below the minimum days left and passes at or above it (default 14)", async () => {
    const soon = await check(named3);
    assert.equal(soon.ok, false);
    assert.equal(soon.certificate?.daysLeft, 2);
    assert.match(soon.detail, /\(2 days left\): 2 days left is under the 14-day minimum: renew now/);
    assert.equal((await check(named3, { minCertificateDays: 3 })).ok, false, "2 days left, 3 required");
    assert.equal((await check(named3, { minCertificateDays: 2 })).ok, true, "2 days left, 2 required");
    assert.equal((await check(named3, { minCertificateDays: 0 })).ok, true, "0 only fails an expired certificate");
    assert.equal((await check(named60, { minCertificateDays: 59 })).ok, true);
    const tooFew = await check(named60, { minCertificateDays: 60 });
    assert.equal(tooFew.ok, false);
    assert.match(tooFew.detail, /59 days left is under the 60-day minimum/);
  });

  test("fails when the certificate does not name the host connected as, still showing what it names", async () => {
    const other = await check(otherName60);
    assert.equal(other.ok, false);
    assert.equal(other.certificate?.namesHost, false);
    assert.deepEqual(other.certificate?.names, ["other.example.test"]);
    assert.match(
      other.detail,
      /names other\.example\.test, .*\(59 days left\): does not name 127\.0\.0\.1 \(it names other\.example\.test\): browsers will refuse turns: to 127\.0\.0\.1/,
    );
    const cnOnly = await check(noSan60);
    assert.equal(cnOnly.ok, false, "a name only in the subject CN does not count");
    assert.match(cnOnly.detail, /names \(none\), .*does not name 127\.0\.0\.1 \(it names nothing in subjectAltName; the subject CN does not count\)/);
    const insecure = await check(otherName60, { tls: { rejectUnauthorized: false } });
    assert.equal(insecure.ok, false, "--insecure-tls waives trust, not the name");
    assert.match(insecure.detail, /does not name 127\.0\.0\.1/);
  });

  test("checks the name given as servername (SNI) when there is one", async () => {
    assert.equal((await check(named60, { tls: { ca: named60.pem, servername: "turn.example.test" } })).ok, true);
    const wrong = await check(named60, { tls: { ca: named60.pem, servername: "wrong.example.test" } });
    assert.equal(wrong.ok, false);
    assert.equal(wrong.certificate?.connectedAs, "wrong.example.test");
    assert.match(wrong.detail, /does not name wrong\.example\.test \(it names turn\.example\.test, localhost, 127\.0\.0\.1\)/);
  });

  test("fails when the certificate is not trusted, unless verification is off (--insecure-tls)", async () => {
    const untrusted = await check(named60, { tls: {} });
    assert.equal(untrusted.ok, false);
    assert.equal(untrusted.certificate?.trustError, "DEPTH_ZERO_SELF_SIGNED_CERT");
    assert.match(untrusted.detail, /^TLSv1\.3, NOT trusted, names turn\.example\.test .*: not trusted \(self-signed\): browsers will refuse it/);
    const insecure = await check(named60, { tls: { rejectUnauthorized: false } });
    assert.equal(insecure.ok, true, insecure.detail);
    assert.match(insecure.detail, /^TLSv1\.3, not verified \(--insecure-tls\), names turn\.example\.test/);
  });

  test("a listener that is not there fails with the cause", async () => {
    const server = await serveCertificate(named60);
    const port = server.port;
    await server.close();
    const result = await checkCertificate({ host: "127.0.0.1", ports: { plain: 1, tls: port }, tls: { ca: named60.pem }, timeoutMs: 5000 });
    assert.equal(result.ok, false);
    assert.equal(result.certificate, undefined);
    assert.match(result.detail, /^TLS handshake failed: connection refused/);
  });

  test("subjectAltName text is split into entries, quoted values included", () => {
    assert.deepEqual(subjectAltNames('DNS:a.example, IP Address:127.0.0.1, DNS:"b,c.example", email:x@example.test'), [
      { kind: "DNS", value: "a.example" },
      { kind: "IP Address", value: "127.0.0.1" },
      { kind: "DNS", value: "b,c.example" },
      { kind: "email", value: "x@example.test" },
    ]);
    assert.deepEqual(subjectAltNames(undefined), []);
  });

  test("npm run probe shows the certificate in the table and in --json, and --min-cert-days moves the threshold", { timeout: 120_000 }, async () => {
    const iceServers = join(dir, "ice.json");
    writeFileSync(iceServers, JSON.stringify([{ urls: `turns:127.0.0.1:${ports.get(named3)}?transport=tcp`, username: "u", credential: "p" }]));
    const common = ["--ice-servers", iceServers, "--ca", named3.path, "--transports", "tls", "--timeout-ms", "2000"];
    // Both at once: each waits out the TURN allocations this plain TLS server never answers.
    const [table, json] = await Promise.all([runProbeCli(...common), runProbeCli(...common, "--json", "--min-cert-days", "2")]);

    assert.equal(table.status, 1, table.stderr);
    const row = table.stdout.split("\n").find((line) => line.startsWith("TLS certificate")) ?? "";
    assert.match(row, /^TLS certificate\s+tls\s+FAIL\s+TLSv1\.3, trusted, names turn\.example\.test localhost IP 127\.0\.0\.1, issuer CN=turn\.example\.test, expires \S+ \(2 days left\): 2 days left is under the 14-day minimum: renew now/);

    const report = JSON.parse(json.stdout) as { results: CheckResult[] };
    const certificateRow = report.results.find((r) => r.check === "TLS certificate");
    assert.equal(certificateRow?.ok, true, certificateRow?.detail);
    assert.deepEqual(certificateRow?.certificate?.names, ["turn.example.test", "localhost"]);
    assert.equal(certificateRow?.certificate?.daysLeft, 2);
    assert.equal(certificateRow?.certificate?.issuer, "CN=turn.example.test");
    assert.equal(certificateRow?.certificate?.notAfter, new Date(Date.parse(new X509Certificate(named3.pem).validTo)).toISOString());
  });

  test("--min-cert-days takes a whole number of days, 0 or more; anything else exits 2 naming the flag, value and fix", async () => {
    const cases = ["abc", "-1", "1.5", "", "7d"].flatMap((value) => [
      { value, args: ["--min-cert-days", value] },
      { value, args: [`--min-cert-days=${value}`] },
    ]);
    const runs = await Promise.all(cases.map(({ args }) => runProbeCli("--host", "127.0.0.1", ...args)));
    cases.forEach(({ value, args }, i) => {
      const run = runs[i];
      assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.ok(
        run.stderr.startsWith(`probe: --min-cert-days ${value}: use a whole number of days, 0 or more (e.g. --min-cert-days 14)\n`),
        `${args.join(" ")}: ${run.stderr}`,
      );
      assert.equal(run.stdout, "", "nothing probed");
    });
  });
});
