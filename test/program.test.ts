/**
 * Mock-based tests of the real Pulumi program (index.ts) for the example stack: every security-relevant input the
 * program sends to AWS, and what it exports.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { validateStackConfig } from "../src/config/validate";
import { AWS_NETWORK } from "../src/clouds/aws";
import { renderVm } from "../src/render/vmFiles";
import { MOCK } from "./support/mockCloud";
import { TEST_SECRET, exampleConfig, runProgram, type ProgramRun } from "./support/program";

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

type Resource = ProgramRun["resources"][number];

/** EC2 receives gzipped, base64 user-data; cloud-init unpacks it. */
function decodeUserData(base64: unknown): string {
  return gunzipSync(Buffer.from(String(base64), "base64")).toString("utf8");
}

function ofType(run: ProgramRun, type: string): Resource[] {
  return run.resources.filter((r) => r.type === type);
}

function only(run: ProgramRun, type: string): Resource {
  const found = ofType(run, type);
  assert.equal(found.length, 1, `expected exactly one ${type}, found ${found.length}`);
  return found[0];
}

function rules(run: ProgramRun, type: string): string[] {
  return ofType(run, type)
    .map((r) => `${String(r.inputs.ipProtocol)} ${String(r.inputs.fromPort)}-${String(r.inputs.toPort)} ${String(r.inputs.cidrIpv4)}`)
    .sort();
}

function withConfig(changes: Record<string, string | undefined>): ReturnType<typeof exampleConfig> {
  const config = exampleConfig();
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete config.values[key];
    else config.values[key] = value;
  }
  return config;
}

