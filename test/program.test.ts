/**
 * Mock-based tests of the real Pulumi program (index.ts), table-driven over every cloud's example stack: firewall,
 * static address and its attachment, image lookup, user-data as a secret and exactly the rendered bootstrap, the
 * secret delivery over SSH and what a secret change does (nothing to the VM), tags, outputs without secrets, and
 * errors before any resource. Then what only one cloud has.
 */
import assert from "node:assert/strict";
import bcrypt from "bcryptjs";
import { before, describe, test } from "node:test";
import { GCP_TURN_TAG } from "../src/clouds/gcp";
import type { DeployCloud } from "../src/config/schema";
import { ANCHOR_ADDRESS_PLACEHOLDER, bindAddressFor } from "../src/plan/addresses";
import { secretFingerprint } from "../src/credentials/turnRest";
import { DEPLOY_USER, METRICS_READ_COMMAND, OPS_INSTALL_COMMAND, SECRETS_APPLY_COMMAND, TLS_DELIVER_COMMAND, secretSetDocument } from "../src/render/deployChannel";
import { opsInstallDocument } from "../src/render/opsFiles";
import { renderUserData, renderVm } from "../src/render/vmFiles";
import { CASES, expectedIngress, ofType, only, secretValue, type CloudCase, type Resource } from "./support/cloudCases";
import { MOCK, MOCK_ACCESS, MOCK_DEPLOY_PRIVATE_KEY, MOCK_OPS_DEPLOY_PRIVATE_KEY, MOCK_TLS_DEPLOY_PRIVATE_KEY } from "../lab/mocks/mockCloud";
import {
  TEST_CLOUDFLARE_TOKEN,
  TEST_SECRET,
  ephemeralValues,
  exampleConfig,
  exampleStackConfig,
  runProgram,
  withValues,
  type HarnessConfig,
  type ProgramRun,
} from "./support/program";

/** A test stack's expiry in the mock runs: three hours from now, whole seconds, UTC. */
const EPHEMERAL_EXPIRY = `${new Date(Date.now() + 3 * 3_600_000).toISOString().slice(0, 19)}Z`;

const OTHER_SECRET = "0ther-test-secret-Zm9vYmFyYmF6cXV4LWNvdHVybi1wdWx1bWktdGVzdHM";
const METRICS_PASSWORD = "scraper-password-for-the-program-tests-0123";
const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey ops@example.com";

/** The remote command that delivers the TURN secrets. */
function secretsDelivery(run: ProgramRun): Resource {
  return only(run, "command:remote:Command", "-auth-secrets");
}

/** The remote command that delivers the TLS material. */
function tlsDelivery(run: ProgramRun): Resource {
  return only(run, "command:remote:Command", "-tls-certificate");
}

/** The remote command that installs the operations files (TLS manager, monitoring). */
function opsDelivery(run: ProgramRun): Resource {
  return only(run, "command:remote:Command", "-ops-files");
}

/** The id the mocked cloud gave the VM, as `instanceId` reports it. */
function mockVmId(c: CloudCase, vm: Resource): string {
  return c.cloud === "gcp" ? "1234567890123456789" : c.cloud === "digitalocean" ? "424242" : `${vm.name}-id`;
}

/** Top-level inputs of each resource that differ between two runs, as `type.property`. */
function changedInputs(before: ProgramRun, after: ProgramRun): string[] {
  const changed: string[] = [];
  for (const a of after.resources) {
    const b = before.resources.find((r) => r.type === a.type && r.name === a.name);
    assert.ok(b, `${a.type} ${a.name} exists only in the second run`);
    for (const key of new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)])) {
      if (JSON.stringify(a.inputs[key]) !== JSON.stringify(b.inputs[key])) changed.push(`${a.type}.${key}`);
    }
  }
  return changed.sort();
}

