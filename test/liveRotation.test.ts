// Runtime: a secret rotation on a running coturn with the production config, delivered the way `pulumi up` delivers
// it (the VM's rendered coturn-secrets script, the secret set on stdin as the Pulumi resource sends it), while a call
// relays media through an allocation opened before the rotation. Needs root (CI runs as root): `sudo bash scripts/test.sh`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { mintTurnCredential, secretFingerprint } from "../src/credentials/turnRest";
import { CLOUD_LAB, LAB_SECRET, runLabJob, startCloudLab, type CloudLab } from "../lab/cloudLab";
import type { Outcome, StreamReport } from "../lab/labClient";
import { waitFor, type LabProcess } from "../lab/netlab";

const ECHO_PORT = 3480;
const plain = { host: CLOUD_LAB.publicIp, port: 3478 };
/** The secret the rotation introduces. */
const NEW_SECRET = "TmV3LXJvdGF0ZWQtc2VjcmV0LWZvci10aGUtbGl2ZS1yb3RhdGlvbi10ZXN0";
/** A call: 50 packets of 160 bytes per second (64 kbit/s audio) for 16 s, refreshed every 2 s (browsers: minutes). */
const CALL = { packetsPerSecond: 50, durationMs: 16_000, refreshEveryMs: 2000 } as const;