describe("the example AWS stack under mocks", () => {
  let run: ProgramRun;
  before(() => {
    run = runProgram(exampleConfig());
    assert.equal(run.error, undefined, `program failed: ${run.error}`);
  });

  test("registers each resource under a unique type and name (mocks do not reject duplicate URNs; the engine does)", () => {
    const urns = run.resources.map((r) => `${r.type}::${r.name}`);
    assert.deepEqual(urns.filter((u, i) => urns.indexOf(u) !== i), []);
    assert.ok(run.resources.length >= 20, `only ${run.resources.length} resources registered`);
  });

  test("opens exactly the configured listeners and the relay range, and no SSH", () => {
    assert.deepEqual(rules(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"), [
      "tcp 3478-3478 0.0.0.0/0",
      "tcp 443-443 0.0.0.0/0",
      "tcp 5349-5349 0.0.0.0/0",
      "udp 3478-3478 0.0.0.0/0",
      "udp 49152-65535 0.0.0.0/0",
      "udp 5349-5349 0.0.0.0/0",
    ]);
  });

  test("lets out only UDP to peers and HTTP(S) for packages", () => {
    assert.deepEqual(rules(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"), [
      "tcp 443-443 0.0.0.0/0",
      "tcp 80-80 0.0.0.0/0",
      "udp 0-65535 0.0.0.0/0",
    ]);
  });

  test("every rule belongs to the server's own security group, which no inline rule widens", () => {
    const group = only(run, "aws:ec2/securityGroup:SecurityGroup");
    assert.equal(group.inputs.ingress, undefined);
    assert.equal(group.inputs.egress, undefined);
    for (const r of [
      ...ofType(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"),
      ...ofType(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"),
    ]) {
      assert.equal(r.inputs.securityGroupId, `${group.name}-id`, r.name);
    }
    assert.deepEqual(only(run, "aws:ec2/networkInterface:NetworkInterface").inputs.securityGroups, [`${group.name}-id`]);
  });

  test("the static IP sits on a network interface with a fixed private address, protected from destroy", () => {
    const eip = only(run, "aws:ec2/eip:Eip");
    const eni = only(run, "aws:ec2/networkInterface:NetworkInterface");
    const association = only(run, "aws:ec2/eipAssociation:EipAssociation");
    assert.equal(eip.inputs.domain, "vpc");
    assert.equal(eip.options.protect, true);
    assert.deepEqual(eni.inputs.privateIps, [AWS_NETWORK.privateIp]);
    assert.equal(association.inputs.allocationId, MOCK.allocationId);
    assert.equal(association.inputs.networkInterfaceId, `${eni.name}-id`);
    assert.equal(association.inputs.instanceId, undefined, "the IP must follow the interface, not one instance");
  });

  test("the instance boots from the looked-up official image on that interface, IMDSv2 only, encrypted disk", () => {
    const vm = only(run, "aws:ec2/instance:Instance");
    const eni = only(run, "aws:ec2/networkInterface:NetworkInterface");
    assert.equal(vm.inputs.ami, MOCK.amiId);
    assert.equal(vm.inputs.instanceType, "t4g.small");
    assert.deepEqual(vm.inputs.primaryNetworkInterface, { networkInterfaceId: `${eni.name}-id` });
    assert.deepEqual(vm.inputs.metadataOptions, {
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
      instanceMetadataTags: "disabled",
    });
    assert.deepEqual(vm.inputs.rootBlockDevice, { encrypted: true, volumeType: "gp3", deleteOnTermination: true });
    assert.equal(vm.inputs.userDataReplaceOnChange, true);
    assert.equal(vm.inputs.iamInstanceProfile, undefined, "coturn needs no AWS API access");
    assert.equal(vm.inputs.associatePublicIpAddress, undefined);
    assert.equal(vm.options.deleteBeforeReplace, true);
  });

  test("the image is looked up from Debian's AWS account for the instance's architecture", () => {
    const lookup = run.invokes.find((i) => i.token === "aws:ec2/getAmi:getAmi");
    assert.ok(lookup, "getAmi was not invoked");
    assert.deepEqual(lookup.inputs.owners, ["136693071363"]);
    assert.equal(lookup.inputs.mostRecent, true);
    assert.deepEqual(lookup.inputs.filters, [
      { name: "name", values: ["debian-12-arm64-*"] },
      { name: "architecture", values: ["arm64"] },
      { name: "virtualization-type", values: ["hvm"] },
      { name: "root-device-type", values: ["ebs"] },
    ]);
  });

  test("the subnet is in the first zone that offers the instance type", () => {
    assert.equal(only(run, "aws:ec2/subnet:Subnet").inputs.availabilityZone, "eu-central-1a");
    assert.equal(only(run, "aws:ec2/subnet:Subnet").inputs.mapPublicIpOnLaunch, false);
  });

  test("user-data is a secret and is exactly the rendered bootstrap for the static and private IPs", () => {
    const wrapped = only(run, "aws:ec2/instance:Instance").inputs.userDataBase64 as Record<string, unknown>;
    assert.equal(typeof wrapped, "object", "user-data must reach the engine as a secret");
    assert.ok(SECRET_SIG in wrapped, "user-data is not marked secret");
    assert.equal(only(run, "aws:ec2/instance:Instance").inputs.userData, undefined);
    const userData = { value: decodeUserData(wrapped.value) };
    const config = validateStackConfig({
      stack: "aws-example",
      values: exampleConfig().values,
      secretKeys: new Set(exampleConfig().secretKeys),
    });
    const expected = renderVm(config, { publicIp: MOCK.publicIp, privateIp: AWS_NETWORK.privateIp }).userData;
    assert.equal(userData.value, expected);
    assert.match(String(userData.value), new RegExp(`^ +static-auth-secret=${TEST_SECRET}$`, "m"));
    assert.match(String(userData.value), new RegExp(`external-ip=${MOCK.publicIp}/${AWS_NETWORK.privateIp.replace(/\./g, "\\.")}`));
  });

  test("the provider runs in the configured region and tags every resource with the stack", () => {
    const provider = only(run, "pulumi:providers:aws");
    assert.equal(provider.inputs.region, "eu-central-1");
    const tags = (JSON.parse(String(provider.inputs.defaultTags)) as { tags: Record<string, string> }).tags;
    assert.deepEqual(tags, {
      team: "realtime",
      "coturn:project": "coturn",
      "coturn:stack": "aws-example",
      "coturn:ephemeral": "false",
      ManagedBy: "pulumi",
    });
    for (const r of run.resources.filter((r) => r.type.startsWith("aws:"))) {
      assert.ok(r.type === "pulumi:providers:aws" || r.inputs !== undefined, r.name);
    }
  });

  test("outputs give the URLs and an iceServers template, and carry no secret", () => {
    assert.equal(run.outputs.publicIp, MOCK.publicIp);
    assert.equal(run.outputs.domain, "turn.example.com");
    assert.equal(run.outputs.instanceId, "aws-example-vm-id");
    assert.equal(run.outputs.dnsRecord, `turn.example.com. A ${MOCK.publicIp}`);
    assert.deepEqual(run.outputs.urls, [
      "turn:turn.example.com:3478?transport=udp",
      "turn:turn.example.com:3478?transport=tcp",
      "turns:turn.example.com:5349?transport=tcp",
      "turns:turn.example.com:443?transport=tcp",
      "turns:turn.example.com:5349?transport=udp",
    ]);
    assert.deepEqual(run.outputs.iceServers, [
      {
        urls: [
          "turn:turn.example.com:3478?transport=udp",
          "turn:turn.example.com:3478?transport=tcp",
          "turns:turn.example.com:5349?transport=tcp",
          "turns:turn.example.com:443?transport=tcp",
        ],
      },
    ]);
    const everything = JSON.stringify(run.outputs);
    assert.ok(!everything.includes(TEST_SECRET), "an output contains the auth secret");
    assert.ok(!/credential|password|secret/i.test(everything), "an output looks like it carries a credential");
  });
});

describe("config variants under mocks", () => {
  test("SSH opens port 22 to exactly the configured CIDRs and installs the key", () => {
    const run = runProgram(
      withConfig({
        "coturn:ssh": JSON.stringify({
          allowedCidrs: ["203.0.113.7/32", "198.51.100.0/24"],
          publicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey ops@example.com"],
        }),
      }),
    );
    assert.equal(run.error, undefined, run.error);
    const ssh = rules(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").filter((r) => r.startsWith("tcp 22-22"));
    assert.deepEqual(ssh, ["tcp 22-22 198.51.100.0/24", "tcp 22-22 203.0.113.7/32"]);
    const userData = decodeUserData((only(run, "aws:ec2/instance:Instance").inputs.userDataBase64 as { value: string }).value);
    assert.match(userData, /ssh_authorized_keys:\n {2}- "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey ops@example.com"/);
  });

  test("a listener subset opens only those ports; an ephemeral stack's IP is not protected", () => {
    const run = runProgram(
      withConfig({ "coturn:listeners": '["udp","tls"]', "coturn:relayPorts": "50000-50999", "coturn:ephemeral": "true" }),
    );
    assert.equal(run.error, undefined, run.error);
    assert.deepEqual(rules(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"), [
      "tcp 5349-5349 0.0.0.0/0",
      "udp 3478-3478 0.0.0.0/0",
      "udp 50000-50999 0.0.0.0/0",
    ]);
    assert.equal(only(run, "aws:ec2/eip:Eip").options.protect, false);
  });

  test("an x86 instance type boots the amd64 Ubuntu image", () => {
    const run = runProgram(withConfig({ "coturn:instanceType": "c7i.large", "coturn:image": "ubuntu-24.04" }));
    assert.equal(run.error, undefined, run.error);
    const lookup = run.invokes.find((i) => i.token === "aws:ec2/getAmi:getAmi");
    assert.deepEqual(lookup?.inputs.owners, ["099720109477"]);
    assert.deepEqual((lookup?.inputs.filters as unknown[])[0], {
      name: "name",
      values: ["ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-server-*"],
    });
  });

  test("invalid config stops the program before any resource is registered, without leaking the secret", () => {
    const run = runProgram(
      withConfig({ "coturn:relayPorts": "3000-4000", "coturn:domian": "x", "coturn:authSecret": "short-secret" }),
    );
    assert.equal(run.resources.length, 0, "no resource may be registered for invalid config");
    assert.match(run.error ?? "", /^RunError: Stack config of "aws-example" is invalid \(3 problems\)/);
    assert.match(run.error ?? "", /coturn:relayPorts = "3000-4000": overlaps listener port 3478/);
    assert.match(run.error ?? "", /coturn:domian: is not a known key \(did you mean coturn:domain\?\)/);
    assert.match(run.error ?? "", /coturn:authSecret = \(secret, 12 characters\): is 12 characters/);
    assert.ok(!(run.error ?? "").includes("short-secret"));
  });

  test("a local stack is refused before anything is registered: npm run local runs it", () => {
    const run = runProgram({
      stack: "local",
      values: { "coturn:cloud": "local", "coturn:domain": "turn.localhost", "coturn:relayPorts": "49152-49407" },
      secretKeys: [],
    });
    assert.equal(run.resources.length, 0, "no resource may be registered for a local stack");
    assert.deepEqual(run.invokes, []);
    assert.equal(run.error, "RunError: stack local has coturn:cloud local: run it with `npm run local`, `pulumi up` deploys aws stacks");
  });

  test("a secret set without --secret is refused", () => {
    const config = exampleConfig();
    config.secretKeys = [];
    const run = runProgram(config);
    assert.equal(run.resources.length, 0);
    assert.match(run.error ?? "", /coturn:authSecret = \(not shown\): is stored in plain text/);
    assert.ok(!(run.error ?? "").includes(TEST_SECRET));
  });
});
