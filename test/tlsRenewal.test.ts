// Runtime: the VM's TLS certificate manager (templates/coturn-tls.sh, as rendered) on a running coturn with the
// aws-example production config, coturn running as user turnserver as under systemd. Let's Encrypt is played by
// Debian's pebble, validating DNS-01 against pebble-challtestsrv; the real certbot with its Cloudflare plugin
// creates the `_acme-challenge` TXT records through a stand-in of the Cloudflare API (see lab/acmeLab.ts).
// Proves: issuance through the Cloudflare DNS step, a renewal during a TURN-over-TLS call (SIGUSR2: new handshakes get
// the new certificate, the call loses nothing, coturn is never restarted), the refusals that keep the current
// certificate serving (unreadable folder, refused DNS token, unreachable CA), and the provided and self-signed modes.
// Needs root (CI runs as root): `sudo bash scripts/test.sh`.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { certificateNames } from "../src/plan/dns";
import { parseInstalledCertificate, tlsDeliveryDocument } from "../src/render/tlsDocument";
import { ACME_LAB, startAcmeLab, type AcmeLab } from "../lab/acmeLab";
import { CLOUD_LAB, LAB_SECRET, runLabJob, startCloudLab, type CloudLab } from "../lab/cloudLab";
import type { Outcome, StreamReport } from "../lab/labClient";
import { waitFor, type LabProcess, type LabRun } from "../lab/netlab";
import { exampleStackConfig } from "./support/program";

const STACK = "aws-example";
const ECHO_PORT = 3480;
/** The Cloudflare API token of the lab (the stand-in accepts only it). */
const TOKEN = "cfLabToken_4vQ9xR2mT7kW1pZ8nB5cY3hJ6dF0sGaL";
/** A call over TURN/TLS: 50 packets of 160 bytes per second for 9 s, refreshed every 2 s. */
const CALL = { packetsPerSecond: 50, durationMs: 9000, refreshEveryMs: 2000 } as const;
const TLS_SERVER = { host: CLOUD_LAB.publicIp, port: 5349 };

/** What `coturn-tls` prints: the line `parseInstalledCertificate` reads, with everything else it says. */
interface Reported {
  mode: string;
  names: string[];
  notAfter: string;
  daysLeft: number;
  issuer: string;
  serial: string;
  sha256: string;
  served: { sha256: string; matches: boolean } | null;
  changed?: boolean;
}

/** The certificate a new TLS handshake from the lab internet gets (through the 1:1 NAT, as a client does). */
interface Served {
  fingerprint256: string;
  serialNumber: string;
  names: string[];
  issuer: string;
}