describe("rotating the secret of a running coturn (aws-example's production config)", () => {
  let cloud: CloudLab;
  let call: LabProcess;
  let coturnPid: number;
  let report: StreamReport;
  const phases: string[] = [];

  const allocate = (secret: string, user: string): Outcome => {
    const minted = mintTurnCredential({ secret, user, ttlSeconds: 600 });
    return runLabJob<Outcome>(cloud.lab, cloud.hosts.client, {
      job: "allocate",
      server: plain,
      transport: "udp",
      credentials: { username: minted.username, password: minted.credential },
    });
  };
  const accepted = (secret: string, user: string): void => {
    const outcome = allocate(secret, user);
    assert.equal(outcome.ok, true, `${user}: ${JSON.stringify(outcome)}\n${cloud.log().split("\n").slice(-15).join("\n")}`);
  };
  const refused = (secret: string, user: string): void => {
    const outcome = allocate(secret, user);
    assert.deepEqual([outcome.ok, !outcome.ok && outcome.code], [false, 401], `${user}: ${JSON.stringify(outcome)}`);
  };
  /** The pid of the coturn the lab started, read from coturn's own pid file. */
  const pidNow = (): number => Number(readFileSync(join(cloud.confPath, "..", "turnserver.pid"), "utf8").trim());

  before(async () => {
    // coturn starts as on a fresh VM: the config has no secret and the database is empty until the delivery.
    cloud = await startCloudLab({ stack: "aws-example", deliverSecrets: false, tag: `rot${process.pid}` });
    cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
    coturnPid = pidNow();
    // `ip netns exec` replaces itself with turnserver, so the process the lab started is coturn itself.
    assert.equal(coturnPid, cloud.coturn.child.pid, "coturn's pid file names the process the lab started");
  });
  after(async () => {
    await cloud?.destroy();
  });

  test("before the first delivery coturn refuses every credential (an empty secret table fails closed)", () => {
    refused(LAB_SECRET, "before-delivery");
    const first = cloud.applySecrets([LAB_SECRET]);
    assert.deepEqual(first.accepted, [secretFingerprint(LAB_SECRET)]);
    assert.deepEqual([first.added, first.removed], [1, 0]);
    accepted(LAB_SECRET, "after-delivery");
  });

  test("a call opened before the rotation keeps relaying through every phase with zero loss", async () => {
    call = cloud.lab.start(cloud.hosts.client, process.execPath, [
      "--import",
      "tsx",
      join(__dirname, "..", "lab", "labClient.ts"),
      JSON.stringify({
        job: "stream",
        server: plain,
        transport: "udp",
        credentials: (() => {
          const minted = mintTurnCredential({ secret: LAB_SECRET, user: "call-before-rotation", ttlSeconds: 600 });
          return { username: minted.username, password: minted.credential };
        })(),
        peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
        ...CALL,
      }),
    ]);
    await waitFor("the call to relay media", () => {
      if (call.child.exitCode !== null) throw new Error(`the call ended early: ${call.output()}`);
      return call.output().includes('"ready":true');
    });
    const started = Date.now();
    const at = async (ms: number): Promise<void> => {
      const wait = started + ms - Date.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    };

    // Phase 1 (`npm run rotate` adds the new secret, `pulumi up` delivers [new, old]): both are accepted.
    await at(2500);
    const overlap = cloud.applySecrets([NEW_SECRET, LAB_SECRET]);
    assert.deepEqual(overlap.accepted, [secretFingerprint(NEW_SECRET), secretFingerprint(LAB_SECRET)]);
    assert.deepEqual([overlap.added, overlap.removed], [1, 0]);
    accepted(NEW_SECRET, "overlap-new");
    accepted(LAB_SECRET, "overlap-old");
    phases.push("overlap");

    // The same set again (a rerun of `pulumi up`) changes nothing.
    await at(5000);
    const again = cloud.applySecrets([NEW_SECRET, LAB_SECRET]);
    assert.deepEqual([again.added, again.removed, again.accepted.length], [0, 0, 2]);
    phases.push("rerun");

    // Phase 3 (the old secret dropped): its credentials get 401, the new one's still work.
    await at(8000);
    const dropped = cloud.applySecrets([NEW_SECRET]);
    assert.deepEqual(dropped.accepted, [secretFingerprint(NEW_SECRET)]);
    assert.deepEqual([dropped.added, dropped.removed], [0, 1]);
    refused(LAB_SECRET, "after-drop-old");
    accepted(NEW_SECRET, "after-drop-new");
    phases.push("dropped");

    const ended = await call.exited;
    const last = call.output().trim().split("\n").at(-1) ?? "{}";
    assert.equal(ended, 0, `the call's client failed: ${call.output()}`);
    report = JSON.parse(last) as StreamReport;
    assert.equal(report.relayed.host, CLOUD_LAB.publicIp);
    assert.equal(report.sent, (CALL.durationMs / 1000) * CALL.packetsPerSecond);
    assert.deepEqual(
      { lost: report.lost, firstLost: report.firstLost },
      { lost: 0, firstLost: [] },
      `packets lost during the rotation (${report.echoed}/${report.sent} echoed)`,
    );
    assert.deepEqual(phases, ["overlap", "rerun", "dropped"]);
  });

  test("the call's allocation and permission refreshes succeeded before and after the old secret was dropped", () => {
    assert.ok(report, "the call ran");
    assert.ok(report.refreshes.length >= 6, `expected a refresh every 2 s, got ${JSON.stringify(report.refreshes)}`);
    assert.deepEqual(
      report.refreshes.filter((r) => !r.ok),
      [],
      "coturn keeps the key an allocation authenticated with: a dropped secret does not end a running call",
    );
    assert.ok(report.refreshes.some((r) => r.atMs > 9000), "at least one refresh after the drop");
    // coturn's own account: each refresh reached it and was processed for the call's user.
    const processed = cloud.log().split("\n").filter((l) => /refreshed, realm=<[^>]+>, username=<\d+:call-before-rotation>, lifetime=600$/.test(l));
    assert.equal(processed.length, report.refreshes.length, "every refresh was answered by coturn, none by a timeout");
  });

  test("coturn was never restarted: same process, no second start in its log", () => {
    assert.equal(pidNow(), coturnPid);
    assert.equal(cloud.coturn.child.exitCode, null, "the lab's coturn process is still running");
    const starts = cloud.log().split("\n").filter((line) => /Coturn Version|RFC 3489\/5389\/5766\/5780\/6062\/6156 STUN\/TURN Server/.test(line));
    assert.equal(starts.length, 1, `coturn started more than once:\n${starts.join("\n")}`);
  });
});
