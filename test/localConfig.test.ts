/**
 * The local target's pieces that need no running coturn: the rendered turnserver.conf of the local stack (a
 * reviewed golden file, and proof that it is the cloud config with exactly the local swaps), the URLs, the status
 * line, the usage lines, the listen-address and relay-range checks, the STUN message and the certificate's SPKI hash.
 */
import assert from "node:assert/strict";
import { execSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { readStackFile } from "../src/config/stackFile";
import type { LocalStackConfig } from "../src/config/stackConfig";
import { validateLocalStackConfig, validateStackConfig } from "../src/config/validate";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { CoturnMissingError, DEBIAN_TURNSERVER, coturnVersion, findTurnserver } from "../src/local/coturnBinary";
import { listenAddressProblem } from "../src/local/listenAddress";
import { withLocalAuthSecret } from "../src/local/localStack";
import { busyPortMessage, listenerSockets, localRelayRangeProblem } from "../src/local/ports";
import { STUN_MAGIC_COOKIE, isBindingSuccess, stunBindingRequest } from "../src/local/readiness";
import { chromiumSpkiFlag, makeSelfSignedCertificate } from "../src/local/selfSigned";
import { listeningLine, usageLines } from "../src/local/summary";
import { iceServersTemplate, turnUrls } from "../src/plan/endpoints";
import { renderLocalTurnserverConf, renderTurnserverConf, type LocalRun } from "../src/render/vmFiles";
import { TEST_SECRET } from "./support/program";

const GOLDEN = join(__dirname, "golden", "local");
/** Stands for the run's secret in the golden file: the real one is made fresh for each run and never stored. */
const SECRET_PLACEHOLDER = "<secret made fresh for each run>";
/** A fixed temp folder, so the golden file does not change from run to run. */
const DIR = "/tmp/coturn-local-XXXXXX";

function localConfig(): LocalStackConfig {
  return validateLocalStackConfig(withLocalAuthSecret(readStackFile("local", { mode: "placeholder" }), TEST_SECRET));
}

function localRun(listenIp: string): LocalRun {
  return {
    listenIp,
    certificate: `${DIR}/fullchain.pem`,
    privateKey: `${DIR}/privkey.pem`,
    logFile: `${DIR}/turnserver.log`,
    pidFile: `${DIR}/turnserver.pid`,
    userDb: `${DIR}/turndb`,
  };
}

/** The non-comment lines of a turnserver.conf. */
function optionLines(conf: string): string[] {
  return conf.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
}

test("the local stack renders exactly the reviewed golden turnserver.conf, without its secret", () => {
  const conf = renderLocalTurnserverConf(localConfig(), localRun("127.0.0.1"));
  assert.equal(conf.split(`static-auth-secret=${TEST_SECRET}\n`).length, 2, "the run's secret is rendered exactly once");
  const shown = conf.replace(TEST_SECRET, SECRET_PLACEHOLDER);
  const file = join(GOLDEN, "turnserver.conf");
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, shown);
  assert.ok(existsSync(file), `missing golden file ${file}; create it with UPDATE_GOLDEN=1 and review it`);
  const golden = readFileSync(file, "utf8");
  assert.ok(!golden.includes(TEST_SECRET), "the golden file holds a secret");
  assert.equal(shown, golden, "local turnserver.conf differs from its golden file (UPDATE_GOLDEN=1 after review)");
});

