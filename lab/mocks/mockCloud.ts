/**
 * What the mocked clouds answer, and the shape of a recorded program run (see programHarness.ts).
 */
import { secretFingerprint } from "../../src/credentials/turnRest";
import type { VmAccess } from "../../src/render/deployChannel";
import { PLACEHOLDER_ACCESS } from "../exampleStack";

/** What the harness prints. */
export interface ProgramRun {
  resources: Array<{ type: string; name: string; inputs: Record<string, unknown>; options: RecordedOptions }>;
  invokes: Array<{ token: string; inputs: Record<string, unknown> }>;
  outputs: Record<string, unknown>;
  /** Names of the outputs the program marked secret (their values are in `outputs`, unwrapped). */
  secretOutputs?: string[];
  /** Stacks the program read through StackReferences, in order. */
  stackReferences?: string[];
  error?: string;
}

/** The resource options the tests check. */
export interface RecordedOptions {
  protect: boolean;
  deleteBeforeReplace: boolean;
  /** URNs this resource waits for (explicit dependsOn plus input dependencies). */
  dependsOn: string[];
  /** The `replacementTrigger` value, when set. */
  replacementTrigger?: unknown;
  /** Outputs the resource marks secret besides those its SDK marks. */
  additionalSecretOutputs: string[];
  /** The explicit provider reference (`urn::id`), when one was given. */
  provider?: string;
}

/** Mocked cloud answers. */
export const MOCK = {
  publicIp: "198.51.100.20",
  allocationId: "eipalloc-0mock",
  amiId: "ami-0mockdebian",
  amiName: "debian-12-arm64-20261101-1234",
  awsZones: ["eu-central-1b", "eu-central-1a", "eu-central-1c"],
  gcpZones: ["europe-west3-c", "europe-west3-b", "europe-west3-a"],
  gcpImageName: "ubuntu-2404-noble-amd64-v20261101",
  digitalOceanImageName: "12 x64",
  /** A Droplet's own public IP (the Reserved IP is `publicIp`). */
  dropletIp: "203.0.113.40",
} as const;

/**
 * The keys the mocked tls provider "generates": the host key resource answers with `hostKey`, the deploy key with the
 * deploy key (only the public half of that is checked). The lab's placeholder keys, so lab VMs match mocked ones.
 */
export const MOCK_ACCESS: VmAccess = PLACEHOLDER_ACCESS;
/** The secrets deploy key's private half in the mock. */
export const MOCK_DEPLOY_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayBkZXBsb3kga2V5\n-----END OPENSSH PRIVATE KEY-----\n";
/** The TLS deploy key's private half in the mock. */
export const MOCK_TLS_DEPLOY_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayB0bHMgZGVwbG95IGtleQ==\n-----END OPENSSH PRIVATE KEY-----\n";
/** The operations deploy key's private half in the mock. */
export const MOCK_OPS_DEPLOY_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayBtb25pdG9yaW5nIGtleQ==\n-----END OPENSSH PRIVATE KEY-----\n";
/** The metrics read key's private half in the mock. */
export const MOCK_METRICS_READ_PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayBtZXRyaWNzIHJlYWQga2V5\n-----END OPENSSH PRIVATE KEY-----\n";

/** The marker Pulumi wraps secret inputs in when they reach a mock. */
export const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** A mock input without its secret wrapper. */
export function unwrapSecret(value: unknown): unknown {
  return value !== null && typeof value === "object" && SECRET_SIG in value ? (value as unknown as { value: unknown }).value : value;
}

/** What coturn-secrets prints on the VM for a secret set (the same fingerprints, computed here). */
export function mockAppliedSecretSet(stdin: string, realm = "turn.example.com"): string {
  const accepted = stdin.split("\n").filter(Boolean).map(secretFingerprint);
  return `${JSON.stringify({ realm, accepted, added: accepted.length, removed: 0 })}\n`;
}

/** What coturn-tls deliver prints on the VM for a delivery document: a certificate for the document's names. */
export function mockInstalledCertificate(stdin: string): string {
  const document = JSON.parse(stdin) as { mode: string; names?: string[] };
  const names = document.names ?? ["turn.example.com"];
  const issuer = document.mode === "acme" ? "CN=(STAGING) Mock Let's Encrypt" : `CN=${names[0]}`;
  return `${JSON.stringify({ mode: document.mode, names, notAfter: "2027-02-19T10:00:00Z", daysLeft: 90, issuer, sha256: "ab".repeat(32) })}\n`;
}

