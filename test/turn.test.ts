// Runtime: every cloud's example stack's production turnserver.conf on a real coturn, in a lab of network namespaces
// that reproduces that cloud's network (1:1 NAT on EC2 and Compute Engine; a Reserved IP on DigitalOcean's anchor
// address, routed by the rendered boot script), checked with real TURN clients. Needs root (CI runs as root):
// `sudo bash scripts/test.sh`.
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { mintTurnCredential } from "../src/credentials/turnRest";
import { ANCHOR_ADDRESS_PLACEHOLDER } from "../src/plan/addresses";
import { ANCHOR_LAB, CLOUD_LAB, LAB_SECRET, fillAnchorAddress, labConf, productionConf, runLabJob, startCloudLab, type CloudLab } from "../lab/cloudLab";
import type { Outcome } from "../lab/labClient";
import { waitFor, type LabProcess } from "../lab/netlab";
import { EXAMPLE_REGION_STACKS } from "../lab/exampleStack";

const ECHO_PORT = 3480;
const plain = { host: CLOUD_LAB.publicIp, port: 3478 };
const tlsServer = { host: CLOUD_LAB.publicIp, port: 5349 };
const tls443Server = { host: CLOUD_LAB.publicIp, port: 443 };
/** The example stacks, one per cloud; the whole file runs for each. */
const STACKS = EXAMPLE_REGION_STACKS;

