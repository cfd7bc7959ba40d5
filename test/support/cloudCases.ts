/**
 * What differs between the clouds' example stacks under mocks, as data (one `CloudCase` per cloud), and the helpers
 * that read a mocked run: the program tests run once per case, and the public API test reads the same firewall,
 * static IP and user-data of a program of a user's own.
 */
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import type { DeployCloud } from "../../src/config/schema";
import { NAT_NETWORK } from "../../src/plan/addresses";
import { MOCK, SECRET_SIG, type ProgramRun } from "../../lab/mocks/mockCloud";

/** One resource the program registered under mocks. */
export type Resource = ProgramRun["resources"][number];

/** Every registered resource of `type`. */
export function ofType(run: ProgramRun, type: string): Resource[] {
  return run.resources.filter((r) => r.type === type);
}

/** The one registered resource of `type` (whose name ends with `nameSuffix`); fails unless there is exactly one. */
export function only(run: ProgramRun, type: string, nameSuffix = ""): Resource {
  const found = ofType(run, type).filter((r) => r.name.endsWith(nameSuffix));
  assert.equal(found.length, 1, `expected exactly one ${type}${nameSuffix ? ` named *${nameSuffix}` : ""}, found ${found.length}`);
  return found[0];
}

/** A secret input's plaintext; fails when the input is not marked secret. */
export function secretValue(input: unknown, what: string): unknown {
  assert.ok(typeof input === "object" && input !== null && SECRET_SIG in input, `${what} must reach the engine as a secret`);
  return (input as unknown as { value: unknown }).value;
}

/** A port range as every cloud's rule is normalised here: "3478", "49152-65535" or "all". */
function ports(from: number | undefined, to: number | undefined): string {
  if (from === undefined || ((from === 0 || from === 1) && to === 65535)) return "all";
  return from === to ? String(from) : `${from}-${to}`;
}

/** A port range written as text ("3478", "49152-65535"), normalised like `ports`. */
function portsFromText(text: string | undefined): string {
  if (text === undefined) return "all";
  const [from, to] = text.split("-").map(Number);
  return ports(from, to ?? from);
}

/** What differs between clouds, as data; every test below runs once per entry. */
export interface CloudCase {
  readonly cloud: DeployCloud;
  readonly stack: string;
  /** The VM resource type. */
  readonly vmType: string;
  /** Inbound rules as "protocol ports source". */
  ingress(run: ProgramRun): string[];
  /** Allowed outbound rules as "protocol ports destination". */
  egress(run: ProgramRun): string[];
  /** The user-data exactly as cloud-init receives it, checking on the way that it is a secret input. */
  userData(vm: Resource): string;
  /** The static IP resource type, and a check that it reaches the VM. */
  readonly staticIpType: string;
  assertAttached(run: ProgramRun): void;
  /** The image lookup the program must make. */
  readonly imageLookup: { readonly token: string; readonly inputs: Record<string, unknown> };
  readonly imageName: string;
  /** The address `pulumi up` reaches the VM's SSH server on. */
  readonly sshAddress: string;
  /** Whether the VM has a replacement trigger (a cloud whose user-data changes in place needs one). */
  readonly replacementTrigger: boolean;
  /** Every resource's tags in one list of `name=value` (or the cloud's form), for the stack and user tags. */
  tagsOn(run: ProgramRun): Array<{ resource: string; tags: string[] }>;
  /** The user tag and the stack tag as the cloud shows them. */
  readonly expectedTags: readonly string[];
  /** A test stack's time to live (4h) and expiry tags as the cloud shows them. */
  testStackTags(expiry: string): string[];
  /** The VM size a test stack gets when none is configured. */
  readonly testInstanceType: string;
  /** A config the cloud refuses (key named in the error), and what the error says. */
  readonly impossible: { readonly changes: Record<string, string | undefined>; readonly message: RegExp };
  /** Provider settings the program needs; removing them must fail before any resource, naming the fix. */
  readonly missingProvider?: { readonly changes: Record<string, string | undefined>; readonly message: RegExp };
}