for (const c of CASES) {
  describe(`the ${c.cloud} example stack (${c.stack}) under mocks`, () => {
    const base = exampleConfig(c.stack);
    const runs: Record<string, ProgramRun> = {};
    const variants: Record<string, HarnessConfig> = {
      base,
      otherSecret: withValues(base, {
        "coturn:authSecret": OTHER_SECRET,
        "coturn:previousAuthSecrets": JSON.stringify([TEST_SECRET]),
      }, ["coturn:previousAuthSecrets"]),
      otherQuota: withValues(base, { "coturn:quotas": JSON.stringify({ allocationsPerUser: 6 }) }),
      ssh: withValues(base, {
        "coturn:ssh": JSON.stringify({ allowedCidrs: ["203.0.113.7/32", "198.51.100.0/24"], publicKeys: [SSH_KEY] }),
      }),
      ephemeral: withValues(base, { ...ephemeralValues("4h", EPHEMERAL_EXPIRY), "coturn:listeners": '["udp","tls"]', "coturn:relayPorts": "50000-50999" }),
      smallestForTests: withValues(base, { ...ephemeralValues("4h", EPHEMERAL_EXPIRY), "coturn:instanceType": undefined }),
      scrapers: withValues(
        base,
        { "coturn:monitoring": JSON.stringify({ allowedCidrs: ["198.51.100.9/32"] }), "coturn:metricsPassword": METRICS_PASSWORD },
        ["coturn:metricsPassword"],
      ),
      impossible: withValues(base, c.impossible.changes),
      ...(c.missingProvider ? { missingProvider: withValues(base, c.missingProvider.changes) } : {}),
    };
    before(async () => {
      const entries = await Promise.all(Object.entries(variants).map(async ([name, config]) => [name, await runProgram(config)] as const));
      Object.assign(runs, Object.fromEntries(entries));
      for (const name of ["base", "otherSecret", "otherQuota", "ssh", "ephemeral", "smallestForTests", "scrapers"]) {
        assert.equal(runs[name].error, undefined, `${name}: program failed: ${runs[name].error}`);
      }
    });

    test("registers each resource under a unique type and name (mocks do not reject duplicate URNs; the engine does)", () => {
      const urns = runs.base.resources.map((r) => `${r.type}::${r.name}`);
      assert.deepEqual(urns.filter((u, i) => urns.indexOf(u) !== i), []);
    });

    test("opens exactly the configured listeners, the relay range and SSH from the deployer; lets out only UDP to peers and HTTP(S)", () => {
      assert.deepEqual(c.ingress(runs.base).sort(), expectedIngress(c.stack));
      assert.deepEqual(c.egress(runs.base).sort(), ["tcp 443 0.0.0.0/0", "tcp 80 0.0.0.0/0", "udp all 0.0.0.0/0"]);
    });

    test("a listener subset opens only those ports", () => {
      assert.deepEqual(c.ingress(runs.ephemeral).sort(), ["tcp 22 203.0.113.7/32", "tcp 5349 0.0.0.0/0", "udp 3478 0.0.0.0/0", "udp 50000-50999 0.0.0.0/0"]);
    });

    test("SSH opens port 22 to exactly the configured CIDRs and creates the admin user with the key", () => {
      assert.deepEqual(
        c.ingress(runs.ssh).filter((r) => r.startsWith("tcp 22 ")).sort(),
        ["tcp 22 198.51.100.0/24", "tcp 22 203.0.113.7/32"],
      );
      const userData = c.userData(only(runs.ssh, c.vmType));
      assert.match(userData, new RegExp(`\\n {2}- name: turnops\\n[\\s\\S]*ssh_authorized_keys:\\n {6}- "${SSH_KEY}"`));
      assert.doesNotMatch(c.userData(only(runs.base, c.vmType)), /name: turnops/, "no admin user without admin keys");
    });

    test("a test stack: its time to live and expiry on every tagged resource, nothing protected, the smallest VM", () => {
      for (const { resource, tags } of c.tagsOn(runs.ephemeral)) {
        for (const tag of c.testStackTags(EPHEMERAL_EXPIRY)) assert.ok(tags.includes(tag), `${resource} lacks ${tag}: ${tags.join(", ")}`);
      }
      for (const { resource, tags } of c.tagsOn(runs.base)) {
        assert.ok(!tags.some((t) => /expires/.test(t)), `${resource}: a lasting stack has no expiry tag (${tags.join(", ")})`);
      }
      assert.deepEqual(runs.ephemeral.resources.filter((r) => r.options.protect).map((r) => r.name), [], "nothing is protected");
      const size = (run: ProgramRun): unknown => only(run, c.vmType).inputs[c.cloud === "aws" ? "instanceType" : c.cloud === "gcp" ? "machineType" : "size"];
      assert.equal(size(runs.smallestForTests), c.testInstanceType);
      assert.equal(size(runs.ephemeral), size(runs.base), "a size in config is kept");
    });

    test("the static IP is protected from destroy (not on an ephemeral stack) and reaches the VM", () => {
      const staticIps = ofType(runs.base, c.staticIpType).filter((r) => r.inputs.addressType !== "INTERNAL");
      assert.equal(staticIps.length, 1);
      assert.equal(staticIps[0].options.protect, true);
      assert.equal(ofType(runs.ephemeral, c.staticIpType).find((r) => r.inputs.addressType !== "INTERNAL")?.options.protect, false);
      c.assertAttached(runs.base);
    });

    test("the image is looked up from the official publisher", () => {
      const lookup = runs.base.invokes.find((i) => i.token === c.imageLookup.token);
      assert.ok(lookup, `${c.imageLookup.token} was not invoked`);
      for (const [key, value] of Object.entries(c.imageLookup.inputs)) assert.deepEqual(lookup.inputs[key], value, key);
      assert.equal(runs.base.outputs.imageName, c.imageName);
    });

    test("user-data is a secret, is exactly the rendered bootstrap with the generated keys, and holds no TURN secret", () => {
      const expected = renderVm(exampleStackConfig(c.stack), { publicIp: MOCK.publicIp, bind: bindAddressFor(c.cloud) }, MOCK_ACCESS).userData;
      const userData = c.userData(only(runs.base, c.vmType));
      assert.equal(userData, expected);
      assert.ok(!userData.includes(TEST_SECRET), "the auth secret must not be in user-data");
      assert.doesNotMatch(userData, /static-auth-secret/);
      assert.match(userData, /^ +userdb=\/var\/lib\/turn\/turndb$/m);
      assert.match(userData, new RegExp(`^ +external-ip=${MOCK.publicIp.replace(/\./g, "\\.")}/`, "m"));
      const keys = ofType(runs.base, "tls:index/privateKey:PrivateKey");
      assert.deepEqual(keys.map((k) => k.inputs.algorithm), Array(5).fill("ED25519"), "host key, three deploy keys and the metrics read key");
      assert.ok(!userData.includes(TEST_CLOUDFLARE_TOKEN), "the DNS token must not be in user-data");
      assert.doesNotMatch(userData, /BEGIN (EC |RSA )?PRIVATE KEY/, "no TLS key in user-data");
    });

    test("the secrets go over SSH to coturn-secrets, verified by the generated host key, with the deploy key, as secrets", () => {
      const delivery = secretsDelivery(runs.base);
      const connection = secretValue(delivery.inputs.connection, "connection") as Record<string, unknown>;
      assert.equal(connection.host, c.sshAddress);
      assert.equal(connection.user, DEPLOY_USER);
      assert.equal(connection.privateKey, MOCK_DEPLOY_PRIVATE_KEY);
      assert.equal(connection.hostKey, MOCK_ACCESS.hostKey.publicKey.trim());
      assert.ok(Number(connection.dialErrorLimit) > 10 && Number(connection.perDialTimeout) > 0, "a fresh VM needs time to boot");
      assert.equal(delivery.inputs.create, SECRETS_APPLY_COMMAND);
      assert.equal(secretValue(delivery.inputs.stdin, "stdin"), secretSetDocument([TEST_SECRET]));
      assert.ok(delivery.options.additionalSecretOutputs.includes("stdin"), "the echoed stdin output stays secret");
      assert.equal(delivery.inputs.addPreviousOutputInEnv, false);
      const vm = only(runs.base, c.vmType);
      assert.deepEqual(delivery.inputs.triggers, [mockVmId(c, vm)], "a replaced VM gets the secrets again");
      assert.ok(delivery.options.dependsOn.some((urn) => urn.endsWith(`::${vm.name}`)), "it runs once the VM exists");
      assert.deepEqual(runs.base.outputs.acceptedSecretFingerprints, [secretFingerprint(TEST_SECRET)]);
    });

    test("the operations files go over SSH to coturn-ops with their own key, as a secret, before the TLS delivery", () => {
      const delivery = opsDelivery(runs.base);
      const connection = secretValue(delivery.inputs.connection, "connection") as Record<string, unknown>;
      assert.equal(connection.host, c.sshAddress);
      assert.equal(connection.privateKey, MOCK_OPS_DEPLOY_PRIVATE_KEY, "the key whose forced command is coturn-ops install");
      assert.equal(connection.hostKey, MOCK_ACCESS.hostKey.publicKey.trim());
      assert.equal(delivery.inputs.create, OPS_INSTALL_COMMAND);
      const config = exampleStackConfig(c.stack);
      const expected = renderVm(config, { publicIp: MOCK.publicIp, bind: bindAddressFor(c.cloud) }, MOCK_ACCESS).opsFiles;
      assert.equal(secretValue(delivery.inputs.stdin, "stdin"), opsInstallDocument(expected), "exactly the rendered operations files");
      const paths = expected.map((f) => f.path);
      for (const path of ["/usr/local/sbin/coturn-tls", "/etc/coturn/mtail/coturn.mtail", "/usr/local/sbin/coturn-metrics-collect", METRICS_READ_COMMAND]) {
        assert.ok(paths.includes(path), `${path} is delivered`);
      }
      assert.ok(delivery.options.additionalSecretOutputs.includes("stdin"));
      assert.deepEqual(delivery.inputs.triggers, [mockVmId(c, only(runs.base, c.vmType))], "a replaced VM gets them again");
      assert.ok(tlsDelivery(runs.base).options.dependsOn.some((urn) => urn.endsWith(`::${delivery.name}`)), "the TLS delivery needs coturn-tls installed first");
      assert.ok(
        secretsDelivery(runs.base).options.dependsOn.some((urn) => urn.endsWith(`::${delivery.name}`)),
        "the secrets wait for the per-source limits: coturn accepts no credential on a VM without them",
      );
    });

    test("metrics: closed to the world by default; listed scrapers get TCP 9100 and a bcrypt hash, never the password", () => {
      assert.ok(!c.ingress(runs.base).some((r) => r.startsWith("tcp 9100 ")), "no metrics port without scrapers");
      assert.deepEqual(c.ingress(runs.scrapers).sort(), [...expectedIngress(c.stack), "tcp 9100 198.51.100.9/32"].sort());
      const document = JSON.parse(String(secretValue(opsDelivery(runs.scrapers).inputs.stdin, "stdin"))) as { files: Array<{ path: string; group: string; content: string }> };
      const web = document.files.find((f) => f.path === "/etc/coturn/metrics-web.yml");
      assert.ok(web, "the web config is delivered with scrapers");
      assert.equal(web.group, "prometheus");
      const hash = /prometheus: (\S+)/.exec(web.content)?.[1] ?? "";
      assert.ok(bcrypt.compareSync(METRICS_PASSWORD, hash), "the hash is the password's");
      const dropIn = document.files.find((f) => f.path.startsWith("/etc/systemd/system/prometheus-node-exporter.service.d/"));
      assert.match(dropIn?.content ?? "", /--web\.listen-address=:9100 --web\.config\.file=\/etc\/coturn\/metrics-web\.yml/);
      const baseDocument = String(secretValue(opsDelivery(runs.base).inputs.stdin, "stdin"));
      assert.match(baseDocument, /--web\.listen-address=127\.0\.0\.1:9100 /, "loopback only without scrapers");
      assert.doesNotMatch(baseDocument, /metrics-web\.yml"/);
      const everything = JSON.stringify([runs.scrapers.resources.map((r) => r.inputs), runs.scrapers.outputs]);
      assert.ok(!everything.includes(METRICS_PASSWORD), "the scrapers' password is in no resource and no output");
      assert.deepEqual(only(runs.scrapers, c.vmType).inputs, only(runs.base, c.vmType).inputs, "scrapers change no VM input: no new VM");
    });

    test("the TLS material goes over SSH to coturn-tls with its own key, as a secret, and the VM's report is the output", () => {
      const delivery = tlsDelivery(runs.base);
      const connection = secretValue(delivery.inputs.connection, "connection") as Record<string, unknown>;
      assert.equal(connection.host, c.sshAddress);
      assert.equal(connection.user, DEPLOY_USER);
      assert.equal(connection.privateKey, MOCK_TLS_DEPLOY_PRIVATE_KEY, "the key whose forced command is coturn-tls deliver");
      assert.equal(connection.hostKey, MOCK_ACCESS.hostKey.publicKey.trim());
      assert.equal(delivery.inputs.create, TLS_DELIVER_COMMAND);
      const config = exampleStackConfig(c.stack);
      const names = [config.regionDomain, config.domain];
      const document = JSON.parse(String(secretValue(delivery.inputs.stdin, "stdin"))) as Record<string, unknown>;
      if (config.tls.mode === "acme") {
        assert.deepEqual(document, {
          mode: "acme",
          names,
          email: "ops@example.com",
          server: "https://acme-v02.api.letsencrypt.org/directory",
          dnsApiToken: TEST_CLOUDFLARE_TOKEN,
        });
      } else {
        assert.deepEqual(document, { mode: config.tls.mode, names });
      }
      assert.ok(delivery.options.additionalSecretOutputs.includes("stdin"), "the echoed stdin output stays secret");
      assert.deepEqual(delivery.inputs.triggers, [mockVmId(c, only(runs.base, c.vmType))], "a replaced VM gets its certificate again");
      assert.deepEqual((runs.base.outputs.tlsCertificate as { names: string[] }).names, names);
    });

    test("DNS: Cloudflare A records of both names when a zone is set, DNS only with a 60 s TTL; otherwise the records to create by hand", () => {
      const config = exampleStackConfig(c.stack);
      const records = ofType(runs.base, "cloudflare:index/dnsRecord:DnsRecord");
      const expected = [config.regionDomain, config.domain].map((name) => ({ name, type: "A", content: MOCK.publicIp, ttl: 60 }));
      if (config.cloudflare) {
        assert.deepEqual(
          records.map((r) => ({ name: r.inputs.name, type: r.inputs.type, content: r.inputs.content, ttl: r.inputs.ttl, proxied: r.inputs.proxied, zone: r.inputs.zoneId })),
          expected.map((e) => ({ ...e, proxied: false, zone: config.cloudflare?.zoneId })),
        );
        const provider = only(runs.base, "pulumi:providers:cloudflare");
        assert.equal(secretValue(provider.inputs.apiToken, "the Cloudflare token"), TEST_CLOUDFLARE_TOKEN);
        for (const record of records) assert.ok(String(record.options.provider).includes(provider.name), "records use the stack's token, not the environment's");
      } else {
        assert.deepEqual(records, []);
      }
      assert.deepEqual(
        runs.base.outputs.dnsRecords,
        expected.map((e) => ({ ...e, managedBy: config.cloudflare ? "cloudflare" : "you" })),
      );
    });

    test("a new auth secret changes only what is sent over SSH: no VM replacement, no restart, the static IP stays", () => {
      assert.deepEqual(changedInputs(runs.base, runs.otherSecret), ["command:remote:Command.stdin"]);
      const vm = (run: ProgramRun): Resource => only(run, c.vmType);
      assert.deepEqual(vm(runs.otherSecret).options.replacementTrigger, vm(runs.base).options.replacementTrigger);
      assert.equal(
        secretValue(secretsDelivery(runs.otherSecret).inputs.stdin, "stdin"),
        secretSetDocument([OTHER_SECRET, TEST_SECRET]),
        "the new secret first, the old one still accepted",
      );
      assert.deepEqual(runs.otherSecret.outputs.acceptedSecretFingerprints, [secretFingerprint(OTHER_SECRET), secretFingerprint(TEST_SECRET)]);
      if (c.replacementTrigger) {
        assert.notEqual(vm(runs.base).options.replacementTrigger, undefined, "other config changes need a replacement trigger");
        assert.notDeepEqual(vm(runs.otherQuota).options.replacementTrigger, vm(runs.base).options.replacementTrigger);
      }
    });

    test("tags every resource with the stack and the user's tags, in the cloud's form", () => {
      for (const { resource, tags } of c.tagsOn(runs.base)) {
        for (const tag of c.expectedTags) assert.ok(tags.includes(tag), `${resource} lacks ${tag}: ${tags.join(", ")}`);
      }
    });

    test("outputs give the static IP, the URLs and an iceServers template, and carry no secret", () => {
      assert.equal(runs.base.outputs.publicIp, MOCK.publicIp);
      assert.ok(Array.isArray(runs.base.outputs.urls) && runs.base.outputs.urls.length >= 4);
      // The one secret output: the metrics read keys of npm run status, one per server.
      assert.deepEqual(runs.base.secretOutputs, ["metricsAccess"]);
      const access = runs.base.outputs.metricsAccess as Array<{ server: string; user: string; privateKey: string }>;
      assert.deepEqual(access.map((a) => [a.server, a.user]), [[runs.base.outputs.servers ? (runs.base.outputs.servers as Array<{ name: string }>)[0].name : "", DEPLOY_USER]]);
      assert.match(access[0].privateKey, /PRIVATE KEY/);
      const values = JSON.stringify(Object.entries(runs.base.outputs).filter(([name]) => name !== "metricsAccess").map(([, value]) => value));
      assert.ok(!values.includes(TEST_SECRET), "an output contains the auth secret");
      assert.ok(!values.includes(TEST_CLOUDFLARE_TOKEN), "an output contains the Cloudflare token");
      assert.ok(!/credential|password|secret|PRIVATE KEY/i.test(values), "an output looks like it carries a credential");
    });

    test("a choice the cloud cannot honour fails before any resource, naming the key and the fix", () => {
      assert.equal(runs.impossible.resources.length, 0);
      assert.match(runs.impossible.error ?? "", c.impossible.message);
    });

    if (c.missingProvider) {
      const missing = c.missingProvider;
      test("missing provider settings fail before any cloud resource, saying what to set", () => {
        assert.deepEqual(runs.missingProvider.resources.filter((r) => !r.type.startsWith("coturn:")), []);
        assert.match(runs.missingProvider.error ?? "", missing.message);
        assert.ok(!(runs.missingProvider.error ?? "").includes(TEST_SECRET));
      });
    }
  });
}

describe("what only one cloud has", () => {
  const runs: Partial<Record<DeployCloud, ProgramRun>> = {};
  before(async () => {
    const all = await Promise.all(CASES.map(async (c) => [c.cloud, await runProgram(exampleConfig(c.stack))] as const));
    Object.assign(runs, Object.fromEntries(all));
  });
  const run = (cloud: DeployCloud): ProgramRun => runs[cloud] ?? assert.fail(`no ${cloud} run`);

  test("aws: own security group and VPC, IMDSv2 only, encrypted disk, no instance role, zone that offers the type", () => {
    const aws = run("aws");
    const group = only(aws, "aws:ec2/securityGroup:SecurityGroup");
    assert.equal(group.inputs.ingress, undefined);
    assert.equal(group.inputs.egress, undefined);
    for (const r of aws.resources.filter((r) => r.type.startsWith("aws:vpc/securityGroup"))) {
      assert.equal(r.inputs.securityGroupId, `${group.name}-id`, r.name);
    }
    assert.deepEqual(only(aws, "aws:ec2/networkInterface:NetworkInterface").inputs.securityGroups, [`${group.name}-id`]);
    const vm = only(aws, "aws:ec2/instance:Instance");
    assert.deepEqual(vm.inputs.metadataOptions, {
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: "disabled",
    });
    const { tags: diskTags, ...disk } = vm.inputs.rootBlockDevice as Record<string, unknown>;
    assert.deepEqual(disk, { encrypted: true, volumeType: "gp3", deleteOnTermination: true });
    assert.equal((diskTags as Record<string, string>).Name, "aws-example-disk");
    assert.equal(vm.inputs.userDataReplaceOnChange, true);
    assert.equal(vm.inputs.iamInstanceProfile, undefined, "coturn needs no AWS API access");
    assert.equal(vm.options.deleteBeforeReplace, true, "the network interface holds one instance at a time");
    assert.equal(only(aws, "aws:ec2/subnet:Subnet").inputs.availabilityZone, "eu-central-1a");
    assert.equal(only(aws, "pulumi:providers:aws").inputs.region, "eu-central-1");
  });

  test("gcp: every rule targets the TURN tag, the rest of egress is denied, no scopes, revision trigger", () => {
    const gcp = run("gcp");
    const rules = ofType(gcp, "gcp:compute/firewall:Firewall");
    const network = `${only(gcp, "gcp:compute/network:Network").name}-id`;
    for (const rule of rules) {
      assert.deepEqual(rule.inputs.targetTags, [GCP_TURN_TAG], rule.name);
      assert.equal(rule.inputs.network, network, rule.name);
    }
    const denyRest = rules.filter((r) => r.inputs.denies !== undefined);
    assert.deepEqual(
      denyRest.map((r) => [r.inputs.direction, r.inputs.priority, r.inputs.destinationRanges, r.inputs.denies]),
      [["EGRESS", 65534, ["0.0.0.0/0"], [{ protocol: "all" }]]],
    );
    assert.ok(rules.filter((r) => r.inputs.allows).every((r) => Number(r.inputs.priority) < 65534));
    assert.equal(only(gcp, "gcp:compute/network:Network").inputs.autoCreateSubnetworks, false);
    const vm = only(gcp, "gcp:compute/instance:Instance");
    assert.deepEqual(vm.inputs.tags, [GCP_TURN_TAG]);
    assert.equal(vm.inputs.zone, "europe-west3-a", "the first zone (by name) that is up");
    assert.deepEqual(vm.inputs.serviceAccount, { email: `${String(only(gcp, "gcp:serviceaccount/account:Account").inputs.accountId)}@mock-project.iam.gserviceaccount.com`, scopes: [] });
    assert.equal(vm.inputs.metadataStartupScript, undefined, "a startup script in its own field replaces the VM on change");
    const metadata = secretValue(vm.inputs.metadata, "metadata") as Record<string, string>;
    assert.equal(metadata["block-project-ssh-keys"], "TRUE");
    assert.equal(metadata["serial-port-enable"], "FALSE");
    assert.equal(vm.inputs.canIpForward, false);
    assert.deepEqual(vm.inputs.shieldedInstanceConfig, { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true });
    assert.deepEqual(vm.inputs.bootDisk, {
      initializeParams: {
        image: "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64",
        size: 10,
        type: "pd-balanced",
        labels: vm.inputs.labels,
      },
    });
    assert.equal(vm.options.deleteBeforeReplace, true, "the static internal address holds one VM at a time");
    assert.equal(vm.options.replacementTrigger, renderUserData(exampleStackConfig("gcp-example"), { publicIp: MOCK.publicIp, bind: bindAddressFor("gcp") }, MOCK_ACCESS).revision);
    for (const rule of rules) assert.ok(vm.options.dependsOn.some((urn) => urn.endsWith(`::${rule.name}`)), `the VM starts after ${rule.name}`);
  });

  test("digitalocean: firewall by tag before the Droplet exists, own VPC, anchor routing in the bootstrap", () => {
    const digitalocean = run("digitalocean");
    const tag = only(digitalocean, "digitalocean:index/tag:Tag");
    const firewall = only(digitalocean, "digitalocean:index/firewall:Firewall");
    const droplet = only(digitalocean, "digitalocean:index/droplet:Droplet");
    assert.deepEqual(firewall.inputs.tags, [`${tag.name}-a1b2c3`]);
    assert.equal(firewall.inputs.dropletIds, undefined);
    assert.equal((droplet.inputs.tags as string[])[0], `${tag.name}-a1b2c3`);
    assert.ok(droplet.options.dependsOn.some((urn) => urn.endsWith(`::${firewall.name}`)), "the Droplet boots behind its firewall");
    assert.equal(droplet.inputs.vpcUuid, `${only(digitalocean, "digitalocean:index/vpc:Vpc").name}-id`);
    assert.equal(droplet.inputs.image, "debian-12-x64", "the slug, so a new image does not replace the Droplet");
    assert.deepEqual([droplet.inputs.ipv6, droplet.inputs.monitoring, droplet.inputs.dropletAgent, droplet.inputs.backups], [false, false, false, false]);
    const userData = String(secretValue(droplet.inputs.userData, "userData"));
    const anchor = ANCHOR_ADDRESS_PLACEHOLDER.replace(/\./g, "\\.");
    assert.match(userData, new RegExp(`^ +listening-ip=${anchor}$`, "m"));
    assert.match(userData, new RegExp(`^ +external-ip=${MOCK.publicIp.replace(/\./g, "\\.")}/${anchor}$`, "m"));
    assert.match(userData, /- path: \/usr\/local\/sbin\/coturn-anchor-network\n/);
    assert.match(userData, /- path: \/etc\/systemd\/system\/coturn-anchor-network\.service\n/);
  });
});

describe("stacks the program refuses", () => {
  test("invalid config stops the program before any resource is registered, without leaking the secret", async () => {
    const run = await runProgram(
      withValues(exampleConfig(), { "coturn:relayPorts": "3000-4000", "coturn:domian": "x", "coturn:authSecret": "short-secret" }),
    );
    assert.equal(run.resources.length, 0, "no resource may be registered for invalid config");
    assert.match(run.error ?? "", /^RunError: Stack config of "aws-example" is invalid \(3 problems\)/);
    assert.match(run.error ?? "", /coturn:relayPorts = "3000-4000": overlaps listener port 3478/);
    assert.match(run.error ?? "", /coturn:domian: is not a known key \(did you mean coturn:domain\?\)/);
    assert.match(run.error ?? "", /coturn:authSecret = \(secret, 12 characters\): is 12 characters/);
    assert.ok(!(run.error ?? "").includes("short-secret"));
  });

  test("a local stack is refused before anything is registered: npm run local runs it", async () => {
    const run = await runProgram({
      stack: "local",
      values: { "coturn:cloud": "local", "coturn:domain": "turn.localhost", "coturn:relayPorts": "49152-49407" },
      secretKeys: [],
    });
    assert.equal(run.resources.length, 0, "no resource may be registered for a local stack");
    assert.deepEqual(run.invokes, []);
    assert.equal(
      run.error,
      "RunError: stack local has coturn:cloud local: run it with `npm run local`, `pulumi up` deploys aws, gcp and digitalocean stacks",
    );
  });

  test("a cloud stack without an SSH source for the secret delivery is refused before any resource, saying what to set", async () => {
    const run = await runProgram(withValues(exampleConfig(), { "coturn:ssh": undefined }));
    assert.equal(run.resources.length, 0);
    assert.match(run.error ?? "", /coturn:ssh\.allowedCidrs = \[\]: is empty, but `pulumi up` delivers the TURN secrets to the VM over SSH/);
    assert.match(run.error ?? "", /pulumi config set --path 'coturn:ssh\.allowedCidrs\[0\]' 203\.0\.113\.7\/32/);
  });

  test("a secret set without --secret is refused", async () => {
    const config = exampleConfig();
    config.secretKeys = [];
    const run = await runProgram(config);
    assert.equal(run.resources.length, 0);
    assert.match(run.error ?? "", /coturn:authSecret = \(not shown\): is stored in plain text/);
    assert.ok(!(run.error ?? "").includes(TEST_SECRET));
  });
});

describe("a region of several servers (coturn:serverCount)", () => {
  let run: ProgramRun;
  before(async () => {
    run = await runProgram(withValues(exampleConfig(), { "coturn:serverCount": "3" }));
    assert.equal(run.error, undefined, run.error);
  });

  test("each server has its own VM, static IP, secret delivery and certificate; server 1 keeps the stack's names", () => {
    assert.deepEqual(ofType(run, "coturn:index:TurnServer").map((r) => r.name), ["aws-example", "aws-example-2", "aws-example-3"]);
    assert.equal(ofType(run, "aws:ec2/instance:Instance").length, 3);
    assert.equal(ofType(run, "aws:ec2/eip:Eip").length, 3);
    assert.equal(ofType(run, "command:remote:Command").filter((r) => r.name.endsWith("-auth-secrets")).length, 3);
    const tls = ofType(run, "command:remote:Command").filter((r) => r.name.endsWith("-tls-certificate"));
    assert.deepEqual(
      tls.map((r) => (JSON.parse(secretValue(r.inputs.stdin, "the TLS document") as string) as { names: string[] }).names).sort(),
      [1, 2, 3].map((k) => [`s${k}.eu-central-1.turn.example.com`, "eu-central-1.turn.example.com", "turn.example.com"]),
    );
  });

  test("DNS: each server's own name, and the region's and shared names once per server", () => {
    const records = ofType(run, "cloudflare:index/dnsRecord:DnsRecord").map((r) => r.inputs.name as string);
    const count = (name: string): number => records.filter((r) => r === name).length;
    assert.deepEqual([1, 2, 3].map((k) => count(`s${k}.eu-central-1.turn.example.com`)), [1, 1, 1]);
    assert.equal(count("eu-central-1.turn.example.com"), 3);
    assert.equal(count("turn.example.com"), 3);
  });

  test("outputs list every server; the accepted secrets are those every server reported", () => {
    const servers = run.outputs.servers as Array<{ name: string; domain: string; publicIp: string }>;
    assert.deepEqual(servers.map((s) => [s.name, s.domain]), [1, 2, 3].map((k) => [k === 1 ? "aws-example" : `aws-example-${k}`, `s${k}.eu-central-1.turn.example.com`]));
    assert.deepEqual(run.outputs.acceptedSecretFingerprints, [secretFingerprint(TEST_SECRET)]);
    assert.deepEqual([run.outputs.cloud, run.outputs.region], ["aws", "eu-central-1"]);
  });

  test("a count outside 1-10 is a config error", async () => {
    const refused = await runProgram(withValues(exampleConfig(), { "coturn:serverCount": "11" }));
    assert.equal(refused.resources.length, 0);
    assert.match(refused.error ?? "", /coturn:serverCount = "11": must be at most 10/);
  });
});