/** The peers the issue lists; every one must be refused with 403 on CreatePermission and on ChannelBind. */
const FORBIDDEN_IPV4 = ["127.0.0.1", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.1", "224.0.0.1", "255.255.255.255"];
const FORBIDDEN_IPV6 = ["::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "fd00:ec2::254", "fe80::1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1"];

function credentials(user: string, options: { secret?: string; now?: Date } = {}): { username: string; password: string } {
  const minted = mintTurnCredential({ secret: options.secret ?? LAB_SECRET, user, ttlSeconds: 600, ...(options.now ? { now: options.now } : {}) });
  return { username: minted.username, password: minted.credential };
}

for (const stack of STACKS) describe(`${stack}: production turnserver.conf on a real coturn`, () => {
  let cloud: CloudLab;
  let echo: LabProcess;

  before(async () => {
    cloud = await startCloudLab({ stack });
    // coturn's own test peer: echoes every UDP datagram back to its sender.
    echo = cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
  });
  after(async () => {
    await cloud?.destroy();
  });

  const job = <T>(spec: Parameters<typeof runLabJob>[2]): T => {
    try {
      return runLabJob<T>(cloud.lab, cloud.hosts.client, spec);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- coturn log (tail) ---\n${cloud.log().split("\n").slice(-30).join("\n")}`);
    }
  };

  test("the lab config is the production config except certificate and database paths, logging and an extra IPv6 relay address", () => {
    const production = cloud.production;
    if (stack === "digitalocean-example") {
      // The boot script filled in the anchor address it read from the metadata service, and changed nothing else.
      assert.notEqual(productionConf(stack), fillAnchorAddress(productionConf(stack), ANCHOR_LAB.anchorIp));
      assert.equal(production, fillAnchorAddress(productionConf(stack), ANCHOR_LAB.anchorIp));
      assert.match(cloud.anchorNetworkLog ?? "", new RegExp(`anchor address ${ANCHOR_LAB.anchorIp.replace(/\./g, "\\.")} leaves through the anchor gateway ${ANCHOR_LAB.anchorGateway.replace(/\./g, "\\.")} on eth0`));
    } else {
      assert.equal(production, productionConf(stack));
    }
    const changed = new Set(cloud.conf.changes.map(([from]) => from));
    const kept = production.split("\n").filter((line) => !changed.has(line));
    const labLines = new Set(cloud.conf.conf.split("\n"));
    assert.deepEqual(kept.filter((line) => !labLines.has(line)), [], "every other production line is in the lab config");
    assert.deepEqual(
      cloud.conf.changes.map(([from]) => from.split("=")[0]),
      ["relay-ip", "userdb", "cert", "pkey", "syslog", "no-stdout-log"],
    );
    assert.doesNotMatch(production, /static-auth-secret/, "the secrets are in the user database, not in the file");
    assert.ok(!/^allow-loopback-peers|^allowed-peer-ip/m.test(cloud.conf.conf), "no test-only peer exceptions");
  });

  for (const transport of ["udp", "tcp", "tls"] as const) {
    test(`allocates over ${transport} with minted credentials and relays to an allowed peer and back, byte for byte`, () => {
      const result = job<{ relayed: { host: string }; mapped: { host: string }; sent: number; identical: boolean }>({
        job: "echo",
        server: transport === "tls" ? tlsServer : plain,
        transport,
        credentials: credentials(`echo-${transport}`),
        peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
        bytes: 1000,
      });
      assert.equal(result.relayed.host, CLOUD_LAB.publicIp, "the relayed address is the static public IP, not the private one");
      assert.equal(result.mapped.host, CLOUD_LAB.client);
      assert.equal(result.sent, 1000);
      assert.equal(result.identical, true, "the echo came back byte for byte");
    });
  }

  test("401 for a wrong secret, an expired timestamp, no credentials and static user names", () => {
    const cases: Array<[string, { username: string; password: string }]> = [
      ["wrong secret", credentials("mallory", { secret: "not-the-server-secret-but-long-enough-0123456789" })],
      ["expired timestamp", credentials("late", { now: new Date(Date.now() - 3600_000) })],
      ["no credentials", { username: "", password: "" }],
      ...["admin", "turn", "test", "user", "coturn"].map(
        (name) => [`static user ${name}`, { username: name, password: name }] as [string, { username: string; password: string }],
      ),
      ["password of another user", { username: credentials("alice").username, password: credentials("bob").password }],
    ];
    for (const [label, creds] of cases) {
      const outcome = job<Outcome>({ job: "allocate", server: plain, transport: "udp", credentials: creds });
      assert.equal(outcome.ok, false, `${label}: allocation must be refused`);
      assert.equal(!outcome.ok && outcome.code, 401, `${label}: ${JSON.stringify(outcome)}`);
    }
    const control = job<Outcome>({ job: "allocate", server: plain, transport: "udp", credentials: credentials("control") });
    assert.equal(control.ok, true, `control: valid credentials allocate (${JSON.stringify(control)})`);
  });

  for (const [family, peers, allowed] of [
    ["ipv4", FORBIDDEN_IPV4, CLOUD_LAB.peer],
    ["ipv6", FORBIDDEN_IPV6, "2600:1f18:77::20"],
  ] as const) {
    test(`403 on CreatePermission and ChannelBind for every forbidden ${family} peer`, () => {
      const result = job<{ relayed: { host: string }; results: Record<string, { permission: Outcome; channel: Outcome }> }>({
        job: "peers",
        server: plain,
        family,
        credentials: credentials(`abuse-${family}`),
        peers: [...peers, allowed],
      });
      assert.equal(result.relayed.host, family === "ipv4" ? CLOUD_LAB.publicIp : CLOUD_LAB.relayIpv6);
      for (const peer of peers) {
        const { permission, channel } = result.results[peer];
        assert.deepEqual([permission.ok ? "allowed" : permission.code, channel.ok ? "allowed" : channel.code], [403, 403], `peer ${peer}`);
      }
      // Control: a public peer of the same family is allowed, so the 403s come from the deny list, not a broken relay.
      assert.deepEqual(result.results[allowed], { permission: { ok: true }, channel: { ok: true } }, `control peer ${allowed}`);
    });
  }

  if (stack !== "gcp-example") {
    test("TURN over TLS on 443 reaches the same listener through the VM's own redirect rules", () => {
      const configured = new X509Certificate(readFileSync(cloud.certificatePath)).fingerprint256;
      const onPort443 = job<{ ok: boolean; protocol?: string; fingerprint256?: string }>({ job: "tls", server: tls443Server, version: "TLSv1.2" });
      assert.deepEqual(onPort443, { ok: true, protocol: "TLSv1.2", fingerprint256: configured });
      const result = job<{ relayed: { host: string }; identical: boolean }>({
        job: "echo",
        server: tls443Server,
        transport: "tls",
        credentials: credentials("echo-443"),
        peer: { host: CLOUD_LAB.peer, port: ECHO_PORT },
        bytes: 300,
      });
      assert.deepEqual([result.relayed.host, result.identical], [CLOUD_LAB.publicIp, true]);
    });
  }

  test("TLS serves the configured certificate over TLS 1.2 and refuses TLS 1.0 and 1.1", () => {
    const configured = new X509Certificate(readFileSync(cloud.certificatePath)).fingerprint256;
    const tls12 = job<{ ok: boolean; protocol?: string; fingerprint256?: string }>({ job: "tls", server: tlsServer, version: "TLSv1.2" });
    assert.deepEqual(tls12, { ok: true, protocol: "TLSv1.2", fingerprint256: configured });
    for (const version of ["TLSv1", "TLSv1.1"] as const) {
      const control = job<{ ok: boolean; protocol?: string }>({
        job: "tls-control",
        version,
        certificate: cloud.certificatePath,
        privateKey: cloud.certificatePath.replace("fullchain.pem", "privkey.pem"),
      });
      assert.equal(control.ok, true, `control: this client speaks ${version} to a server that allows it (${JSON.stringify(control)})`);
      const refused = job<{ ok: boolean; error?: string }>({ job: "tls", server: tlsServer, version });
      assert.equal(refused.ok, false, `${version} must be refused`);
      // coturn 4.6.1 sends no alert: it leaves an old-version ClientHello unanswered, so no session ever starts.
      assert.match(refused.error ?? "", /no TLS answer|protocol version|unsupported protocol|handshake failure/i, `${version}: ${refused.error}`);
    }
  });

  test("the allocation past user-quota (12) for one user gets 486", () => {
    const { outcomes } = job<{ outcomes: Outcome[] }>({ job: "quota", server: plain, credentials: credentials("greedy"), count: 13 });
    assert.equal(outcomes.filter((o) => o.ok).length, 12, JSON.stringify(outcomes));
    assert.ok(outcomes.slice(0, 12).every((o) => o.ok), `the first 12 allocate: ${JSON.stringify(outcomes)}`);
    const last = outcomes[12];
    assert.equal(!last.ok && last.code, 486, JSON.stringify(outcomes));
  });

  test("the echo peer stayed up for the whole file", () => {
    assert.equal(echo.child.exitCode, null, echo.output());
  });
});

describe("digitalocean-example without the anchor routing (the control)", () => {
  let cloud: CloudLab;
  before(async () => {
    cloud = await startCloudLab({ stack: "digitalocean-example", routeAnchor: false, tag: `ctl${process.pid}` });
    cloud.lab.start(cloud.hosts.peer, "turnutils_peer", ["-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
  });
  after(async () => {
    await cloud?.destroy();
  });

  test("a coturn whose anchor address was never filled in binds nothing on any of the Droplet's addresses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "coturn-placeholder-"));
    const logFile = join(dir, "log");
    try {
      const conf = join(dir, "turnserver.conf");
      const unfilled = labConf(productionConf("digitalocean-example"), { certificate: cloud.certificatePath, privateKey: cloud.certificatePath, logFile, userDb: join(dir, "turndb") }, ANCHOR_ADDRESS_PLACEHOLDER);
      writeFileSync(conf, unfilled.conf);
      // In the Droplet's namespace, which has its own IP, the anchor address and the metadata link.
      const coturn = cloud.lab.start(cloud.hosts.turn, "turnserver", ["-c", conf, "--pidfile", join(dir, "pid")]);
      await waitFor("coturn to try its listener address", () => existsSync(logFile) && readFileSync(logFile, "utf8").includes(`Cannot bind`));
      assert.equal(coturn.child.exitCode, null, "it keeps retrying");
      // (The lab's own coturn, filled in by hand, listens on the anchor address: only this pid's sockets count.)
      const sockets = cloud.lab.exec(cloud.hosts.turn, "ss", "-Hlntup");
      assert.ok(sockets.includes("turnserver"), "control: ss shows the lab's other coturn");
      assert.doesNotMatch(sockets, new RegExp(`pid=${coturn.child.pid ?? "none"},`), `this coturn must listen nowhere:\n${sockets}`);
      coturn.child.kill("SIGTERM");
      await coturn.exited;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("coturn on the anchor address without the boot script's route cannot even answer: the route is what makes it work", () => {
    const outcome = runLabJob<Outcome>(cloud.lab, cloud.hosts.client, {
      job: "allocate",
      server: plain,
      transport: "udp",
      credentials: credentials("no-route"),
    });
    assert.equal(outcome.ok, false, `without the route an allocation must fail (${JSON.stringify(outcome)})`);
    // What went wrong: the answer left from the anchor address instead of the Reserved IP, straight onto the wire.
    const routes = cloud.lab.exec(cloud.hosts.turn, "ip", "route", "get", CLOUD_LAB.client, "from", ANCHOR_LAB.anchorIp);
    assert.doesNotMatch(routes, new RegExp(`via ${ANCHOR_LAB.anchorGateway.replace(/\./g, "\\.")}`));
  });
});