describe("coturn-tls on a running coturn (aws-example's production config, coturn as user turnserver)", () => {
  let cloud: CloudLab;
  let acme: AcmeLab;
  let coturnPid: number;
  let stateDir: string;
  let lineage: string;
  let readyMarker: string;
  /** Holds a `logger` that writes what it would send to syslog into `syslogFile` (the lab has no syslog). */
  let fakeBin: string;
  let syslogFile: string;
  const syslog = (): string[] => (existsSync(syslogFile) ? readFileSync(syslogFile, "utf8").split("\n").filter(Boolean) : []);
  /** stdout and stderr of every coturn-tls run: none may hold the token or a private key. */
  const said: string[] = [];
  const timings: Record<string, number> = {};
  const config = exampleStackConfig(STACK);
  const names = certificateNames(config);

  const coturnTls = async (action: string, extra: string[] = [], input?: string): Promise<LabRun> => {
    const run = await cloud.lab.run(
      cloud.hosts.turn,
      cloud.tlsScript,
      [
        action,
        "--config", cloud.confPath, "--state-dir", stateDir, "--pidfile", cloud.pidFile,
        // What coturn-bootstrap writes once the VM's first boot is done (deliver waits for it).
        ...(action === "deliver" ? ["--ready-marker", readyMarker] : []),
        ...extra,
      ],
      { input: input ?? "", env: { ...process.env, ...acme.clientEnv, PATH: `${fakeBin}:${process.env.PATH ?? "/usr/bin:/bin"}` }, timeoutMs: 60_000 },
    );
    said.push(run.stdout, run.stderr);
    return run;
  };
  const succeeded = (run: LabRun, what: string): Reported => {
    assert.equal(run.status, 0, `${what} failed:\n${run.stderr}\n${run.stdout}`);
    const lines = run.stdout.trim().split("\n");
    assert.equal(lines.length, 1, `${what} prints exactly one line on stdout: ${run.stdout}`);
    parseInstalledCertificate(run.stdout);
    return JSON.parse(lines[0]) as Reported;
  };
  const served = (): Served => {
    const out = execFileSync(
      "ip",
      ["netns", "exec", cloud.hosts.client, "timeout", "5", "openssl", "s_client", "-connect", `${TLS_SERVER.host}:${TLS_SERVER.port}`, "-servername", config.domain],
      { encoding: "utf8", input: "", stdio: ["pipe", "pipe", "ignore"] },
    );
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(out);
    assert.ok(pem, `coturn served no certificate on ${TLS_SERVER.host}:${TLS_SERVER.port}: ${out}`);
    const certificate = new X509Certificate(pem[0]);
    return {
      fingerprint256: certificate.fingerprint256,
      serialNumber: certificate.serialNumber,
      names: (certificate.subjectAltName ?? "").split(", ").filter((n) => n.startsWith("DNS:")).map((n) => n.slice(4)).sort(),
      issuer: certificate.issuer,
    };
  };
  const fingerprintOf = (path: string): string => new X509Certificate(readFileSync(path)).fingerprint256;
  const pidNow = (): number => Number(readFileSync(cloud.pidFile, "utf8").trim());
  /** How many times coturn has reloaded its certificate (it logs this line on each SIGUSR2). */
  const reloads = (): number => cloud.log().split("\n").filter((line) => line.endsWith("Reloading TLS certificates and keys")).length;
  const credentials = (user: string): { username: string; password: string } => {
    const minted = mintTurnCredential({ secret: LAB_SECRET, user, ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  };
  const acmeDocument = (): string =>
    JSON.stringify(
      tlsDeliveryDocument({
        ...config,
        // No email: the account is registered without a contact address (Let's Encrypt sends no expiry mail anyway).
        tls: { mode: "acme", ca: "staging", directoryUrl: acme.directoryUrl, dnsApiToken: TOKEN },
      }),
    );
  /** Says the current certificate keeps serving, with its expiry, as every refusal must. */
  const keepsServing = /the current certificate keeps serving until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ days\)/;

  before(async () => {
    const started = Date.now();
    cloud = await startCloudLab({ stack: STACK, runAsTurnserver: true, tag: `tls${process.pid}` });
    const labDir = dirname(cloud.confPath);
    stateDir = join(labDir, "acme");
    lineage = join(stateDir, "certbot", "config", "live", "coturn");
    readyMarker = join(labDir, "bootstrapped");
    writeFileSync(readyMarker, new Date().toISOString());
    fakeBin = join(labDir, "bin");
    syslogFile = join(labDir, "syslog");
    mkdirSync(fakeBin);
    writeFileSync(join(fakeBin, "logger"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${syslogFile}\n`, { mode: 0o755 });
    acme = await startAcmeLab(cloud.lab, labDir, TOKEN);
    cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
    coturnPid = pidNow();
    assert.equal(coturnPid, cloud.coturn.child.pid, "coturn's pid file names the process the lab started");
    assert.equal(execFileSync("ps", ["-o", "user=", "-p", String(coturnPid)], { encoding: "utf8" }).trim(), "turnserver", "coturn runs as turnserver");
    timings.labStartMs = Date.now() - started;
  });
  after(async () => {
    await cloud?.destroy();
    if (Object.keys(timings).length > 0) console.log(`# coturn-tls timings: ${JSON.stringify(timings)}`);
  });

  test("deliver (acme): certbot gets a certificate through the Cloudflare DNS step, coturn serves it", async () => {
    const before = served();
    const run = await coturnTls("deliver", [], acmeDocument());
    timings.deliverAcmeMs = run.ms;
    const reported = succeeded(run, "deliver acme");
    assert.equal(reported.mode, "acme");
    assert.deepEqual(reported.names, [...names].sort());
    assert.match(reported.issuer, /^CN=Pebble Intermediate CA [0-9a-f]+$/);
    assert.equal(reported.changed, true);
    assert.deepEqual(reported.served, { sha256: reported.sha256, matches: true });
    assert.ok(reported.daysLeft > 30, `pebble issues long-lived certificates: ${reported.daysLeft}`);

    // A client on the internet gets it, through the NAT, on a new handshake; it chains to pebble's root.
    const now = served();
    assert.notEqual(now.fingerprint256, before.fingerprint256);
    assert.equal(now.fingerprint256, reported.sha256);
    assert.deepEqual(now.names, [...names].sort());
    const root = join(stateDir, "..", "pebble-root.pem");
    writeFileSync(root, acme.pebbleRoot());
    execFileSync("openssl", ["verify", "-CAfile", root, "-untrusted", cloud.certificatePath, cloud.certificatePath], { stdio: "pipe" });

    // The Cloudflare API saw exactly the plugin's calls, each with the token as a Bearer token.
    const calls = acme.cloudflareCalls();
    assert.ok(calls.length > 0, "certbot called the Cloudflare API");
    assert.deepEqual(calls.filter((c) => c.authorization !== `Bearer ${TOKEN}`), [], "every call carries Authorization: Bearer <token>");
    assert.deepEqual(calls.filter((c) => c.status !== 200), [], "every call succeeded");
    const created = calls.filter((c) => c.method === "POST");
    assert.deepEqual(
      created.map((c) => c.body?.name).sort(),
      names.map((n) => `_acme-challenge.${n}`).sort(),
      "one TXT record per name, named _acme-challenge.<name>",
    );
    for (const c of created) {
      assert.equal(c.path, `/client/v4/zones/${ACME_LAB.zoneId}/dns_records`);
      assert.equal(c.body?.type, "TXT");
      assert.equal(c.body?.ttl, 120);
      assert.match(c.body?.content ?? "", /^[A-Za-z0-9_-]{43}$/, "the content is a key authorization digest");
    }
    assert.equal(calls.filter((c) => c.method === "DELETE").length, created.length, "every TXT record was deleted afterwards");
    const zoneLookups = calls.filter((c) => c.method === "GET" && c.path === "/client/v4/zones");
    assert.ok(zoneLookups.some((c) => c.query.name === ACME_LAB.zone && c.query.per_page === "1"), JSON.stringify(zoneLookups));

    // Files: the token only in the credentials file (root 0600 in a 0700 folder), coturn's copies root:turnserver 0640.
    const credentialsFile = join(stateDir, "cloudflare.ini");
    assert.equal(statSync(stateDir).mode & 0o777, 0o700);
    assert.equal(statSync(credentialsFile).mode & 0o777, 0o600);
    assert.match(readFileSync(credentialsFile, "utf8"), new RegExp(`^dns_cloudflare_api_token = ${TOKEN}$`, "m"));
    assert.doesNotMatch(readFileSync(join(stateDir, "settings.json"), "utf8"), new RegExp(TOKEN));
    const turnserverGid = Number(execFileSync("getent", ["group", "turnserver"], { encoding: "utf8" }).split(":")[2]);
    for (const path of [cloud.certificatePath, cloud.privateKeyPath]) {
      const s = statSync(path);
      assert.deepEqual([s.uid, s.gid, s.mode & 0o777], [0, turnserverGid, 0o640], path);
    }
    assert.match(
      readFileSync(join(stateDir, "certbot", "config", "renewal", "coturn.conf"), "utf8"),
      new RegExp(`^renew_hook = ${cloud.tlsScript} install --config ${cloud.confPath} --state-dir ${stateDir} --pidfile ${cloud.pidFile}$`, "m"),
      "certbot stored the deploy hook for renewals",
    );
  });

  test("deliver (acme) again with the same document changes nothing and asks no one", async () => {
    const callsBefore = acme.cloudflareCalls().length;
    const installed = fingerprintOf(cloud.certificatePath);
    const run = await coturnTls("deliver", [], acmeDocument());
    timings.deliverAgainMs = run.ms;
    const reported = succeeded(run, "deliver acme again");
    assert.equal(reported.changed, false);
    assert.equal(reported.sha256, installed);
    assert.equal(acme.cloudflareCalls().length, callsBefore, "no Cloudflare call");
    assert.ok(run.ms < 5000, `a no-op deliver is fast: ${run.ms} ms`);
  });

  test("deliver (acme) with other names gets a certificate for exactly those names", async () => {
    const document = (certificateNamesNow: string[]): string => JSON.stringify({ ...JSON.parse(acmeDocument()), names: certificateNamesNow });
    const fewer = succeeded(await coturnTls("deliver", [], document([config.domain])), "deliver with one name");
    assert.equal(fewer.changed, true);
    assert.deepEqual(fewer.names, [config.domain]);
    assert.deepEqual(served().names, [config.domain]);
    const back = await coturnTls("deliver", [], acmeDocument());
    timings.deliverNamesChangedMs = back.ms;
    const both = succeeded(back, "deliver with both names again");
    assert.match(back.stderr, /the names changed \(the certificate has: turn\.example\.com\)/);
    assert.deepEqual(both.names, [...names].sort());
    assert.deepEqual(served().names, [...names].sort());
    assert.match(readFileSync(join(stateDir, "certbot", "config", "renewal", "coturn.conf"), "utf8"), /^renew_hook = /m, "still one lineage, hook kept");
    assert.deepEqual(readdirSync(join(stateDir, "certbot", "config", "live")).filter((n) => n !== "README"), ["coturn"]);
  });

  test("renew --force during a TURN-over-TLS call: SIGUSR2 loads the new certificate, the call loses nothing", async () => {
    const old = served();
    const call: LabProcess = cloud.lab.start(cloud.hosts.client, process.execPath, [
      "--import",
      "tsx",
      join(__dirname, "..", "lab", "labClient.ts"),
      JSON.stringify({
        job: "stream",
        server: TLS_SERVER,
        transport: "tls",
        credentials: credentials("call-during-renewal"),
        peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
        ...CALL,
      }),
    ]);
    await waitFor("the TLS call to relay media", () => {
      if (call.child.exitCode !== null) throw new Error(`the call ended early: ${call.output()}`);
      return call.output().includes('"ready":true');
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const reloadsBefore = reloads();
    const run = await coturnTls("renew", ["--force"]);
    timings.renewDuringCallMs = run.ms;
    const reported = succeeded(run, "renew --force");
    assert.match(run.stderr, /reloaded it with SIGUSR2/);
    assert.equal(reloads(), reloadsBefore + 1, "one SIGUSR2");

    const now = served();
    assert.notEqual(now.fingerprint256, old.fingerprint256, "a new handshake gets the renewed certificate");
    assert.notEqual(now.serialNumber, old.serialNumber);
    assert.equal(now.fingerprint256, reported.sha256);
    assert.equal(now.fingerprint256, fingerprintOf(join(lineage, "cert.pem")), "the one certbot just renewed");
    assert.deepEqual(now.names, [...names].sort());
    // A new TURN-over-TLS allocation works with it too.
    const fresh = runLabJob<Outcome>(cloud.lab, cloud.hosts.client, { job: "allocate", server: TLS_SERVER, transport: "tls", credentials: credentials("after-renewal") });
    assert.equal(fresh.ok, true, JSON.stringify(fresh));

    const ended = await call.exited;
    assert.equal(ended, 0, `the call's client failed: ${call.output()}`);
    const report = JSON.parse(call.output().trim().split("\n").at(-1) ?? "{}") as StreamReport;
    assert.equal(report.relayed.host, CLOUD_LAB.publicIp);
    assert.equal(report.sent, (CALL.durationMs / 1000) * CALL.packetsPerSecond);
    assert.deepEqual({ lost: report.lost, firstLost: report.firstLost }, { lost: 0, firstLost: [] }, `${report.echoed}/${report.sent} echoed`);
    assert.deepEqual(report.refreshes.filter((r) => !r.ok), [], "the allocation's refreshes kept working");
    assert.equal(pidNow(), coturnPid, "the same coturn process");
  });

  test("an unreadable certificate folder: nothing is replaced, coturn is not signalled, the error says how to fix it", async () => {
    const before = served();
    const reloadsBefore = reloads();
    const originalMode = statSync(cloud.tlsDir).mode & 0o777;
    execFileSync("chown", ["root:root", cloud.tlsDir]);
    chmodSync(cloud.tlsDir, 0o700);
    try {
      const renewal = await coturnTls("renew", ["--force"]);
      timings.renewRefusedPermissionsMs = renewal.ms;
      assert.equal(renewal.status, 1, renewal.stderr);
      const expected = [
        `the directory ${cloud.tlsDir} (root:root, mode 700) is not searchable by user turnserver`,
        `Fix: chown root:turnserver ${cloud.tlsDir} && chmod 0750 ${cloud.tlsDir}`,
        "coturn was not signalled",
      ];
      for (const text of expected) assert.ok(renewal.stderr.includes(text), `stderr names "${text}":\n${renewal.stderr}`);
      assert.match(renewal.stderr, /TLS certificate renewal FAILED: certbot renewed the certificate but it could not be installed/);
      assert.match(renewal.stderr, keepsServing);
      assert.equal(renewal.stdout, "");
      assert.match(syslog().at(-1) ?? "", /^-p daemon\.crit -t coturn-tls -- TLS certificate renewal FAILED: certbot renewed the certificate but it could not be installed/);

      // The deploy hook by hand says the same.
      const install = await coturnTls("install", ["--from", lineage]);
      assert.equal(install.status, 1, install.stderr);
      assert.ok(install.stderr.includes(expected[1]), install.stderr);
      assert.match(install.stderr, keepsServing);

      assert.deepEqual(readdirSync(cloud.tlsDir).sort(), ["fullchain.pem", "privkey.pem"], "the staged copies were removed");
      assert.equal(served().fingerprint256, before.fingerprint256, "the current certificate keeps serving");
      assert.equal(reloads(), reloadsBefore, "coturn got no SIGUSR2");
      assert.equal(pidNow(), coturnPid);
    } finally {
      execFileSync("chown", ["root:turnserver", cloud.tlsDir]);
      chmodSync(cloud.tlsDir, originalMode);
    }
    // Fixed as the message says: the next renew installs the certificate certbot already holds (certbot itself would
    // not renew it again for months).
    const callsBefore = acme.cloudflareCalls().length;
    const healed = succeeded(await coturnTls("renew"), "renew after the fix");
    assert.equal(acme.cloudflareCalls().length, callsBefore, "no new issuance");
    assert.equal(healed.sha256, fingerprintOf(join(lineage, "cert.pem")));
    assert.equal(served().fingerprint256, healed.sha256);
    assert.notEqual(healed.sha256, before.fingerprint256);
    assert.equal(reloads(), reloadsBefore + 1);
  });

  test("a refused Cloudflare token or an unreachable CA: renew fails loudly, the current certificate keeps serving", async () => {
    const before = served();
    const reloadsBefore = reloads();
    acme.refuseEveryToken(true);
    let refused: LabRun;
    try {
      refused = await coturnTls("renew", ["--force"]);
    } finally {
      acme.refuseEveryToken(false);
    }
    timings.renewRefusedTokenMs = refused.ms;
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /TLS certificate renewal FAILED: certbot renew exited with 1/);
    assert.match(refused.stderr, keepsServing);
    assert.match(refused.stderr, /9109/, "certbot's own account of Cloudflare's answer is shown");
    assert.ok(acme.cloudflareCalls().some((c) => c.status === 403));
    assert.equal(served().fingerprint256, before.fingerprint256);
    // The same line goes to syslog at priority crit (what `journalctl -p crit` and alerting see).
    const critical = syslog().at(-1) ?? "";
    assert.match(critical, /^-p daemon\.crit -t coturn-tls -- TLS certificate renewal FAILED: certbot renew exited with 1 /);
    assert.match(critical, keepsServing);

    await acme.stopPebble();
    const unreachable = await coturnTls("renew", ["--force"]);
    timings.renewNoCaMs = unreachable.ms;
    assert.equal(unreachable.status, 1, unreachable.stderr);
    assert.match(unreachable.stderr, /TLS certificate renewal FAILED: certbot renew exited with 1/);
    assert.match(unreachable.stderr, keepsServing);
    assert.equal(served().fingerprint256, before.fingerprint256);
    assert.equal(reloads(), reloadsBefore, "coturn got no SIGUSR2");
    assert.equal(pidNow(), coturnPid);
  });

  test("deliver (provided): the chain and key are installed and served; a key of another certificate is refused", async () => {
    const dir = join(stateDir, "..", "provided");
    execFileSync("mkdir", ["-p", dir]);
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    const openssl = (...args: string[]): void => void execFileSync("openssl", args, { stdio: "pipe" });
    openssl("req", "-x509", ...ec, "-days", "3", "-subj", "/CN=Provided Test CA", "-keyout", join(dir, "ca.key"), "-out", join(dir, "ca.pem"));
    openssl("req", "-new", ...ec, "-subj", `/CN=${config.domain}`, "-keyout", join(dir, "leaf.key"), "-out", join(dir, "leaf.csr"));
    writeFileSync(join(dir, "leaf.ext"), `subjectAltName=${names.map((n) => `DNS:${n}`).join(",")}\n`);
    openssl("x509", "-req", "-in", join(dir, "leaf.csr"), "-CA", join(dir, "ca.pem"), "-CAkey", join(dir, "ca.key"), "-CAcreateserial", "-days", "60", "-extfile", join(dir, "leaf.ext"), "-out", join(dir, "leaf.pem"));
    const chain = readFileSync(join(dir, "leaf.pem"), "utf8") + readFileSync(join(dir, "ca.pem"), "utf8");
    const key = readFileSync(join(dir, "leaf.key"), "utf8");
    const otherKey = readFileSync(join(dir, "ca.key"), "utf8");
    const leafFingerprint = fingerprintOf(join(dir, "leaf.pem"));
    const document = (privateKey: string): string =>
      JSON.stringify(tlsDeliveryDocument({ ...config, tls: { mode: "provided", certificateChain: chain, privateKey } }));

    const run = await coturnTls("deliver", [], document(key));
    timings.deliverProvidedMs = run.ms;
    const reported = succeeded(run, "deliver provided");
    assert.equal(reported.mode, "provided");
    assert.equal(reported.sha256, leafFingerprint);
    assert.equal(reported.issuer, "CN=Provided Test CA");
    assert.deepEqual(reported.names, [...names].sort());
    assert.ok(reported.daysLeft >= 58 && reported.daysLeft <= 60, String(reported.daysLeft));
    assert.equal(served().fingerprint256, leafFingerprint);
    assert.equal(readFileSync(cloud.certificatePath, "utf8").trim(), chain.trim(), "the whole chain, leaf first");
    assert.equal(existsSync(join(stateDir, "cloudflare.ini")), false, "the DNS token is gone with the acme mode");

    const mismatched = await coturnTls("deliver", [], document(otherKey));
    assert.equal(mismatched.status, 1, mismatched.stderr);
    assert.match(mismatched.stderr, /"privateKey" does not belong to the first \(leaf\) certificate of "certificateChain"/);
    assert.match(mismatched.stderr, keepsServing);
    assert.equal(mismatched.stdout, "");
    assert.equal(served().fingerprint256, leafFingerprint, "the current certificate keeps serving");
    for (const pem of [key, otherKey]) {
      const body = pem.split("\n")[1];
      assert.ok(!said.some((text) => text.includes(body)), "no private key in any output");
    }
    // The timer: nothing to renew, no warning while more than 14 days are left.
    const logged = syslog().length;
    const renewal = await coturnTls("renew");
    succeeded(renewal, "renew (provided)");
    assert.doesNotMatch(renewal.stderr, /WARNING/);
    assert.equal(syslog().length, logged, "nothing logged");
  });

  test("deliver (self-signed): made for the names, installed and served; again, nothing changes", async () => {
    const document = JSON.stringify(tlsDeliveryDocument({ ...config, tls: { mode: "self-signed" } }));
    const run = await coturnTls("deliver", [], document);
    timings.deliverSelfSignedMs = run.ms;
    const reported = succeeded(run, "deliver self-signed");
    assert.equal(reported.mode, "self-signed");
    assert.deepEqual(reported.names, [...names].sort());
    assert.equal(reported.issuer, `CN=${names[0]}`);
    assert.equal(reported.changed, true);
    const now = served();
    assert.equal(now.fingerprint256, reported.sha256);
    assert.equal(now.issuer, `CN=${names[0]}`);
    const again = succeeded(await coturnTls("deliver", [], document), "deliver self-signed again");
    assert.equal(again.changed, false);
    assert.equal(again.sha256, reported.sha256);
    const status = succeeded(await coturnTls("status"), "status");
    assert.deepEqual(status.served, { sha256: reported.sha256, matches: true });
  });

  test("invalid documents are refused with the field named, the token never shown", async () => {
    const acmeDoc = JSON.parse(acmeDocument()) as Record<string, unknown>;
    const cases: Array<[Record<string, unknown> | string, RegExp]> = [
      ["not json", /stdin is not one JSON object/],
      [{ mode: "letsencrypt" }, /"mode" must be acme, provided or self-signed/],
      [{ ...acmeDoc, dnsApiToken: `${TOKEN} bad` }, /"dnsApiToken" is missing or is not a Cloudflare API token/],
      [{ ...acmeDoc, names: ["Turn.Example.com"] }, /"names" holds 'Turn\.Example\.com', which is not a lower-case DNS name/],
      [{ ...acmeDoc, server: "http://insecure.example/dir" }, /"server" is 'http:\/\/insecure\.example\/dir', not an https:\/\/ ACME directory URL/],
      [{ ...acmeDoc, extra: 1 }, /stdin has field\(s\) extra, which mode acme does not take/],
      [{ mode: "self-signed", names: [] }, /"names": a list of 1 to 100 DNS names/],
      [
        { mode: "provided", certificateChain: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", privateKey: "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n" },
        /"certificateChain" does not parse as a PEM certificate/,
      ],
    ];
    for (const [document, message] of cases) {
      const run = await coturnTls("deliver", [], typeof document === "string" ? document : JSON.stringify(document));
      assert.equal(run.status, 1, `${JSON.stringify(document).slice(0, 80)}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });

  test("coturn was never restarted, and the token is in no output, no log and no file left behind", () => {
    assert.equal(pidNow(), coturnPid);
    assert.equal(cloud.coturn.child.exitCode, null, "the lab's coturn process is still running");
    const starts = cloud.log().split("\n").filter((line) => /Coturn Version|RFC 3489\/5389\/5766\/5780\/6062\/6156 STUN\/TURN Server/.test(line));
    assert.equal(starts.length, 1, `coturn started more than once:\n${starts.join("\n")}`);
    // deliver acme, twice with changed names, the renewal during the call, the renewal after the fix, deliver provided,
    // deliver self-signed.
    assert.equal(reloads(), 7, "one SIGUSR2 per installed certificate, none for a refused one");
    assert.ok(!said.some((text) => text.includes(TOKEN)), "the token in coturn-tls output");
    assert.ok(!cloud.log().includes(TOKEN), "the token in coturn's log");
    assert.ok(!syslog().some((line) => line.includes(TOKEN)), "the token in syslog");
    const withToken: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile() && readFileSync(path, "utf8").includes(TOKEN)) withToken.push(path);
      }
    };
    walk(stateDir);
    assert.deepEqual(withToken, [], "certbot's logs and settings hold no token, and the credentials file left with the acme mode");
  });
});