test("the local config is the cloud config of the same settings with exactly the local swaps", () => {
  const local = localConfig();
  const raw = readStackFile("local", { mode: "placeholder" });
  const cloud = validateStackConfig({
    stack: "local",
    values: {
      "coturn:cloud": "aws",
      "coturn:region": "eu-central-1",
      "coturn:domain": raw.values["coturn:domain"],
      "coturn:listeners": raw.values["coturn:listeners"],
      "coturn:relayPorts": raw.values["coturn:relayPorts"],
      "coturn:authSecret": TEST_SECRET,
      "coturn:ssh": JSON.stringify({ allowedCidrs: ["203.0.113.7/32"] }),
    },
    secretKeys: new Set(["coturn:authSecret"]),
  });
  const cloudLines = optionLines(renderTurnserverConf(cloud, { publicIp: "198.51.100.20", bind: { kind: "nat", privateIp: "10.77.0.10" } }));

  const cases = [
    { listenIp: "127.0.0.1", loopback: ["allow-loopback-peers"] },
    { listenIp: "192.0.2.10", loopback: [] },
  ];
  for (const { listenIp, loopback } of cases) {
    const localLines = optionLines(renderLocalTurnserverConf(local, localRun(listenIp)));
    assert.deepEqual(
      cloudLines.filter((line) => !localLines.includes(line)),
      [
        "listening-ip=10.77.0.10",
        "relay-ip=10.77.0.10",
        "external-ip=198.51.100.20/10.77.0.10",
        "userdb=/var/lib/turn/turndb",
        "cert=/etc/coturn/tls/fullchain.pem",
        "pkey=/etc/coturn/tls/privkey.pem",
        "syslog",
      ],
      `${listenIp}: cloud lines the local config lacks`,
    );
    assert.deepEqual(
      localLines.filter((line) => !cloudLines.includes(line)),
      [
        `listening-ip=${listenIp}`,
        `relay-ip=${listenIp}`,
        // A local run's one secret is in the file; a VM's are in its user database.
        `static-auth-secret=${TEST_SECRET}`,
        `cert=${DIR}/fullchain.pem`,
        `pkey=${DIR}/privkey.pem`,
        `log-file=${DIR}/turnserver.log`,
        "simple-log",
        `allowed-peer-ip=${listenIp}`,
        ...loopback,
        `pidfile=${DIR}/turnserver.pid`,
        `userdb=${DIR}/turndb`,
      ],
      `${listenIp}: lines only the local config has`,
    );
    // Every hardening line is the cloud's, in the cloud's order.
    assert.deepEqual(
      localLines.filter((line) => cloudLines.includes(line)),
      cloudLines.filter((line) => localLines.includes(line)),
    );
  }
});

test("local URLs name the listening address; the cloud's still name the domain", () => {
  const config = localConfig();
  assert.deepEqual(iceServersTemplate(config, { host: "127.0.0.1" }), [
    { urls: ["turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp", "turns:127.0.0.1:5349?transport=tcp"] },
  ]);
  assert.deepEqual(
    turnUrls(config).map((u) => u.url),
    [
      "turn:turn.localhost:3478?transport=udp",
      "turn:turn.localhost:3478?transport=tcp",
      "turns:turn.localhost:5349?transport=tcp",
      "turns:turn.localhost:5349?transport=udp",
    ],
  );
});

test("the status line says what listens where, in one line", () => {
  const config = localConfig();
  const line = listeningLine(config, { version: "4.6.1", pid: 1234, listenIp: "127.0.0.1", logFile: `${DIR}/turnserver.log` });
  assert.equal(
    line,
    `coturn 4.6.1 (pid 1234) on 127.0.0.1: 3478/udp+tcp turn:, 5349/tcp turns: (self-signed), 5349/udp DTLS, ` +
      `relay 49152-49407/udp; log ${DIR}/turnserver.log; Ctrl-C stops it`,
  );
  const udpOnly = listeningLine(
    { listeners: new Set(["udp"]), relayPorts: { min: 50000, max: 50010 } },
    { version: "4.6.1", pid: 7, listenIp: "10.0.0.5", logFile: "/tmp/x.log" },
  );
  assert.equal(udpOnly, "coturn 4.6.1 (pid 7) on 10.0.0.5: 3478/udp turn:, relay 50000-50010/udp; log /tmp/x.log; Ctrl-C stops it");
});

test("with turns:, the usage lines give Chromium's flag and, on a line of its own, the CA file other clients take", () => {
  const credential = mintTurnCredential({ secret: TEST_SECRET, user: "alice", ttlSeconds: 600, now: new Date("2026-12-02T12:00:00Z") });
  const certificate = { certificate: `${DIR}/fullchain.pem`, spkiSha256: "c3BraQ==" };
  const lines = usageLines(localConfig(), credential, "alice", certificate);
  assert.ok(lines.includes(`CA file for non-browser clients: ${DIR}/fullchain.pem`), lines.join("\n"));
  assert.ok(lines.some((line) => line.endsWith("--ignore-certificate-errors-spki-list=c3BraQ==")), lines.join("\n"));
  const plainOnly = usageLines({ listeners: new Set(["udp", "tcp"]) }, credential, "alice", certificate);
  assert.ok(!plainOnly.some((line) => line.includes("CA file")), "no CA file without turns:");
});

