/**
 * Runtime: the metrics of a real coturn running the aws-example stack's production config (lab network), read the way
 * an operator reads them (the rendered SSH read command, node-exporter, the collector, mtail on coturn's log, the
 * kernel's counters). A control with no traffic reads zero; then a known load (allocations over UDP, TCP and TLS
 * relaying a known number of bytes, W wrong-credential attempts, F forbidden-peer requests, Q quota refusals) must
 * read EXACTLY those numbers. Needs root (network namespaces) and the Debian packages the VMs run.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CLOUD_LAB, LAB_SECRET, runLabJob, startCloudLab, type CloudLab } from "../lab/cloudLab";
import type { Outcome } from "../lab/labClient";
import { startMonitoring, type MonitoringLab } from "../lab/monitoringLab";
import { waitFor } from "../lab/netlab";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { METRIC_CATALOG } from "../src/monitoring/metricCatalog";
import { exampleStackConfig } from "./support/program";
import { familyNames, sampleSum } from "./support/promSamples";

const ECHO_PORT = 3480;
const BYTES_PER_ECHO = 1000;
/** Wrong-credential attempts, forbidden peers asked for, allocations over the per-user quota. */
const W = 7;
const FORBIDDEN_PEERS = ["10.0.0.1", "169.254.169.254", "192.168.1.1", "172.16.0.1", "100.64.0.1"];
const Q = 3;