/** Every cloud's example stack, as data: the program tests run once per entry. */
export const CASES: readonly CloudCase[] = [
  {
    cloud: "aws",
    stack: "aws-example",
    vmType: "aws:ec2/instance:Instance",
    ingress: (run) =>
      ofType(run, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule").map(
        (r) => `${String(r.inputs.ipProtocol)} ${ports(Number(r.inputs.fromPort), Number(r.inputs.toPort))} ${String(r.inputs.cidrIpv4)}`,
      ),
    egress: (run) =>
      ofType(run, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule").map(
        (r) => `${String(r.inputs.ipProtocol)} ${ports(Number(r.inputs.fromPort), Number(r.inputs.toPort))} ${String(r.inputs.cidrIpv4)}`,
      ),
    userData: (vm) => gunzipSync(Buffer.from(String(secretValue(vm.inputs.userDataBase64, "userDataBase64")), "base64")).toString("utf8"),
    staticIpType: "aws:ec2/eip:Eip",
    assertAttached: (run) => {
      const eni = only(run, "aws:ec2/networkInterface:NetworkInterface");
      const association = only(run, "aws:ec2/eipAssociation:EipAssociation");
      assert.deepEqual(eni.inputs.privateIps, [NAT_NETWORK.privateIp]);
      assert.equal(association.inputs.allocationId, MOCK.allocationId);
      assert.equal(association.inputs.networkInterfaceId, `${eni.name}-id`);
      assert.equal(association.inputs.instanceId, undefined, "the IP must follow the interface, not one instance");
      assert.deepEqual(only(run, "aws:ec2/instance:Instance").inputs.primaryNetworkInterface, { networkInterfaceId: `${eni.name}-id` });
    },
    imageLookup: {
      token: "aws:ec2/getAmi:getAmi",
      inputs: {
        owners: ["136693071363"],
        mostRecent: true,
        filters: [
          { name: "name", values: ["debian-12-arm64-*"] },
          { name: "architecture", values: ["arm64"] },
          { name: "virtualization-type", values: ["hvm"] },
          { name: "root-device-type", values: ["ebs"] },
        ],
      },
    },
    imageName: MOCK.amiName,
    sshAddress: MOCK.publicIp,
    replacementTrigger: false,
    tagsOn: (run) => {
      const provider = only(run, "pulumi:providers:aws");
      const tags = (JSON.parse(String(provider.inputs.defaultTags)) as { tags: Record<string, string> }).tags;
      const disk = (only(run, "aws:ec2/instance:Instance").inputs.rootBlockDevice as { tags: Record<string, string> }).tags;
      return [
        { resource: "every AWS resource (provider default tags)", tags: Object.entries(tags).map(([k, v]) => `${k}=${v}`) },
        // Default tags do not reach an instance's root volume.
        { resource: "root volume", tags: Object.entries(disk).map(([k, v]) => `${k}=${v}`) },
      ];
    },
    expectedTags: ["team=realtime", "coturn:stack=aws-example", "coturn:ephemeral=false", "ManagedBy=pulumi"],
    testStackTags: (expiry) => ["coturn:ephemeral=4h", `coturn:expires-at=${expiry}`],
    testInstanceType: "t4g.micro",
    impossible: { changes: { "coturn:region": "europe-west3" }, message: /coturn:region = "europe-west3": is a region of Google Cloud, not an AWS region name \(coturn:cloud is aws\)/ },
  },
  {
    cloud: "gcp",
    stack: "gcp-example",
    vmType: "gcp:compute/instance:Instance",
    ingress: (run) => gcpRules(run, "INGRESS", "sourceRanges"),
    egress: (run) => gcpRules(run, "EGRESS", "destinationRanges"),
    userData: (vm) => (secretValue(vm.inputs.metadata, "metadata") as Record<string, string>)["user-data"],
    staticIpType: "gcp:compute/address:Address",
    assertAttached: (run) => {
      const vm = only(run, "gcp:compute/instance:Instance");
      const internal = ofType(run, "gcp:compute/address:Address").find((a) => a.inputs.addressType === "INTERNAL");
      assert.equal(internal?.inputs.address, NAT_NETWORK.privateIp);
      assert.deepEqual(vm.inputs.networkInterfaces, [
        {
          subnetwork: `${only(run, "gcp:compute/subnetwork:Subnetwork").name}-id`,
          networkIp: NAT_NETWORK.privateIp,
          accessConfigs: [{ natIp: MOCK.publicIp, networkTier: "PREMIUM" }],
        },
      ]);
    },
    imageLookup: { token: "gcp:compute/getImage:getImage", inputs: { project: "ubuntu-os-cloud", family: "ubuntu-2404-lts-amd64" } },
    imageName: MOCK.gcpImageName,
    sshAddress: MOCK.publicIp,
    replacementTrigger: true,
    tagsOn: (run) =>
      run.resources
        .filter((r) => r.type === "gcp:compute/instance:Instance" || r.type === "gcp:compute/address:Address")
        .flatMap((r) => [
          { resource: r.name, labels: r.inputs.labels as Record<string, string> },
          ...(r.type === "gcp:compute/instance:Instance"
            ? [{ resource: `${r.name} boot disk`, labels: (r.inputs.bootDisk as { initializeParams: { labels: Record<string, string> } }).initializeParams.labels }]
            : []),
        ])
        .map(({ resource, labels }) => ({ resource, tags: Object.entries(labels).map(([k, v]) => `${k}=${v}`) })),
    expectedTags: ["team=realtime", "coturn-stack=gcp-example", "coturn-ephemeral=false", "managedby=pulumi"],
    // Labels allow lowercase letters, digits, _ and - only: 2026-11-22T18:00:00Z reads 2026-11-22t18_00_00z.
    testStackTags: (expiry) => ["coturn-ephemeral=4h", `coturn-expires-at=${expiry.toLowerCase().replace(/:/g, "_")}`],
    testInstanceType: "e2-micro",
    impossible: {
      changes: { "coturn:image": "debian-12", "coturn:availabilityZone": "us-central1-a" },
      message: /coturn:availabilityZone = "us-central1-a": is not a zone of region europe-west3\. Use e\.g\. "europe-west3-a"[\s\S]*coturn:image = "debian-12": Debian's official Compute Engine images ship without cloud-init/,
    },
    missingProvider: {
      changes: { "gcp:project": undefined },
      message: /gcp: no Google Cloud project is set\. Set it: pulumi config set gcp:project <your-project-id>/,
    },
  },
  {
    cloud: "digitalocean",
    stack: "digitalocean-example",
    vmType: "digitalocean:index/droplet:Droplet",
    ingress: (run) => doRules(run, "inboundRules", "sourceAddresses"),
    egress: (run) => doRules(run, "outboundRules", "destinationAddresses"),
    userData: (vm) => String(secretValue(vm.inputs.userData, "userData")),
    staticIpType: "digitalocean:index/reservedIp:ReservedIp",
    assertAttached: (run) => {
      const assignment = only(run, "digitalocean:index/reservedIpAssignment:ReservedIpAssignment");
      assert.equal(assignment.inputs.ipAddress, MOCK.publicIp);
      assert.equal(assignment.inputs.dropletId, 424242);
      assert.equal(assignment.options.deleteBeforeReplace, true, "a new Droplet gets the IP only after the old assignment is gone");
    },
    imageLookup: { token: "digitalocean:index/getImage:getImage", inputs: { slug: "debian-12-x64" } },
    imageName: MOCK.digitalOceanImageName,
    sshAddress: MOCK.dropletIp,
    replacementTrigger: false,
    tagsOn: (run) => [{ resource: "Droplet", tags: (only(run, "digitalocean:index/droplet:Droplet").inputs.tags as string[]).slice(1) }],
    expectedTags: ["team:realtime", "coturn:stack:digitalocean-example", "coturn:ephemeral:false", "ManagedBy:pulumi"],
    testStackTags: (expiry) => ["coturn:ephemeral:4h", `coturn:expires-at:${expiry}`],
    testInstanceType: "s-1vcpu-1gb",
    impossible: {
      changes: { "coturn:availabilityZone": "fra1a", "coturn:instanceType": "t4g.small" },
      message: /coturn:availabilityZone = "fra1a": means nothing on DigitalOcean[\s\S]*coturn:instanceType = "t4g\.small": is not a DigitalOcean Droplet size slug/,
    },
    missingProvider: {
      changes: { "digitalocean:token": undefined },
      message: /digitalocean: no API token is set\. Set it: pulumi config set --secret digitalocean:token <token>/,
    },
  },
];