test("the listening address must be one IPv4 address of this machine", () => {
  const here = ["127.0.0.1", "192.168.1.20"];
  assert.equal(listenAddressProblem("127.0.0.1", here), undefined);
  assert.equal(listenAddressProblem("192.168.1.20", here), undefined);
  assert.equal(
    listenAddressProblem("10.9.9.9", here),
    "--listen 10.9.9.9: no interface of this machine has that address (coturn would retry binding it forever). Addresses here: 127.0.0.1, 192.168.1.20.",
  );
  assert.equal(
    listenAddressProblem("localhost", here),
    '--listen "localhost" is not an IPv4 address: give one address of this machine, e.g. --listen 127.0.0.1. Addresses here: 127.0.0.1, 192.168.1.20.',
  );
  assert.match(listenAddressProblem("::1", here) ?? "", /is not an IPv4 address/);
  assert.match(listenAddressProblem("0.0.0.0", here) ?? "", /^--listen 0\.0\.0\.0 is the wildcard/);
  assert.equal(listenAddressProblem("127.0.0.1"), undefined, "this machine has no loopback address?");
});

test("ports: one socket per listener, a busy one explained, and a relay range big enough for two browsers", () => {
  assert.deepEqual(
    listenerSockets(new Set(["udp", "tcp", "tls", "dtls"])).map((s) => `${s.port}/${s.protocol}`),
    ["3478/udp", "3478/tcp", "5349/tcp", "5349/udp"],
  );
  assert.deepEqual(listenerSockets(new Set(["tcp", "tls"])).map((s) => `${s.port}/${s.protocol}`), ["3478/tcp", "5349/tcp"]);
  const [udp] = listenerSockets(new Set(["udp"]));
  assert.equal(
    busyPortMessage({ ...udp, address: "127.0.0.1", code: "EADDRINUSE" }),
    "port 3478/udp on 127.0.0.1 (turn: over UDP) is already in use (coturn would share it with another coturn without a word, " +
      "or retry binding it forever). `ss -lntup 'sport = :3478'` shows which process holds it " +
      "(a coturn system service? `sudo systemctl stop coturn`); stop it, or use another address with --listen",
  );
  assert.equal(localRelayRangeProblem({ min: 49152, max: 49407 }), undefined);
  assert.equal(localRelayRangeProblem({ min: 50000, max: 50005 }), undefined);
  assert.equal(
    localRelayRangeProblem({ min: 50000, max: 50001 }),
    'coturn:relayPorts = "50000-50001" holds 2 ports; two browsers need up to 6 (one allocation per port, up to 3 per browser). ' +
      'Use e.g. "49152-49407" in the stack file',
  );
});

test("the STUN Binding request is the 20-byte RFC 8489 header with the magic cookie", () => {
  const { message, transactionId } = stunBindingRequest();
  assert.equal(message.length, 20);
  assert.equal(message.readUInt16BE(0), 0x0001);
  assert.equal(message.readUInt16BE(2), 0);
  assert.equal(message.readUInt32BE(4), STUN_MAGIC_COOKIE);
  assert.deepEqual(message.subarray(8), transactionId);
  const answer = Buffer.from(message);
  answer.writeUInt16BE(0x0101, 0);
  assert.ok(isBindingSuccess(answer, transactionId));
  assert.ok(!isBindingSuccess(answer, Buffer.alloc(12)), "another transaction's answer");
  assert.ok(!isBindingSuccess(message, transactionId), "the request itself is no answer");
});

test("the self-signed certificate names the address, localhost and the domain; its key is private; the SPKI hash is openssl's", () => {
  const dir = mkdtempSync(join(tmpdir(), "selfsigned-"));
  try {
    const made = makeSelfSignedCertificate(dir, "127.0.0.1", "turn.localhost");
    assert.equal(statSync(made.privateKey).mode & 0o777, 0o600);
    const text = execSync(`openssl x509 -in ${made.certificate} -noout -text`, { encoding: "utf8" });
    assert.match(text, /IP Address:127\.0\.0\.1, DNS:localhost, DNS:turn\.localhost/);
    assert.match(text, /ASN1 OID: prime256v1/);
    // The command Chromium's documentation gives for --ignore-certificate-errors-spki-list.
    const expected = execSync(
      `openssl x509 -in ${made.certificate} -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`,
      { encoding: "utf8" },
    ).trim();
    assert.equal(made.spkiSha256, expected);
    assert.equal(chromiumSpkiFlag(made.spkiSha256), `--ignore-certificate-errors-spki-list=${expected}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("coturn is found on PATH or at Debian's path, and its absence says how to install it", () => {
  assert.equal(findTurnserver("/nonexistent:/also-not"), DEBIAN_TURNSERVER);
  assert.match(coturnVersion(findTurnserver()), /^\d+\.\d+\.\d+/);
  assert.throws(
    () => findTurnserver("/nonexistent", "/nonexistent/turnserver"),
    (error: unknown) =>
      error instanceof CoturnMissingError &&
      error.message.startsWith("coturn is not installed: sudo apt-get install -y coturn (Debian/Ubuntu), or run bash scripts/install-deps.sh local,"),
  );
});