/** Provider function answers by token. */
export const MOCK_CALLS: Record<string, Record<string, unknown>> = {
  "aws:ec2/getAmi:getAmi": { id: MOCK.amiId, name: MOCK.amiName },
  "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": {
    id: "offerings",
    locations: [...MOCK.awsZones],
    locationTypes: [],
    instanceTypes: [],
  },
  "gcp:compute/getZones:getZones": { id: "zones", names: [...MOCK.gcpZones] },
  "gcp:compute/getImage:getImage": { id: "image", name: MOCK.gcpImageName, selfLink: `projects/x/global/images/${MOCK.gcpImageName}` },
  "digitalocean:index/getImage:getImage": { id: 12345, name: MOCK.digitalOceanImageName, slug: "debian-12-x64" },
};

/** Outputs a cloud computes for a new resource, beyond its inputs. */
export function mockOutputs(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "aws:ec2/eip:Eip":
      return { publicIp: MOCK.publicIp, allocationId: MOCK.allocationId };
    case "aws:ec2/networkInterface:NetworkInterface":
      return { privateIp: (inputs.privateIps as string[] | undefined)?.[0] };
    case "gcp:compute/address:Address":
      return { address: inputs.addressType === "INTERNAL" ? inputs.address : MOCK.publicIp };
    case "gcp:serviceaccount/account:Account":
      return { email: `${String(inputs.accountId)}@mock-project.iam.gserviceaccount.com` };
    case "gcp:compute/instance:Instance":
      return { instanceId: "1234567890123456789" };
    case "digitalocean:index/reservedIp:ReservedIp":
      return { ipAddress: MOCK.publicIp };
    case "digitalocean:index/tag:Tag":
      return { name: `${name}-a1b2c3` };
    case "digitalocean:index/droplet:Droplet":
      return { ipv4Address: MOCK.dropletIp };
    case "tls:index/privateKey:PrivateKey":
      return name.endsWith("-ssh-host-key")
        ? { privateKeyOpenssh: MOCK_ACCESS.hostKey.privateKey, publicKeyOpenssh: MOCK_ACCESS.hostKey.publicKey }
        : name.endsWith("-tls-deploy-key")
          ? { privateKeyOpenssh: MOCK_TLS_DEPLOY_PRIVATE_KEY, publicKeyOpenssh: MOCK_ACCESS.tlsDeployPublicKey }
          : name.endsWith("-metrics-read-key")
            ? { privateKeyOpenssh: MOCK_METRICS_READ_PRIVATE_KEY, publicKeyOpenssh: MOCK_ACCESS.metricsReadPublicKey }
            : name.endsWith("-ops-deploy-key")
              ? { privateKeyOpenssh: MOCK_OPS_DEPLOY_PRIVATE_KEY, publicKeyOpenssh: MOCK_ACCESS.opsDeployPublicKey }
              : { privateKeyOpenssh: MOCK_DEPLOY_PRIVATE_KEY, publicKeyOpenssh: MOCK_ACCESS.deployPublicKey };
    case "command:remote:Command": {
      const stdin = String(unwrapSecret(inputs.stdin) ?? "");
      if (name.endsWith("-ops-files")) return { stdout: mockInstalledOpsFiles(stdin), stderr: "" };
      return { stdout: name.endsWith("-tls-certificate") ? mockInstalledCertificate(stdin) : mockAppliedSecretSet(stdin), stderr: "" };
    }
    default:
      return {};
  }
}

/** The id a cloud gives a new resource: Droplet ids are numbers, which the Reserved IP assignment takes. */
export function mockId(type: string, name: string): string {
  return type === "digitalocean:index/droplet:Droplet" ? "424242" : `${name}-id`;
}

/** What coturn-ops install prints for a file set: how many files, all new. */
function mockInstalledOpsFiles(stdin: string): string {
  const files = (JSON.parse(stdin) as { files: unknown[] }).files.length;
  return `${JSON.stringify({ files, changed: files, sha256: "0".repeat(64) })}\n`;
}