describe("metrics of a real coturn under a known load (aws-example production config, lab network)", { timeout: 180_000 }, () => {
  let cloud: CloudLab;
  let monitoring: MonitoringLab;
  const server = { host: CLOUD_LAB.publicIp, port: 3478 };
  const tlsServer = { host: CLOUD_LAB.publicIp, port: 5349 };
  const credentials = (user: string): { username: string; password: string } => {
    const minted = mintTurnCredential({ secret: LAB_SECRET, user, ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  };
  const read = (): string => {
    monitoring.collect();
    return monitoring.metrics();
  };

  before(async () => {
    cloud = await startCloudLab({});
    cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
    monitoring = await startMonitoring(cloud);
    // mtail has read coturn's start banner once its series exist.
    await waitFor("mtail to read coturn's log", () => sampleSum(read(), "coturn_starts_total") === 1, 20_000);
  });
  after(async () => {
    await cloud?.destroy();
  });

  test("control, before any traffic: every figure of coturn's work reads zero; coturn is up; every catalogued metric is there", () => {
    const text = read();
    for (const name of ["coturn_allocations_created_total", "coturn_allocations_active", "coturn_requests_refused_total", "coturn_relayed_bytes_total", "coturn_listener_packets_total", "coturn_listener_bytes_total", "coturn_relay_ports_in_use", "coturn_client_connections", "coturn_session_duration_seconds_count", "coturn_log_lines_suppressed_total"]) {
      assert.equal(sampleSum(text, name), 0, `${name} with no traffic`);
    }
    assert.equal(sampleSum(text, "coturn_up"), 1);
    assert.equal(sampleSum(text, "coturn_log_metrics_up"), 1);
    assert.equal(sampleSum(text, "coturn_relay_ports"), 16384);
    assert.equal(sampleSum(text, "coturn_vm_sustained_bandwidth_bits"), 128_000_000, "t3.small's baseline from the sizing table");
    const certificateDays = (sampleSum(text, "coturn_tls_certificate_expiry_timestamp_seconds") - Date.now() / 1000) / 86400;
    assert.ok(certificateDays > 29 && certificateDays <= 30, `the lab certificate (30 days) has ${certificateDays} days left`);
    const started = sampleSum(text, "coturn_process_start_time_seconds");
    assert.ok(Math.abs(Date.now() / 1000 - started) < 120, "coturn started within the last two minutes");
    // Histograms and the relayed traffic appear with the first session; everything else is here already.
    const present = familyNames(text);
    const later = new Set(["coturn_relayed_bytes_total", "coturn_relayed_packets_total", "coturn_session_duration_seconds"]);
    const missing = METRIC_CATALOG.map((m) => m.name).filter((name) => !present.has(name) && !later.has(name));
    assert.deepEqual(missing, [], "catalogued metrics the exporter does not produce");
  });

  test("a known load reads exactly: allocations per transport, relayed bytes, 401s, 403s, 486s, kernel packets, sessions", async () => {
    const peer = { host: CLOUD_LAB.peer, port: ECHO_PORT };
    const echoes = [
      ["udp", server],
      ["udp", server],
      ["tcp", server],
      ["tcp", server],
      ["tls", tlsServer],
      ["tls", tlsServer],
    ] as const;
    for (const [transport, at] of echoes) {
      const echoed = runLabJob<{ identical?: boolean }>(cloud.lab, cloud.hosts.client, { job: "echo", server: at, transport, credentials: credentials("caller"), peer, bytes: BYTES_PER_ECHO });
      assert.equal(echoed.identical, true, `echo over ${transport}: ${JSON.stringify(echoed)}`);
    }
    for (let i = 0; i < W; i++) {
      const refused = runLabJob<Outcome>(cloud.lab, cloud.hosts.client, { job: "allocate", server, transport: "udp", credentials: { ...credentials("wrong"), password: "not-the-password" } });
      assert.equal(refused.ok ? 0 : refused.code, 401);
    }
    const peers = runLabJob<{ results: Record<string, { permission: Outcome; channel: Outcome }> }>(cloud.lab, cloud.hosts.client, {
      job: "peers", server, family: "ipv4", credentials: credentials("prober"), peers: FORBIDDEN_PEERS,
    });
    const forbidden = Object.values(peers.results).flatMap((r) => [r.permission, r.channel]).filter((o) => !o.ok && o.code === 403).length;
    assert.equal(forbidden, 2 * FORBIDDEN_PEERS.length, "each forbidden peer: permission and channel refused");
    const quota = exampleStackConfig("aws-example").quotas.allocationsPerUser;
    const quotaRun = runLabJob<{ outcomes: Outcome[] }>(cloud.lab, cloud.hosts.client, { job: "quota", server, credentials: credentials("greedy"), count: quota + Q });
    assert.deepEqual(quotaRun.outcomes.map((o) => (o.ok ? "ok" : o.code)), [...Array(quota).fill("ok"), ...Array(Q).fill(486)]);

    const allocations = echoes.length + 1 + quota;
    const plain = allocations - 2;
    let text = "";
    // Sessions end a moment after their release (UDP) or disconnect (TCP, TLS): wait for every one, bounded.
    await waitFor(
      "every allocation to be reported closed",
      () => {
        text = read();
        return sampleSum(text, "coturn_session_duration_seconds_count") === allocations;
      },
      30_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${text.split("\n").filter((l) => l.startsWith("coturn_")).join("\n")}`);
    });
    assert.equal(sampleSum(text, "coturn_allocations_created_total", { transport: "plain" }), plain, "UDP and TCP allocations");
    assert.equal(sampleSum(text, "coturn_allocations_created_total", { transport: "tls" }), 2);
    assert.equal(sampleSum(text, "coturn_allocations_created_total", { transport: "dtls" }), 0);
    assert.equal(sampleSum(text, "coturn_allocations_active"), 0, "all released");
    assert.equal(sampleSum(text, "coturn_sessions_closed_total", { reason: "client" }), allocations, "each closed by its client");
    assert.equal(sampleSum(text, "coturn_requests_refused_total", { code: "401" }), W, "wrong credentials");
    assert.equal(sampleSum(text, "coturn_requests_refused_total", { code: "403" }), forbidden, "forbidden peers");
    assert.equal(sampleSum(text, "coturn_requests_refused_total", { code: "486" }), Q, "over the quota");
    assert.equal(sampleSum(text, "coturn_requests_refused_total"), W + forbidden + Q, "no other refusal");
    assert.equal(sampleSum(text, "coturn_auth_challenges_total"), allocations + W + Q, "one nonce challenge per allocation attempt");
    // The payload: each echo sends BYTES_PER_ECHO to the peer, which sends them back.
    for (const direction of ["received", "sent"]) {
      assert.equal(sampleSum(text, "coturn_relayed_bytes_total", { side: "peer", direction, transport: "plain" }), 4 * BYTES_PER_ECHO, `plain, from/to peer ${direction}`);
      assert.equal(sampleSum(text, "coturn_relayed_bytes_total", { side: "peer", direction, transport: "tls" }), 2 * BYTES_PER_ECHO, `tls, peer ${direction}`);
      assert.equal(sampleSum(text, "coturn_relayed_packets_total", { side: "peer", direction }), echoes.length);
    }
    // The kernel saw exactly the peer's echoes arrive at the relay range, one datagram per echo, each its payload
    // with IPv4 and UDP headers (it counts from the network header).
    assert.equal(sampleSum(text, "coturn_listener_packets_total", { transport: "relay" }), echoes.length);
    assert.equal(sampleSum(text, "coturn_listener_bytes_total", { transport: "relay" }), echoes.length * (BYTES_PER_ECHO + 28));
    for (const transport of ["udp", "tcp", "tls"]) {
      assert.ok(sampleSum(text, "coturn_listener_bytes_total", { transport }) > 0, `${transport} listener traffic counted`);
    }
    assert.equal(sampleSum(text, "coturn_listener_packets_total", { transport: "dtls" }), 0);
    assert.equal(sampleSum(text, "coturn_relay_ports_in_use"), 0);
  });

  test("no metric, label or help text carries a secret, a credential or a user name", () => {
    const text = read();
    assert.ok(!text.includes(LAB_SECRET), "the auth secret");
    assert.doesNotMatch(text, /caller|prober|greedy|not-the-password|\d{10}:/, "user names or credentials");
  });
});