/** GCP firewall rules of one direction, normalised. */
function gcpRules(run: ProgramRun, direction: string, rangesKey: string): string[] {
  return ofType(run, "gcp:compute/firewall:Firewall")
    .filter((r) => r.inputs.direction === direction && Array.isArray(r.inputs.allows))
    .flatMap((r) =>
      (r.inputs.allows as Array<{ protocol: string; ports?: string[] }>).flatMap((allow) =>
        (r.inputs[rangesKey] as string[]).map((cidr) => `${allow.protocol} ${portsFromText(allow.ports?.[0])} ${cidr}`),
      ),
    );
}

/** DigitalOcean firewall rules of one direction, normalised. */
function doRules(run: ProgramRun, rulesKey: string, addressesKey: string): string[] {
  const firewall = only(run, "digitalocean:index/firewall:Firewall");
  return (firewall.inputs[rulesKey] as Array<Record<string, unknown>>).flatMap((rule) =>
    (rule[addressesKey] as string[]).map((cidr) => `${String(rule.protocol)} ${portsFromText(String(rule.portRange))} ${cidr}`),
  );
}

/** The example's listeners, in the normalised form, from its stack file (AWS and DigitalOcean also open 443). */
export function expectedIngress(stack: string): string[] {
  const with443 = stack !== "gcp-example";
  return [
    "tcp 22 203.0.113.7/32",
    "tcp 3478 0.0.0.0/0",
    ...(with443 ? ["tcp 443 0.0.0.0/0"] : []),
    "tcp 5349 0.0.0.0/0",
    "udp 3478 0.0.0.0/0",
    "udp 49152-65535 0.0.0.0/0",
    "udp 5349 0.0.0.0/0",
  ].sort();
}
