/**
 * Table-driven tests of `validateStackConfig`: a valid base stack, then many small breakages of it, each with the
 * exact list of problems a user would read. Secrets must never appear in any message.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { readStackFile } from "../src/config/stackFile";
import { validateGlobalStackConfig, validateLocalStackConfig, validateStackConfig } from "../src/config/validate";
import { StackConfigError, formatProblem } from "../src/config/configProblems";
import { LOCAL_SECRET_LENGTH, loadLocalStack, newLocalAuthSecret, withLocalAuthSecret } from "../src/local/localStack";
import { ephemeralValues } from "./support/program";

const STACK = "test";

/** 44 base64 characters, as `openssl rand -base64 32` prints. */
const AUTH_SECRET = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=";
/** A second valid secret, for rotations. */
const PREVIOUS_SECRET = "cHJldmlvdXMtc2VjcmV0LXN0aWxsLWFjY2VwdGVkLTEyMw==";
/** Too short (14 characters). */
const SHORT_SECRET = "s3cr3tTooShort";
/** Long enough, but with a space and "!" (43 characters). */
const BAD_CHARS_SECRET = "correct horse battery staple!2024abcdefghij";
/** Matches the PEM shape check only; never parsed as a key in the cases that use it. */
const FAKE_PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIBfakeKeyMaterial\n-----END PRIVATE KEY-----";
/** Every secret text used below: none may ever appear in a message. */
const ALL_SECRETS = [AUTH_SECRET, PREVIOUS_SECRET, SHORT_SECRET, BAD_CHARS_SECRET, FAKE_PEM_KEY];

const SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop";
const FAKE_PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----";

const BASE_VALUES: Readonly<Record<string, string>> = {
  "coturn:cloud": "aws",
  "coturn:region": "eu-central-1",
  "coturn:domain": "turn.example.com",
  "coturn:authSecret": AUTH_SECRET,
  // Every cloud stack needs the address `pulumi up` delivers the secrets from.
  "coturn:ssh": JSON.stringify({ allowedCidrs: ["203.0.113.7/32"] }),
};
const BASE_SECRET_KEYS: readonly string[] = ["coturn:authSecret"];

/** Base values with `changes` applied: a string sets or overrides a key, undefined deletes it. */
function withChanges(changes: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const values: Record<string, string> = { ...BASE_VALUES };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete values[key];
    else values[key] = value;
  }
  return values;
}

/** Validates and returns the thrown `StackConfigError`, or undefined when the config is valid. */
function errorOf(values: Record<string, string>, secretKeys: readonly string[] = BASE_SECRET_KEYS): StackConfigError | undefined {
  try {
    validateStackConfig({ stack: STACK, values, secretKeys: new Set(secretKeys) });
    return undefined;
  } catch (error) {
    if (error instanceof StackConfigError) return error;
    throw error;
  }
}

/** The formatted problems of a config, or [] when it is valid. */
function problemsOf(values: Record<string, string>, secretKeys: readonly string[] = BASE_SECRET_KEYS): string[] {
  return errorOf(values, secretKeys)?.problems.map(formatProblem) ?? [];
}

const json = (value: unknown): string => JSON.stringify(value);

/** Recurring message tails, spelled out once. */
const FQDN_MESSAGE =
  'is not a fully qualified domain name. Use the lowercase DNS name clients will connect to, e.g. "turn.example.com"';
const OUTSIDE_PORTS_MESSAGE =
  'is outside 1024-65535 (ports below 1024 are privileged, above 65535 do not exist). Use e.g. "49152-65535"';
const NOT_A_RANGE_MESSAGE = 'is not a port range. Write it as "min-max", e.g. "49152-65535"';
const SELF_SIGNED_IGNORES = (key: string, explicit = false): string =>
  `coturn:${key}: is set, but coturn:tlsMode is "self-signed"${explicit ? "" : " (the default)"}, which ignores it. ` +
  `Set coturn:tlsMode to "provided", or remove coturn:${key}`;
const SSH_TOO_WIDE_TAIL =
  'Use your own address (e.g. "203.0.113.7/32"), or set coturn:ssh.allowAnySource to true if you really mean it';
const SSH_REQUIRED =
  "coturn:ssh.allowedCidrs = []: is empty, but `pulumi up` delivers the TURN secrets to the VM over SSH (port 22, with a key this stack " +
  "generates that can only replace the secret set). List the address of every machine that runs `pulumi up` for this stack: " +
  "pulumi config set --path 'coturn:ssh.allowedCidrs[0]' 203.0.113.7/32 (CI runners without fixed addresses need their provider's " +
  "range, or 0.0.0.0/0 with coturn:ssh.allowAnySource true)";
const QUOTA_FIELDS = "allocationsPerUser, totalAllocations, bytesPerSecondPerAllocation, totalBytesPerSecond";

interface BadCase {
  readonly name: string;
  /** Keys to set (string) or delete (undefined) relative to the base. */
  readonly changes: Readonly<Record<string, string | undefined>>;
  /** Full keys stored with --secret; default: only coturn:authSecret. */
  readonly secretKeys?: readonly string[];
  /** Exactly the formatted problems, in order. */
  readonly expected: readonly string[];
}

const BAD_CASES: readonly BadCase[] = [
  // Unknown keys.
  {
    name: "unknown key with a typo gets a did-you-mean",
    changes: { "coturn:domian": "turn.example.com" },
    expected: [
      "coturn:domian: is not a known key (did you mean coturn:domain?). Remove it with: pulumi config rm coturn:domian",
    ],
  },
  {
    name: "unknown key far from every known key gets no suggestion",
    changes: { "coturn:foobarbaz": "1" },
    expected: ["coturn:foobarbaz: is not a known key. Remove it with: pulumi config rm coturn:foobarbaz"],
  },

  // Wrong types.
  {
    name: "boolean given as yes",
    changes: { "coturn:publishSharedName": "yes" },
    expected: [
      'coturn:publishSharedName = "yes": is not a boolean. Use true or false',
      "coturn:publishSharedName: is set, but without coturn:cloudflareZoneId no record is created. Set the zone, or remove it",
    ],
  },
  {
    name: "listeners given as plain text, not JSON",
    changes: { "coturn:listeners": "udp,tcp" },
    expected: [
      `coturn:listeners = "udp,tcp": is not a list. Write a YAML list in the stack file, or set items with: pulumi config set --path 'coturn:listeners[0]' <value>`,
    ],
  },
  {
    name: "listeners given as an object",
    changes: { "coturn:listeners": json({ udp: true }) },
    expected: ['coturn:listeners = {"udp":true}: must be a list, not a mapping'],
  },
  {
    name: "previous secrets given as an object (shown as secret)",
    changes: { "coturn:previousAuthSecrets": json({ old: PREVIOUS_SECRET }) },
    secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    expected: ["coturn:previousAuthSecrets = (secret): must be a list, not a mapping"],
  },
  {
    name: "ssh allowedCidrs given as an object",
    changes: { "coturn:ssh": json({ allowedCidrs: { home: "203.0.113.7/32" } }) },
    expected: ['coturn:ssh.allowedCidrs = {"home":"203.0.113.7/32"}: must be a list, not a mapping'],
  },
  {
    name: "quota given as text",
    changes: { "coturn:quotas": json({ allocationsPerUser: "x" }) },
    expected: ['coturn:quotas.allocationsPerUser = "x": must be a number, not a string'],
  },
  {
    name: "quota given as a fraction",
    changes: { "coturn:quotas": json({ allocationsPerUser: 1.5 }) },
    expected: ["coturn:quotas.allocationsPerUser = 1.5: must be a whole number"],
  },
  {
    // The text is converted to the number 1.5 before the whole-number check, but the message describes the original
    // text, so it adds "not a string" although whole-number text such as "3" is accepted.
    name: "quota given as fractional text",
    changes: { "coturn:quotas": json({ allocationsPerUser: "1.5" }) },
    expected: ['coturn:quotas.allocationsPerUser = "1.5": must be a whole number'],
  },
  {
    name: "quota given as negative text",
    changes: { "coturn:quotas": json({ totalAllocations: "-1" }) },
    expected: ['coturn:quotas.totalAllocations = "-1": must be at least 0'],
  },
  {
    name: "quotas not JSON",
    changes: { "coturn:quotas": "nope" },
    expected: [
      `coturn:quotas = "nope": is not an object. Write a YAML mapping in the stack file, or set fields with: pulumi config set --path 'coturn:quotas.<field>' <value>`,
    ],
  },

  // Cloud, region, zone.
  {
    name: "unknown cloud",
    changes: { "coturn:cloud": "azure" },
    expected: ['coturn:cloud = "azure": is not one of "aws", "gcp", "digitalocean", "local", "global"'],
  },
  {
    name: "another cloud keeping an AWS region",
    changes: { "coturn:cloud": "gcp" },
    expected: [
      'coturn:region = "eu-central-1": is a region of AWS, not a Google Cloud region name (coturn:cloud is gcp). Use one such as "europe-west3" or "us-central1", or set coturn:cloud to aws if the stack belongs there',
    ],
  },
  {
    name: "a DigitalOcean stack with an AWS region, zone, size and a tag DigitalOcean cannot hold",
    changes: {
      "coturn:cloud": "digitalocean",
      "coturn:availabilityZone": "eu-central-1a",
      "coturn:instanceType": "t4g.small",
      "coturn:tags": json({ team: "media ops" }),
    },
    expected: [
      'coturn:region = "eu-central-1": is a region of AWS, not a DigitalOcean region slug (coturn:cloud is digitalocean). Use one such as "fra1" or "nyc3" or "sgp1", or set coturn:cloud to aws if the stack belongs there',
      'coturn:availabilityZone = "eu-central-1a": means nothing on DigitalOcean, which places a Droplet by region only. Remove it',
      'coturn:instanceType = "t4g.small": is not a DigitalOcean Droplet size slug (coturn:cloud is digitalocean). Use one such as "s-1vcpu-2gb" or "s-2vcpu-4gb" or "c-2", or unset it for s-1vcpu-2gb',
      'coturn:tags.team = "media ops": becomes the Droplet tag "team:media ops", but DigitalOcean tags allow only letters, digits, :, _ and - (at most 255 characters)',
    ],
  },
  {
    name: "a Google Cloud zone outside the region, an AWS size, Debian, and an uppercase label",
    changes: {
      "coturn:cloud": "gcp",
      "coturn:region": "europe-west3",
      "coturn:availabilityZone": "us-central1-a",
      "coturn:instanceType": "t4g.small",
      "coturn:image": "debian-12",
      "coturn:tags": json({ Team: "media" }),
    },
    expected: [
      'coturn:availabilityZone = "us-central1-a": is not a zone of region europe-west3. Use e.g. "europe-west3-a", or unset it',
      'coturn:instanceType = "t4g.small": is not a Compute Engine machine type (coturn:cloud is gcp). Use one such as "e2-small" or "n2-standard-2" or "t2a-standard-1", or unset it for e2-small',
      "coturn:image = \"debian-12\": Debian's official Compute Engine images ship without cloud-init (Google's guest agent runs instead), so the user-data would never run. Use \"ubuntu-24.04\" (the default for gcp), or unset it",
      'coturn:tags.Team = "media": is not a Google Cloud label name: lowercase letters, digits, _ and - only, starting with a letter, at most 63 characters',
    ],
  },
  {
    name: "an AWS zone written the Google Cloud way",
    changes: { "coturn:availabilityZone": "eu-central-1-a" },
    expected: ['coturn:availabilityZone = "eu-central-1-a": is not a zone of region eu-central-1. Use e.g. "eu-central-1a", or unset it'],
  },
  {
    // Its cloud settings are reported too: they would mean nothing even where local stacks are taken.
    name: "local stack given to a cloud command",
    changes: { "coturn:cloud": "local" },
    expected: [
      'coturn:region = "eu-central-1": is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). Remove it from stacks/Pulumi.test.yaml',
      'coturn:ssh = {"allowedCidrs":["203.0.113.7/32"]}: is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). Remove it from stacks/Pulumi.test.yaml',
      'coturn:cloud = "local": runs coturn on this machine: start it with `npm run local`. Only cloud stacks are deployed or rendered for a VM',
    ],
  },
  {
    name: "region that is not an AWS region name",
    changes: { "coturn:region": "Frankfurt" },
    expected: ['coturn:region = "Frankfurt": is not an AWS region name (coturn:cloud is aws). Use one such as "eu-central-1" or "us-east-1"'],
  },
  {
    name: "availability zone of another region",
    changes: { "coturn:availabilityZone": "us-east-1a" },
    expected: [
      'coturn:availabilityZone = "us-east-1a": is not a zone of region eu-central-1. Use e.g. "eu-central-1a", or unset it',
    ],
  },

  // Relay ports.
  {
    name: "relay range empty text",
    changes: { "coturn:relayPorts": "" },
    expected: [`coturn:relayPorts = "": ${NOT_A_RANGE_MESSAGE}`],
  },
  {
    name: "relay range of one port",
    changes: { "coturn:relayPorts": "50000-50000" },
    expected: [
      'coturn:relayPorts = "50000-50000": is empty (one port relays one allocation). Use a range such as "49152-65535"',
    ],
  },
  {
    name: "relay range reversed",
    changes: { "coturn:relayPorts": "60000-50000" },
    expected: ['coturn:relayPorts = "60000-50000": is reversed. Write the lower port first: "50000-60000"'],
  },
  {
    // The fix keeps the end that was right and moves only the wrong bound, not a far wider default range.
    name: "relay range below 1024",
    changes: { "coturn:relayPorts": "80-2000" },
    expected: ['coturn:relayPorts = "80-2000": starts below 1024 (ports below 1024 are privileged). Write "1024-2000"'],
  },
  {
    name: "relay range above 65535",
    changes: { "coturn:relayPorts": "50000-70000" },
    expected: ['coturn:relayPorts = "50000-70000": ends above 65535, the highest port. Write "50000-65535"'],
  },
  {
    name: "relay range that is not a range",
    changes: { "coturn:relayPorts": "lots" },
    expected: [`coturn:relayPorts = "lots": ${NOT_A_RANGE_MESSAGE}`],
  },
  {
    name: "relay range overlapping the plain listener port 3478",
    changes: { "coturn:relayPorts": "3000-4000" },
    expected: ['coturn:relayPorts = "3000-4000": overlaps listener port 3478. Use a range above it, e.g. "49152-65535"'],
  },
  {
    name: "relay range overlapping the TLS listener port 5349",
    changes: { "coturn:relayPorts": "5000-6000" },
    expected: ['coturn:relayPorts = "5000-6000": overlaps listener port 5349. Use a range above it, e.g. "49152-65535"'],
  },

  // Domain, realm, instance type.
  {
    name: "domain with a single label",
    changes: { "coturn:domain": "turn" },
    expected: [`coturn:domain = "turn": ${FQDN_MESSAGE}`],
  },
  {
    name: "domain with a trailing dot",
    changes: { "coturn:domain": "turn.example.com." },
    expected: [`coturn:domain = "turn.example.com.": ${FQDN_MESSAGE}`],
  },
  {
    name: "domain with an underscore",
    changes: { "coturn:domain": "turn_1.example.com" },
    expected: [`coturn:domain = "turn_1.example.com": ${FQDN_MESSAGE}`],
  },
  {
    name: "domain in uppercase",
    changes: { "coturn:domain": "TURN.example.com" },
    expected: [`coturn:domain = "TURN.example.com": ${FQDN_MESSAGE}`],
  },
  {
    name: "domain that is an IP address",
    changes: { "coturn:domain": "192.0.2.1" },
    expected: [`coturn:domain = "192.0.2.1": ${FQDN_MESSAGE}`],
  },
  {
    name: "realm with a space",
    changes: { "coturn:realm": "my realm" },
    expected: ['coturn:realm = "my realm": may only contain letters, digits, dots and hyphens, e.g. example.com'],
  },
  {
    name: "instance type without a family",
    changes: { "coturn:instanceType": "large" },
    expected: ['coturn:instanceType = "large": is not an EC2 instance type (coturn:cloud is aws). Use one such as "t4g.small" or "c7gn.medium", or unset it for t4g.small'],
  },

  // Listeners.
  {
    name: "no listeners",
    changes: { "coturn:listeners": "[]" },
    expected: ['coturn:listeners = []: is empty; a server needs at least one listener, e.g. ["udp", "tcp", "tls"]'],
  },
  {
    name: "unknown listener",
    changes: { "coturn:listeners": json(["udp", "quic"]) },
    expected: ['coturn:listeners[1] = "quic": is not one of "udp", "tcp", "tls", "dtls", "tls-443"'],
  },
  {
    name: "duplicate listener",
    changes: { "coturn:listeners": json(["udp", "tcp", "udp"]) },
    expected: ['coturn:listeners = ["udp","tcp","udp"]: lists "udp" more than once. List each listener once'],
  },
  {
    name: "listener three times is reported once",
    changes: { "coturn:listeners": json(["udp", "udp", "tcp", "udp"]) },
    expected: ['coturn:listeners = ["udp","udp","tcp","udp"]: lists "udp" more than once. List each listener once'],
  },
  {
    name: "two repeated listeners are reported once each",
    changes: { "coturn:listeners": json(["udp", "tcp", "udp", "tcp", "udp"]) },
    expected: [
      'coturn:listeners = ["udp","tcp","udp","tcp","udp"]: lists "udp" more than once. List each listener once',
      'coturn:listeners = ["udp","tcp","udp","tcp","udp"]: lists "tcp" more than once. List each listener once',
    ],
  },
  {
    name: "tls-443 without tls",
    changes: { "coturn:listeners": json(["udp", "tls-443"]) },
    expected: [
      'coturn:listeners = ["udp","tls-443"]: has "tls-443" without "tls": port 443 is forwarded to the TLS listener. Add "tls"',
    ],
  },

  // Auth secrets.
  {
    name: "auth secret missing",
    changes: { "coturn:authSecret": undefined },
    secretKeys: [],
    expected: [
      'coturn:authSecret: is required but not set. Set it: pulumi config set --secret coturn:authSecret "$(openssl rand -base64 48)"',
    ],
  },
  {
    name: "auth secret shorter than 32 characters",
    changes: { "coturn:authSecret": SHORT_SECRET },
    expected: [
      "coturn:authSecret = (secret, 14 characters): is 14 characters; it needs at least 32. Generate one with: openssl rand -base64 48",
    ],
  },
  {
    name: "auth secret with characters coturn cannot read",
    changes: { "coturn:authSecret": BAD_CHARS_SECRET },
    expected: [
      "coturn:authSecret = (secret, 43 characters): may only contain letters, digits and + / = _ . ~ - (coturn reads the value up to the first space). Generate one with: openssl rand -base64 48",
    ],
  },
  {
    name: "auth secret stored without --secret",
    changes: {},
    secretKeys: [],
    expected: [
      "coturn:authSecret = (not shown): is stored in plain text. Set it again encrypted: pulumi config set --secret coturn:authSecret <value>",
    ],
  },
  {
    name: "previous secrets repeat the active secret",
    changes: { "coturn:previousAuthSecrets": json([AUTH_SECRET]) },
    secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    expected: [
      "coturn:previousAuthSecrets = (secret): repeats a secret (or holds the active coturn:authSecret). List each secret once (an interrupted `npm run rotate` leaves this state: run the same command again to finish it)",
    ],
  },
  {
    name: "previous secrets stored without --secret",
    changes: { "coturn:previousAuthSecrets": json([PREVIOUS_SECRET]) },
    expected: [
      "coturn:previousAuthSecrets = (not shown): is stored in plain text. Set it again encrypted: pulumi config set --secret coturn:previousAuthSecrets <value>",
    ],
  },
  {
    name: "previous secret too short",
    changes: { "coturn:previousAuthSecrets": json([PREVIOUS_SECRET, SHORT_SECRET]) },
    secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    expected: [
      "coturn:previousAuthSecrets[1] = (secret, 14 characters): is 14 characters; it needs at least 32. Generate one with: openssl rand -base64 48",
    ],
  },

  // TLS.
  {
    name: "tlsMode provided without certificate and key",
    changes: { "coturn:tlsMode": "provided" },
    expected: [
      'coturn:tlsCertificate: is required with tlsMode "provided". Set it: pulumi config set coturn:tlsCertificate -- "$(cat fullchain.pem)"',
      'coturn:tlsPrivateKey: is required with tlsMode "provided". Set it: pulumi config set --secret coturn:tlsPrivateKey -- "$(cat privkey.pem)"',
    ],
  },
  {
    name: "self-signed mode with a certificate set",
    changes: { "coturn:tlsCertificate": FAKE_PEM_CERT },
    expected: [SELF_SIGNED_IGNORES("tlsCertificate")],
  },
  {
    name: "self-signed mode with a private key set",
    changes: { "coturn:tlsPrivateKey": FAKE_PEM_KEY },
    secretKeys: ["coturn:authSecret", "coturn:tlsPrivateKey"],
    expected: [SELF_SIGNED_IGNORES("tlsPrivateKey")],
  },
  {
    name: "self-signed mode (set explicitly) with certificate and key set: one problem per key",
    changes: { "coturn:tlsMode": "self-signed", "coturn:tlsCertificate": FAKE_PEM_CERT, "coturn:tlsPrivateKey": FAKE_PEM_KEY },
    secretKeys: ["coturn:authSecret", "coturn:tlsPrivateKey"],
    expected: [SELF_SIGNED_IGNORES("tlsCertificate", true), SELF_SIGNED_IGNORES("tlsPrivateKey", true)],
  },
  {
    // The key's own check and the cross-key rule both report it; the PEM hint is moot when the value is ignored anyway.
    name: "self-signed mode with a certificate that is not PEM",
    changes: { "coturn:tlsCertificate": "nope" },
    expected: [
      'coturn:tlsCertificate = "nope": is not a PEM certificate chain. Set it from your fullchain.pem file',
      SELF_SIGNED_IGNORES("tlsCertificate"),
    ],
  },
  {
    // Set-but-invalid values are reported as invalid only, not also as missing.
    name: "certificate and key that are not PEM",
    changes: { "coturn:tlsMode": "provided", "coturn:tlsCertificate": "nope", "coturn:tlsPrivateKey": "nope" },
    secretKeys: ["coturn:authSecret", "coturn:tlsPrivateKey"],
    expected: [
      'coturn:tlsCertificate = "nope": is not a PEM certificate chain. Set it from your fullchain.pem file',
      "coturn:tlsPrivateKey = (secret, 4 characters): is not a PEM private key. Set it from your privkey.pem file, with --secret",
    ],
  },
  {
    name: "certificate that is not PEM and key that is missing",
    changes: { "coturn:tlsMode": "provided", "coturn:tlsCertificate": "nope" },
    expected: [
      'coturn:tlsCertificate = "nope": is not a PEM certificate chain. Set it from your fullchain.pem file',
      'coturn:tlsPrivateKey: is required with tlsMode "provided". Set it: pulumi config set --secret coturn:tlsPrivateKey -- "$(cat privkey.pem)"',
    ],
  },

  // SSH.
  {
    name: "ssh open to 0.0.0.0/0 without allowAnySource",
    changes: { "coturn:ssh": json({ allowedCidrs: ["0.0.0.0/0"], publicKeys: [SSH_KEY] }) },
    expected: [
      `coturn:ssh.allowedCidrs[0] = "0.0.0.0/0": opens SSH to the whole internet. ${SSH_TOO_WIDE_TAIL}`,
    ],
  },
  {
    name: "ssh open to the internet as two /1 halves without allowAnySource",
    changes: { "coturn:ssh": json({ allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"], publicKeys: [SSH_KEY] }) },
    expected: [
      `coturn:ssh.allowedCidrs[0] = "0.0.0.0/1": opens SSH to 2,147,483,648 addresses. ${SSH_TOO_WIDE_TAIL}`,
      `coturn:ssh.allowedCidrs[1] = "128.0.0.0/1": opens SSH to 2,147,483,648 addresses. ${SSH_TOO_WIDE_TAIL}`,
    ],
  },
  {
    name: "ssh open to a /8 without allowAnySource",
    changes: { "coturn:ssh": json({ allowedCidrs: ["10.0.0.0/8"], publicKeys: [SSH_KEY] }) },
    expected: [`coturn:ssh.allowedCidrs[0] = "10.0.0.0/8": opens SSH to 16,777,216 addresses. ${SSH_TOO_WIDE_TAIL}`],
  },
  {
    name: "ssh open to a /15 (just wider than /16) without allowAnySource, next to a narrow entry",
    changes: { "coturn:ssh": json({ allowedCidrs: ["203.0.113.7/32", "10.0.0.0/15"], publicKeys: [SSH_KEY] }) },
    expected: [`coturn:ssh.allowedCidrs[1] = "10.0.0.0/15": opens SSH to 131,072 addresses. ${SSH_TOO_WIDE_TAIL}`],
  },
  {
    name: "ssh open to the internet without allowAnySource and without public keys",
    changes: { "coturn:ssh": json({ allowedCidrs: ["0.0.0.0/0"] }) },
    expected: [
      `coturn:ssh.allowedCidrs[0] = "0.0.0.0/0": opens SSH to the whole internet. ${SSH_TOO_WIDE_TAIL}`,
    ],
  },
  {
    name: "ssh CIDR that does not parse",
    changes: { "coturn:ssh": json({ allowedCidrs: ["203.0.113.300/32"], publicKeys: [SSH_KEY] }) },
    expected: [
      'coturn:ssh.allowedCidrs[0] = "203.0.113.300/32": is not an IPv4 CIDR. Write it as address/prefix, e.g. "203.0.113.7/32" for one address',
    ],
  },
  {
    name: "ssh CIDR with host bits set",
    changes: { "coturn:ssh": json({ allowedCidrs: ["203.0.113.7/24"], publicKeys: [SSH_KEY] }) },
    expected: [
      'coturn:ssh.allowedCidrs[0] = "203.0.113.7/24": has host bits set. Write the network "203.0.113.0/24", or "203.0.113.7/32" for that one address',
    ],
  },
  {
    name: "no ssh at all: the secrets could not be delivered",
    changes: { "coturn:ssh": undefined },
    expected: [SSH_REQUIRED],
  },
  {
    name: "ssh with admin keys but no source address",
    changes: { "coturn:ssh": json({ publicKeys: [SSH_KEY] }) },
    expected: [SSH_REQUIRED],
  },

  // Credential lifetime and rotation state.
  {
    name: "credential lifetime below a minute",
    changes: { "coturn:maxCredentialTtl": "30" },
    expected: ['coturn:maxCredentialTtl = "30": must be at least 60'],
  },
  {
    name: "credential lifetime above a day",
    changes: { "coturn:maxCredentialTtl": "604800" },
    expected: ['coturn:maxCredentialTtl = "604800": must be at most 86400'],
  },
  {
    name: "rotation recorded without a previous secret",
    changes: { "coturn:rotation": json({ phase: "added", addedAt: "2026-11-21T10:00:00Z" }) },
    expected: [
      'coturn:rotation = {"phase":"added","addedAt":"2026-11-21T10:00:00Z"}: records a rotation in progress, but coturn:previousAuthSecrets is empty, so there is no old secret to phase out. Remove it: pulumi config rm coturn:rotation',
    ],
  },
  {
    name: "rotation switched without its time, and a time that is not ISO 8601",
    changes: {
      "coturn:previousAuthSecrets": json([PREVIOUS_SECRET]),
      "coturn:rotation": json({ phase: "switched", addedAt: "yesterday" }),
    },
    secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    expected: ['coturn:rotation.addedAt = "yesterday": is not an ISO 8601 time such as 2026-11-21T10:00:00Z'],
  },
  {
    name: "rotation in an unknown phase",
    changes: {
      "coturn:previousAuthSecrets": json([PREVIOUS_SECRET]),
      "coturn:rotation": json({ phase: "done", addedAt: "2026-11-21T10:00:00Z" }),
    },
    secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    expected: ['coturn:rotation.phase = "done": is not one of "added", "switched"'],
  },
  {
    name: "ssh public key that is not OpenSSH format",
    changes: { "coturn:ssh": json({ allowedCidrs: ["203.0.113.7/32"], publicKeys: ["AAAA me"] }) },
    expected: ['coturn:ssh.publicKeys[0] = "AAAA me": is not an OpenSSH public key ("ssh-ed25519 AAAA… comment")'],
  },
  {
    name: "ssh allowAnySource that is not a boolean",
    changes: { "coturn:ssh": json({ allowedCidrs: ["0.0.0.0/0"], publicKeys: [SSH_KEY], allowAnySource: "yes" }) },
    expected: ['coturn:ssh.allowAnySource = "yes": must be true or false, not a string'],
  },

  // Tags.
  {
    // A bad tag name is reported on coturn:tags, showing the name (not the tag's value) and the schema's message.
    name: "tag key starting with aws:",
    changes: { "coturn:tags": json({ "aws:owner": "me" }) },
    expected: ['coturn:tags.aws:owner = "me": starts with "aws:", which AWS reserves. Choose another prefix'],
  },
  {
    name: "tag key starting with AWS: in uppercase",
    changes: { "coturn:tags": json({ team: "media", "AWS:Owner": "me" }) },
    expected: ['coturn:tags.AWS:Owner = "me": starts with "aws:", which AWS reserves. Choose another prefix'],
  },
  {
    name: "empty tag key",
    changes: { "coturn:tags": json({ "": "me" }) },
    expected: ['coturn:tags = "": has an invalid name: is empty. Give the tag a name'],
  },

  // Quotas.
  {
    name: "quotas unknown field with a did-you-mean",
    changes: { "coturn:quotas": json({ allocationPerUser: 3 }) },
    expected: [
      `coturn:quotas: has unknown field "allocationPerUser" (did you mean "allocationsPerUser"?); known fields: ${QUOTA_FIELDS}`,
    ],
  },
  {
    name: "quotas allocationsPerUser 0",
    changes: { "coturn:quotas": json({ allocationsPerUser: 0 }) },
    expected: ["coturn:quotas.allocationsPerUser = 0: must be at least 1"],
  },

  // Several problems at once: all are reported, unknown keys first, then per key, then cross-key rules.
  {
    name: "several problems at once",
    changes: {
      "coturn:cloud": "gcp",
      "coturn:region": "x",
      "coturn:domian": "y",
      "coturn:ephemeral": "yes",
      "coturn:relayPorts": "1-2",
    },
    expected: [
      "coturn:domian: is not a known key (did you mean coturn:domain?). Remove it with: pulumi config rm coturn:domian",
      'coturn:ephemeral = "yes": is not a duration: use a whole number and a unit m, h, d or w, e.g. 90m, 4h, 2d',
      'coturn:region = "x": is not a Google Cloud region name (coturn:cloud is gcp). Use one such as "europe-west3" or "us-central1"',
      `coturn:relayPorts = "1-2": ${OUTSIDE_PORTS_MESSAGE}`,
    ],
  },
  // Metrics: scrapers and their password.
  {
    name: "scrapers listed without the password they log in with",
    changes: { "coturn:monitoring": json({ allowedCidrs: ["198.51.100.9/32"] }) },
    expected: [
      "coturn:metricsPassword: is not set, but coturn:monitoring.allowedCidrs lets scrapers in, and they must log in: " +
        'pulumi config set --secret coturn:metricsPassword "$(openssl rand -base64 32)", and give it to Prometheus (basic_auth password_file)',
    ],
  },
  {
    name: "a scraper source that is not a CIDR",
    changes: { "coturn:monitoring": json({ allowedCidrs: ["prometheus.example.com"] }), "coturn:metricsPassword": "p".repeat(32) },
    secretKeys: [...BASE_SECRET_KEYS, "coturn:metricsPassword"],
    expected: [
      'coturn:monitoring.allowedCidrs[0] = "prometheus.example.com": is not an IPv4 CIDR. Write it as address/prefix, e.g. "203.0.113.7/32" for one address',
    ],
  },
  {
    name: "metrics open to the whole internet",
    changes: { "coturn:monitoring": json({ allowedCidrs: ["0.0.0.0/0"] }), "coturn:metricsPassword": "p".repeat(32) },
    secretKeys: [...BASE_SECRET_KEYS, "coturn:metricsPassword"],
    expected: [
      'coturn:monitoring.allowedCidrs[0] = "0.0.0.0/0": would open the metrics endpoint to the whole internet. List your Prometheus ' +
        'servers\' addresses (e.g. "203.0.113.9/32"), or leave the list empty and read the metrics over SSH (npm run status)',
    ],
  },
  {
    name: "a short metrics password is refused without showing it",
    changes: { "coturn:monitoring": json({ allowedCidrs: ["198.51.100.9/32"] }), "coturn:metricsPassword": "hunter2" },
    secretKeys: [...BASE_SECRET_KEYS, "coturn:metricsPassword"],
    expected: [
      "coturn:metricsPassword: (secret, 7 characters) must be at least 24 characters, without spaces, colons, quotes or backslashes (base64 is fine): " +
        'pulumi config set --secret coturn:metricsPassword "$(openssl rand -base64 32)"',
    ],
  },
  {
    name: "a metrics password with nothing to protect",
    changes: { "coturn:metricsPassword": "p".repeat(32) },
    secretKeys: [...BASE_SECRET_KEYS, "coturn:metricsPassword"],
    expected: [
      "coturn:metricsPassword: is set, but no scraper may connect (coturn:monitoring.allowedCidrs is empty), so nothing uses it. " +
        "Add your Prometheus server's address to coturn:monitoring.allowedCidrs, or remove it: pulumi config rm coturn:metricsPassword",
    ],
  },
  {
    name: "a typo inside coturn:monitoring",
    changes: { "coturn:monitoring": json({ allowedCidr: ["198.51.100.9/32"] }) },
    expected: ['coturn:monitoring: has unknown field "allowedCidr" (did you mean "allowedCidrs"?); known fields: allowedCidrs'],
  },
];

// ----- Realistic mistakes on every cloud and the global stack: the key, the value as shown (or masked), the fix -----

/** A base stack per kind: the aws base above, the same on gcp and digitalocean, and a global stack. */
const MISTAKE_BASES: Readonly<Record<"aws" | "gcp" | "digitalocean" | "global", Readonly<Record<string, string>>>> = {
  aws: BASE_VALUES,
  gcp: { ...BASE_VALUES, "coturn:cloud": "gcp", "coturn:region": "europe-west3" },
  digitalocean: { ...BASE_VALUES, "coturn:cloud": "digitalocean", "coturn:region": "fra1" },
  global: {
    "coturn:cloud": "global",
    "coturn:domain": "turn.example.com",
    "coturn:regions": json([{ stack: "organization/coturn/aws-eu-central-1" }, { stack: "organization/coturn/gcp-us-east4" }]),
    "coturn:geoDns": json({ mode: "dns-records" }),
  },
};

/** A Cloudflare zone id (32 hex digits). */
const ZONE_ID_FOR_MISTAKES = "023e105f4ecef8ad9ca31a8372d0c353";
/** An OpenSSH private key's shape (not a real key). */
const FAKE_OPENSSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----";
/** A metrics password of lowercase words (not token-shaped). */
const METRICS_PASSPHRASE = "correct-horse-battery-staple-tram";
/** A Cloudflare API token's shape (40 characters). */
const TOKEN_SHAPED = "Zx9Kq3Lm7Np2Rt5Vw8Yb1Cd4Fg6Hj0Kl3Mn5Pq7R";

interface MistakeCase {
  readonly name: string;
  readonly stack: keyof typeof MISTAKE_BASES;
  readonly changes: Readonly<Record<string, string | undefined>>;
  /** Full keys stored with --secret, besides the base's. */
  readonly secretKeys?: readonly string[];
  /** The key of the problem the case is about. */
  readonly key: string;
  /** Its value exactly as shown (masked where secret), or undefined when no value is shown. */
  readonly shown: string | undefined;
  /** A fragment of its message: the fix. */
  readonly fix: string;
}

const MISTAKE_CASES: readonly MistakeCase[] = [
  // AWS: regions and zones that look right but do not exist, or cannot hold the VM.
  { name: "aws: a typo in the region", stack: "aws", changes: { "coturn:region": "eu-centrl-1" }, key: "coturn:region", shown: '"eu-centrl-1"', fix: 'Did you mean "eu-central-1"?' },
  { name: "aws: a region in capitals", stack: "aws", changes: { "coturn:region": "EU-CENTRAL-1" }, key: "coturn:region", shown: '"EU-CENTRAL-1"', fix: 'Did you mean "eu-central-1"?' },
  {
    name: "aws: a well-formed region that does not exist",
    stack: "aws",
    changes: { "coturn:region": "zz-polar-1" },
    key: "coturn:region",
    shown: '"zz-polar-1"',
    fix: 'that exists (coturn:cloud is aws; regions as of 2026-12-03). Use one such as "eu-central-1" or "us-east-1". If AWS opened it since, add it to src/config/cloudLocations.ts',
  },
  {
    name: "aws: a Google Cloud region kept after switching clouds",
    stack: "aws",
    changes: { "coturn:region": "europe-west3" },
    key: "coturn:region",
    shown: '"europe-west3"',
    fix: "is a region of Google Cloud, not an AWS region name (coturn:cloud is aws). Use one such as \"eu-central-1\" or \"us-east-1\", or set coturn:cloud to gcp",
  },
  {
    name: "aws: a zone letter the region does not have",
    stack: "aws",
    changes: { "coturn:availabilityZone": "eu-central-1d" },
    key: "coturn:availabilityZone",
    shown: '"eu-central-1d"',
    fix: 'whose zones are "eu-central-1a", "eu-central-1b" and "eu-central-1c". Use one of them, or unset it',
  },
  {
    name: "aws: us-east-1e, which offers no Graviton (the default t4g.small)",
    stack: "aws",
    changes: { "coturn:region": "us-east-1", "coturn:availabilityZone": "us-east-1e" },
    key: "coturn:availabilityZone",
    shown: '"us-east-1e"',
    fix: "does not offer t4g.small: in most accounts us-east-1e is the zone use1-az3",
  },
  {
    name: "aws: us-east-1e with an explicit c5 type",
    stack: "aws",
    changes: { "coturn:region": "us-east-1", "coturn:availabilityZone": "us-east-1e", "coturn:instanceType": "c5.large" },
    key: "coturn:availabilityZone",
    shown: '"us-east-1e"',
    fix: "Use another zone (us-east-1a, us-east-1b, us-east-1c, us-east-1d, us-east-1f), or unset it to take the first zone that offers c5.large",
  },
  {
    name: "aws: an AZ ID where the zone name goes",
    stack: "aws",
    changes: { "coturn:availabilityZone": "euc1-az2" },
    key: "coturn:availabilityZone",
    shown: '"euc1-az2"',
    fix: 'is an AZ ID, but coturn:availabilityZone takes a zone name such as "eu-central-1a"',
  },
  // Values pasted under the wrong key: shown by kind and length only.
  {
    name: "aws: the private key pasted as the certificate",
    stack: "aws",
    changes: { "coturn:tlsMode": "provided", "coturn:tlsCertificate": FAKE_PEM_KEY, "coturn:tlsPrivateKey": FAKE_PEM_KEY },
    secretKeys: ["coturn:tlsPrivateKey"],
    key: "coturn:tlsCertificate",
    shown: `(a PEM private key, ${FAKE_PEM_KEY.length} characters)`,
    fix: "is not a PEM certificate chain. Set it from your fullchain.pem file",
  },
  {
    name: "aws: a private SSH key where the public one goes",
    stack: "aws",
    changes: { "coturn:ssh": json({ allowedCidrs: ["203.0.113.7/32"], publicKeys: [FAKE_OPENSSH_KEY] }) },
    key: "coturn:ssh.publicKeys[0]",
    shown: `(an OpenSSH private key, ${FAKE_OPENSSH_KEY.length} characters)`,
    fix: "is not an OpenSSH public key",
  },
  {
    name: "aws: the auth secret pasted as the realm",
    stack: "aws",
    changes: { "coturn:realm": AUTH_SECRET },
    key: "coturn:realm",
    shown: `(text that looks like a secret or token, ${AUTH_SECRET.length} characters)`,
    fix: "may only contain letters, digits, dots and hyphens",
  },
  {
    name: "aws: a Cloudflare token pasted as the zone id",
    stack: "aws",
    changes: { "coturn:cloudflareZoneId": TOKEN_SHAPED, "coturn:cloudflareApiToken": TOKEN_SHAPED },
    secretKeys: ["coturn:cloudflareApiToken"],
    key: "coturn:cloudflareZoneId",
    shown: "(text that looks like a secret or token, 40 characters)",
    fix: "is not a Cloudflare zone id (32 lowercase hex digits",
  },
  {
    // Not token-shaped, so only the last pass over every problem recognizes it as this stack's secret.
    name: "aws: the metrics password pasted as the ACME email",
    stack: "aws",
    changes: {
      "coturn:tlsMode": "acme",
      "coturn:acmeDnsApiToken": TOKEN_SHAPED,
      "coturn:acmeEmail": METRICS_PASSPHRASE,
      "coturn:monitoring": json({ allowedCidrs: ["198.51.100.9/32"] }),
      "coturn:metricsPassword": METRICS_PASSPHRASE,
    },
    secretKeys: ["coturn:acmeDnsApiToken", "coturn:metricsPassword"],
    key: "coturn:acmeEmail",
    shown: `(the value of coturn:metricsPassword, ${METRICS_PASSPHRASE.length} characters)`,
    fix: "is not an email address",
  },
  // Numbers as strings, counts out of range, relay ranges with a mistyped bound.
  { name: "aws: a server count in words", stack: "aws", changes: { "coturn:serverCount": "three" }, key: "coturn:serverCount", shown: '"three"', fix: "must be a number, not a string" },
  { name: "aws: more servers than a region runs", stack: "aws", changes: { "coturn:serverCount": "11" }, key: "coturn:serverCount", shown: '"11"', fix: "must be at most 10" },
  {
    name: "aws: a relay range with a digit missing from its end",
    stack: "aws",
    changes: { "coturn:relayPorts": "49152-6553" },
    key: "coturn:relayPorts",
    shown: '"49152-6553"',
    fix: 'ends below its start: 6553 looks like 65535 with a digit missing. Write "49152-65535"',
  },
  {
    name: "aws: a relay range written with a colon (Vultr's firewall style)",
    stack: "aws",
    changes: { "coturn:relayPorts": "49152:65535" },
    key: "coturn:relayPorts",
    shown: '"49152:65535"',
    fix: 'Write "49152-65535", with a plain hyphen and no spaces',
  },
  {
    name: "aws: a relay range starting with a digit too many",
    stack: "aws",
    changes: { "coturn:relayPorts": "491520-65535" },
    key: "coturn:relayPorts",
    shown: '"491520-65535"',
    fix: 'starts above its end: 491520 looks like 49152 with a digit too many. Write "49152-65535"',
  },
  {
    name: "aws: capacity without its required peak",
    stack: "aws",
    changes: { "coturn:capacity": json({ media: "hd" }) },
    key: "coturn:capacity.peakCalls",
    shown: undefined,
    fix: "is required but not set: give a number, e.g. pulumi config set --path 'coturn:capacity.peakCalls' <value>",
  },
  {
    name: "aws: a typo in a nested quota field",
    stack: "aws",
    changes: { "coturn:quotas": json({ bytesPerSecondPerAlocation: 1_000_000 }) },
    key: "coturn:quotas",
    shown: undefined,
    fix: 'has unknown field "bytesPerSecondPerAlocation" (did you mean "bytesPerSecondPerAllocation"?)',
  },
  { name: "aws: a cloud name with two letters swapped", stack: "aws", changes: { "coturn:cloud": "gpc" }, key: "coturn:cloud", shown: '"gpc"', fix: '(did you mean "gcp"?)' },
  {
    name: "aws: a listener with two letters swapped",
    stack: "aws",
    changes: { "coturn:listeners": json(["udp", "tsl"]) },
    key: "coturn:listeners[1]",
    shown: '"tsl"',
    fix: '(did you mean "tls"?)',
  },

  // Google Cloud.
  { name: "gcp: a region with an extra hyphen", stack: "gcp", changes: { "coturn:region": "europe-west-3" }, key: "coturn:region", shown: '"europe-west-3"', fix: 'Did you mean "europe-west3"?' },
  {
    name: "gcp: zone a of a region whose zones start at b",
    stack: "gcp",
    changes: { "coturn:region": "europe-west1", "coturn:availabilityZone": "europe-west1-a" },
    key: "coturn:availabilityZone",
    shown: '"europe-west1-a"',
    fix: 'whose zones are "europe-west1-b", "europe-west1-c" and "europe-west1-d"',
  },
  {
    name: "gcp: a zone written the AWS way",
    stack: "gcp",
    changes: { "coturn:availabilityZone": "europe-west3a" },
    key: "coturn:availabilityZone",
    shown: '"europe-west3a"',
    fix: 'is not a zone of region europe-west3. Use e.g. "europe-west3-a", or unset it',
  },
  { name: "gcp: an AWS region", stack: "gcp", changes: { "coturn:region": "us-east-1" }, key: "coturn:region", shown: '"us-east-1"', fix: "is a region of AWS, not a Google Cloud region name" },
  { name: "gcp: no servers at all", stack: "gcp", changes: { "coturn:serverCount": "0" }, key: "coturn:serverCount", shown: '"0"', fix: "must be at least 1" },
  {
    name: "gcp: a label value holding the auth secret",
    stack: "gcp",
    changes: { "coturn:tags": json({ owner: AUTH_SECRET }) },
    key: "coturn:tags.owner",
    shown: `(text that looks like a secret or token, ${AUTH_SECRET.length} characters)`,
    fix: "has a value Google Cloud labels do not accept",
  },

  // DigitalOcean.
  { name: "digitalocean: a datacenter number that does not exist", stack: "digitalocean", changes: { "coturn:region": "fra2" }, key: "coturn:region", shown: '"fra2"', fix: 'Did you mean "fra1"?' },
  {
    name: "digitalocean: a Google Cloud region",
    stack: "digitalocean",
    changes: { "coturn:region": "europe-west3" },
    key: "coturn:region",
    shown: '"europe-west3"',
    fix: "is a region of Google Cloud, not a DigitalOcean region slug (coturn:cloud is digitalocean). Use one such as \"fra1\"",
  },
  {
    name: "digitalocean: a size slug in capitals",
    stack: "digitalocean",
    changes: { "coturn:instanceType": "s-1vcpu-2GB" },
    key: "coturn:instanceType",
    shown: '"s-1vcpu-2GB"',
    fix: "is not a DigitalOcean Droplet size slug",
  },
  {
    name: "digitalocean: a tag whose name looks secret, its value hidden in the message too",
    stack: "digitalocean",
    changes: { "coturn:tags": json({ apiToken: "abc def ghi" }) },
    key: "coturn:tags.apiToken",
    shown: '(hidden: "apiToken" looks like a secret\'s name, 11 characters)',
    fix: "becomes the Droplet tag <name>:<value>, but DigitalOcean tags allow only",
  },

  // The global stack.
  {
    name: "global: a latitude with a decimal comma",
    stack: "global",
    changes: { "coturn:regions": json([{ stack: "organization/coturn/aws-eu-central-1", latitude: "50,1", longitude: 8.7 }]) },
    key: "coturn:regions[0].latitude",
    shown: '"50,1"',
    fix: "must be a number, not a string",
  },
  {
    name: "global: a region entry without its stack",
    stack: "global",
    changes: { "coturn:regions": json([{ pool: "eu" }]) },
    key: "coturn:regions[0].stack",
    shown: undefined,
    fix: "is required but not set: give a string, e.g. pulumi config set --path 'coturn:regions[0].stack' <value>",
  },
  {
    name: "global: a typo in a geoDns field",
    stack: "global",
    changes: { "coturn:geoDns": json({ mode: "dns-records", stearing: "geo" }) },
    key: "coturn:geoDns",
    shown: undefined,
    fix: 'has unknown field "stearing" (did you mean "steering"?)',
  },
  {
    name: "global: a mode without its hyphen",
    stack: "global",
    changes: { "coturn:geoDns": json({ mode: "loadbalancer" }) },
    key: "coturn:geoDns.mode",
    shown: '"loadbalancer"',
    fix: '(did you mean "load-balancer"?)',
  },
  {
    name: "global: a TTL as text below the minimum",
    stack: "global",
    changes: { "coturn:geoDns": json({ mode: "dns-records", ttl: "10" }) },
    key: "coturn:geoDns.ttl",
    shown: '"10"',
    fix: "must be at least 30",
  },
  {
    name: "global: drain as yes",
    stack: "global",
    changes: { "coturn:regions": json([{ stack: "organization/coturn/aws-eu-central-1", drain: "yes" }]) },
    key: "coturn:regions[0].drain",
    shown: '"yes"',
    fix: "must be true or false, not a string",
  },
  {
    name: "global: a region stack's secret copied onto the global stack",
    stack: "global",
    changes: { "coturn:authSecret": AUTH_SECRET },
    secretKeys: ["coturn:authSecret"],
    key: "coturn:authSecret",
    shown: `(secret, ${AUTH_SECRET.length} characters)`,
    fix: "is a region stack setting and means nothing on a global stack",
  },
  // Per-source limits (coturn:rateLimits).
  {
    name: "aws: a whole private network exempted from the limits",
    stack: "aws",
    changes: { "coturn:rateLimits": json({ exemptCidrs: ["10.0.0.0/8"] }) },
    key: "coturn:rateLimits.exemptCidrs[0]",
    shown: '"10.0.0.0/8"',
    fix: "would exempt 16,777,216 addresses from every per-source limit (at most /16)",
  },
  {
    name: "gcp: an exempt office address written with its network's prefix",
    stack: "gcp",
    changes: { "coturn:rateLimits": json({ exemptCidrs: ["203.0.113.7/24"] }) },
    key: "coturn:rateLimits.exemptCidrs[0]",
    shown: '"203.0.113.7/24"',
    fix: 'or "203.0.113.7/32" for that one address',
  },
  {
    name: "digitalocean: a burst below its rate (a rate given as a string)",
    stack: "digitalocean",
    changes: { "coturn:rateLimits": json({ tcpNewConnectionsPerSecond: "100", tcpNewConnectionsBurst: 10 }) },
    key: "coturn:rateLimits.tcpNewConnectionsBurst",
    shown: "10",
    fix: "is below rateLimits.tcpNewConnectionsPerSecond (100)",
  },
  {
    name: "aws: a typo in a limit's name",
    stack: "aws",
    changes: { "coturn:rateLimits": json({ tcpConnectionPerSource: 500 }) },
    key: "coturn:rateLimits",
    shown: undefined,
    fix: 'has unknown field "tcpConnectionPerSource" (did you mean "tcpConnectionsPerSource"?)',
  },
  {
    name: "gcp: a request rate too low to set up a single call",
    stack: "gcp",
    changes: { "coturn:rateLimits": json({ udpRequestsPerSecond: 5 }) },
    key: "coturn:rateLimits.udpRequestsPerSecond",
    shown: "5",
    fix: "must be at least 10",
  },
  {
    name: "global: the API token pasted as the account id",
    stack: "global",
    changes: { "coturn:geoDns": json({ mode: "load-balancer" }), "coturn:cloudflareZoneId": ZONE_ID_FOR_MISTAKES, "coturn:cloudflareAccountId": TOKEN_SHAPED, "coturn:cloudflareApiToken": TOKEN_SHAPED },
    secretKeys: ["coturn:cloudflareApiToken"],
    key: "coturn:cloudflareAccountId",
    shown: "(text that looks like a secret or token, 40 characters)",
    fix: "is not a Cloudflare account id",
  },
];

/** The problems of a mistake case: validated as the command for its kind of stack would. */
function mistakeProblems(c: MistakeCase): { problems: readonly { key: string; shownValue: string | undefined; message: string }[]; text: string } {
  const values: Record<string, string> = { ...MISTAKE_BASES[c.stack] };
  for (const [key, value] of Object.entries(c.changes)) {
    if (value === undefined) delete values[key];
    else values[key] = value;
  }
  const raw = { stack: STACK, values, secretKeys: new Set([...(c.stack === "global" ? [] : BASE_SECRET_KEYS), ...(c.secretKeys ?? [])]) };
  try {
    if (c.stack === "global") validateGlobalStackConfig(raw);
    else validateStackConfig(raw);
  } catch (error) {
    if (error instanceof StackConfigError) return { problems: error.problems, text: error.message };
    throw error;
  }
  return { problems: [], text: "" };
}

test(`realistic mistakes on every cloud and the global stack name the key, the value (masked when secret) and the fix (${MISTAKE_CASES.length} cases)`, async (t) => {
  assert.ok(MISTAKE_CASES.length >= 25);
  for (const stack of Object.keys(MISTAKE_BASES)) assert.ok(MISTAKE_CASES.some((c) => c.stack === stack), `no case for ${stack}`);
  for (const c of MISTAKE_CASES) {
    await t.test(c.name, () => {
      const { problems, text } = mistakeProblems(c);
      const problem = problems.find((p) => p.key === c.key);
      assert.ok(problem, `no problem with ${c.key}; got:\n${problems.map(formatProblem).join("\n")}`);
      assert.equal(problem.shownValue, c.shown);
      assert.ok(problem.message.includes(c.fix), `the fix is missing from: ${problem.message}`);
      assert.doesNotMatch(text, /\bundefined\b|\ba (?:[aeiou]|undefined)/, "every branch reads well");
      for (const secret of [...ALL_SECRETS, FAKE_OPENSSH_KEY, TOKEN_SHAPED, METRICS_PASSPHRASE]) assert.ok(!text.includes(secret), "a message shows a secret or key material");
      assert.ok(!text.includes("PRIVATE KEY-----"), "a message shows key material");
    });
  }
});

test("the base stacks of the mistake table are valid", () => {
  for (const [stack, values] of Object.entries(MISTAKE_BASES)) {
    const raw = { stack: STACK, values, secretKeys: new Set(stack === "global" ? [] : BASE_SECRET_KEYS) };
    if (stack === "global") assert.doesNotThrow(() => validateGlobalStackConfig(raw), stack);
    else assert.doesNotThrow(() => validateStackConfig(raw), stack);
  }
  // Coordinates as text (a quoted YAML value) are read as the numbers they spell.
  const regions = json([{ stack: "organization/coturn/aws-eu-central-1", latitude: "50.1", longitude: "8.7" }]);
  const global = validateGlobalStackConfig({ stack: STACK, values: { ...MISTAKE_BASES.global, "coturn:regions": regions }, secretKeys: new Set() });
  assert.deepEqual(global.regions[0].location, { latitude: 50.1, longitude: 8.7 });
});

const CLOUDFLARE_TOKEN = "T3st-cloudflare-token-abcdefghijklmnop0123";
const ZONE_ID = "023e105f4ecef8ad9ca31a8372d0c353";
const TOKEN_HELP = "create a token with permission Zone > DNS > Edit for your domain's zone only (Cloudflare dashboard > My Profile > API Tokens)";

const TLS_AND_DNS_CASES: readonly BadCase[] = [
  {
    name: "acme without a DNS token",
    changes: { "coturn:tlsMode": "acme" },
    expected: [
      'coturn:acmeDnsApiToken: is required with tlsMode "acme": the VM proves it owns turn.example.com with a TXT record in Cloudflare DNS. ' +
        `C${TOKEN_HELP.slice(1)}, then: pulumi config set --secret coturn:acmeDnsApiToken <token>`,
    ],
  },
  {
    name: "a Cloudflare zone without a token",
    changes: { "coturn:cloudflareZoneId": ZONE_ID },
    expected: [`coturn:cloudflareApiToken: is required with coturn:cloudflareZoneId: ${TOKEN_HELP}, then: pulumi config set --secret coturn:cloudflareApiToken <token>`],
  },
  {
    name: "a Cloudflare token without a zone (and no acme to use it)",
    changes: { "coturn:cloudflareApiToken": CLOUDFLARE_TOKEN },
    secretKeys: ["coturn:authSecret", "coturn:cloudflareApiToken"],
    expected: [
      "coturn:cloudflareZoneId: is required with coturn:cloudflareApiToken (the zone to create the records in): pulumi config set coturn:cloudflareZoneId <32 hex digits from the zone's Overview page>",
    ],
  },
  {
    name: "publishSharedName without a zone",
    changes: { "coturn:publishSharedName": "false" },
    expected: ["coturn:publishSharedName: is set, but without coturn:cloudflareZoneId no record is created. Set the zone, or remove it"],
  },
  {
    name: "ACME settings with the default self-signed mode",
    changes: { "coturn:acmeEmail": "ops@example.com", "coturn:acmeCa": "staging" },
    expected: [
      'coturn:acmeEmail: is set, but coturn:tlsMode is "self-signed" (the default), which ignores it. Set coturn:tlsMode to "acme", or remove coturn:acmeEmail',
      'coturn:acmeCa: is set, but coturn:tlsMode is "self-signed" (the default), which ignores it. Set coturn:tlsMode to "acme", or remove coturn:acmeCa',
    ],
  },
  {
    name: "a zone id that is a domain name",
    changes: { "coturn:cloudflareZoneId": "example.com", "coturn:cloudflareApiToken": CLOUDFLARE_TOKEN },
    secretKeys: ["coturn:authSecret", "coturn:cloudflareApiToken"],
    expected: [`coturn:cloudflareZoneId = "example.com": is not a Cloudflare zone id (32 lowercase hex digits, on the zone's Overview page)`],
  },
  {
    name: "a token that is not one (not shown)",
    changes: { "coturn:cloudflareZoneId": ZONE_ID, "coturn:cloudflareApiToken": "abc def" },
    secretKeys: ["coturn:authSecret", "coturn:cloudflareApiToken"],
    expected: [
      "coturn:cloudflareApiToken = (secret, 7 characters): is not a Cloudflare API token (letters, digits, _ and -, as the dashboard shows it). Create one under My Profile > API Tokens",
    ],
  },
  {
    name: "a token stored in plain text",
    changes: { "coturn:cloudflareZoneId": ZONE_ID, "coturn:cloudflareApiToken": CLOUDFLARE_TOKEN },
    expected: ["coturn:cloudflareApiToken = (not shown): is stored in plain text. Set it again encrypted: pulumi config set --secret coturn:cloudflareApiToken <value>"],
  },
  {
    name: "an email without a domain and an unknown CA",
    changes: { "coturn:tlsMode": "acme", "coturn:acmeEmail": "ops", "coturn:acmeCa": "test", "coturn:acmeDnsApiToken": CLOUDFLARE_TOKEN },
    secretKeys: ["coturn:authSecret", "coturn:acmeDnsApiToken"],
    expected: [
      `coturn:acmeEmail = "ops": is not an email address. Use the address Let's Encrypt may contact about your account, e.g. "ops@example.com"`,
      'coturn:acmeCa = "test": is not one of "staging", "production"',
    ],
  },
  {
    name: "a region name that is not a DNS name",
    changes: { "coturn:regionDomain": "EU.Turn" },
    expected: ['coturn:regionDomain = "EU.Turn": is not a fully qualified domain name. Use a lowercase DNS name such as "eu-central-1.turn.example.com"'],
  },
];

test(`TLS and DNS settings that do not fit together report exactly their problems (${TLS_AND_DNS_CASES.length} cases)`, async (t) => {
  for (const c of TLS_AND_DNS_CASES) {
    await t.test(c.name, () => {
      assert.deepEqual(problemsOf(withChanges(c.changes), c.secretKeys), c.expected);
      const text = problemsOf(withChanges(c.changes), c.secretKeys).join("\n");
      assert.ok(!text.includes(CLOUDFLARE_TOKEN), "a message shows the token");
    });
  }
});

test("acme: staging for ephemeral stacks, production otherwise, the Cloudflare token unless the VM has its own; names and records", () => {
  const acme = { "coturn:tlsMode": "acme", "coturn:acmeEmail": "ops@example.com", "coturn:cloudflareZoneId": ZONE_ID, "coturn:cloudflareApiToken": CLOUDFLARE_TOKEN };
  const secretKeys = new Set(["coturn:authSecret", "coturn:cloudflareApiToken", "coturn:acmeDnsApiToken"]);
  const production = validateStackConfig({ stack: STACK, values: withChanges(acme), secretKeys });
  assert.deepEqual(production.tls, {
    mode: "acme",
    email: "ops@example.com",
    ca: "production",
    directoryUrl: "https://acme-v02.api.letsencrypt.org/directory",
    dnsApiToken: CLOUDFLARE_TOKEN,
  });
  assert.equal(production.regionDomain, "eu-central-1.turn.example.com", "default: <region>.<domain>");
  assert.deepEqual(production.cloudflare, { zoneId: ZONE_ID, apiToken: CLOUDFLARE_TOKEN, publishSharedName: true });
  const ephemeral = validateStackConfig({
    stack: STACK,
    values: withChanges({ ...acme, ...ephemeralValues("4h"), "coturn:acmeDnsApiToken": `${CLOUDFLARE_TOKEN}-vm`, "coturn:publishSharedName": "false" }),
    secretKeys,
  });
  assert.equal(ephemeral.tls.mode === "acme" && ephemeral.tls.ca, "staging");
  assert.equal(ephemeral.tls.mode === "acme" && ephemeral.tls.directoryUrl, "https://acme-staging-v02.api.letsencrypt.org/directory");
  assert.equal(ephemeral.tls.mode === "acme" && ephemeral.tls.dnsApiToken, `${CLOUDFLARE_TOKEN}-vm`);
  assert.equal(ephemeral.cloudflare?.publishSharedName, false);
  // An explicit CA wins over the ephemeral default; a VM token alone is enough for acme without DNS records, and the
  // email is optional.
  const explicit = validateStackConfig({
    stack: STACK,
    values: withChanges({ "coturn:tlsMode": "acme", "coturn:acmeCa": "production", ...ephemeralValues("2d"), "coturn:acmeDnsApiToken": CLOUDFLARE_TOKEN, "coturn:regionDomain": "fra.turn.example.com" }),
    secretKeys,
  });
  assert.equal(explicit.tls.mode === "acme" && explicit.tls.ca, "production");
  assert.equal(explicit.tls.mode === "acme" && explicit.tls.email, undefined);
  assert.equal(explicit.cloudflare, undefined);
  assert.equal(explicit.regionDomain, "fra.turn.example.com");
});

test("the base config is valid and gets every default", () => {
  const config = validateStackConfig({ stack: STACK, values: BASE_VALUES, secretKeys: new Set(BASE_SECRET_KEYS) });
  assert.equal(config.stack, STACK);
  assert.equal(config.cloud, "aws");
  assert.equal(config.region, "eu-central-1");
  assert.equal(config.availabilityZone, undefined);
  assert.equal(config.domain, "turn.example.com");
  assert.equal(config.realm, "turn.example.com");
  assert.deepEqual(config.relayPorts, { min: 49152, max: 65535 });
  assert.deepEqual(config.listeners, new Set(["udp", "tcp", "tls", "dtls"]));
  assert.equal(config.instanceType, "t4g.small");
  assert.equal(config.image, "debian-12");
  assert.deepEqual(config.authSecrets, [AUTH_SECRET]);
  // Other clouds get their own default size and image.
  const gcp = validateStackConfig({ stack: STACK, values: { ...BASE_VALUES, "coturn:cloud": "gcp", "coturn:region": "europe-west3" }, secretKeys: new Set(BASE_SECRET_KEYS) });
  assert.deepEqual([gcp.instanceType, gcp.image], ["e2-small", "ubuntu-24.04"]);
  const digitalocean = validateStackConfig({ stack: STACK, values: { ...BASE_VALUES, "coturn:cloud": "digitalocean", "coturn:region": "fra1" }, secretKeys: new Set(BASE_SECRET_KEYS) });
  assert.deepEqual([digitalocean.instanceType, digitalocean.image], ["s-1vcpu-2gb", "debian-12"]);
  assert.deepEqual(config.tls, { mode: "self-signed" });
  assert.deepEqual(config.quotas, {
    allocationsPerUser: 12,
    totalAllocations: 0,
    bytesPerSecondPerAllocation: 2_500_000,
    totalBytesPerSecond: 0,
  });
  assert.deepEqual(config.ssh, { allowedCidrs: ["203.0.113.7/32"], publicKeys: [] });
  assert.equal(config.maxCredentialTtlSeconds, 86_400);
  assert.equal(config.rotation, undefined);
  assert.deepEqual(config.tags, {});
  assert.equal(config.ephemeral, undefined);
});

test("small valid changes of the base stay valid", async (t) => {
  const validCases: readonly { name: string; changes: Record<string, string | undefined>; secretKeys?: string[] }[] = [
    {
      name: "0.0.0.0/0 with allowAnySource true and a public key",
      changes: { "coturn:ssh": json({ allowedCidrs: ["0.0.0.0/0"], publicKeys: [SSH_KEY], allowAnySource: true }) },
    },
    {
      name: "allowAnySource as the text true",
      changes: { "coturn:ssh": json({ allowedCidrs: ["0.0.0.0/0"], publicKeys: [SSH_KEY], allowAnySource: "true" }) },
    },
    { name: "quota as whole-number text", changes: { "coturn:quotas": json({ allocationsPerUser: "3" }) } },
    {
      name: "ssh from a /24 without allowAnySource",
      changes: { "coturn:ssh": json({ allowedCidrs: ["198.51.100.0/24"], publicKeys: [SSH_KEY] }) },
    },
    {
      name: "ssh from a /16 (the widest allowed) without allowAnySource",
      changes: { "coturn:ssh": json({ allowedCidrs: ["10.0.0.0/16"], publicKeys: [SSH_KEY] }) },
    },
    {
      name: "ssh from a /8 with allowAnySource true",
      changes: { "coturn:ssh": json({ allowedCidrs: ["10.0.0.0/8"], publicKeys: [SSH_KEY], allowAnySource: true }) },
    },
    { name: "tag names that merely contain aws", changes: { "coturn:tags": json({ team: "media", "awsx:y": "1" }) } },
    { name: "zone of the region", changes: { "coturn:availabilityZone": "eu-central-1b" } },
    { name: "tls-443 with tls", changes: { "coturn:listeners": json(["udp", "tls", "tls-443"]) } },
    {
      name: "rotation with a distinct previous secret",
      changes: { "coturn:previousAuthSecrets": json([PREVIOUS_SECRET]) },
      secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    },
  ];
  for (const c of validCases) {
    await t.test(c.name, () => {
      assert.deepEqual(problemsOf(withChanges(c.changes), c.secretKeys), []);
    });
  }
  const open = validateStackConfig({
    stack: STACK,
    values: withChanges(validCases[0].changes),
    secretKeys: new Set(BASE_SECRET_KEYS),
  });
  assert.deepEqual(open.ssh, { allowedCidrs: ["0.0.0.0/0"], publicKeys: [SSH_KEY] });
});

test(`invalid configs report exactly their problems (${BAD_CASES.length} cases)`, async (t) => {
  for (const c of BAD_CASES) {
    await t.test(c.name, () => {
      assert.deepEqual(problemsOf(withChanges(c.changes), c.secretKeys), c.expected);
    });
  }
});

test("one error lists all problems under a header", () => {
  const many = BAD_CASES.find((c) => c.name === "several problems at once");
  assert.ok(many);
  assert.ok(many.expected.length >= 4);
  const error = errorOf(withChanges(many.changes));
  assert.ok(error instanceof StackConfigError);
  assert.equal(error.name, "StackConfigError");
  assert.equal(
    error.message,
    `Stack config of "test" is invalid (${many.expected.length} problems); nothing was created or changed:\n` +
      many.expected.map((line) => `  - ${line}`).join("\n"),
  );

  const single = errorOf(withChanges({ "coturn:cloud": "gcp" }));
  assert.ok(single);
  assert.ok(single.message.startsWith('Stack config of "test" is invalid (1 problem); nothing was created or changed:\n'));
});

test("no problem of any case shows a secret", () => {
  for (const c of BAD_CASES) {
    const error = errorOf(withChanges(c.changes), c.secretKeys);
    assert.ok(error, `${c.name}: expected a StackConfigError`);
    const texts = [...error.problems.map(formatProblem), error.message];
    for (const secret of ALL_SECRETS) {
      for (const text of texts) {
        assert.ok(!text.includes(secret), `${c.name}: a message shows a secret: ${text}`);
      }
    }
  }
});

test("a provided TLS certificate must name the domain and match its key", () => {
  const dir = mkdtempSync(join(tmpdir(), "coturn-cert-"));
  try {
    const makeCert = (name: string, prefix: string): { cert: string; key: string } => {
      const keyFile = join(dir, `${prefix}.key`);
      const certFile = join(dir, `${prefix}.crt`);
      execFileSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
        "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`, "-keyout", keyFile, "-out", certFile,
      ], { stdio: "pipe" });
      return { cert: readFileSync(certFile, "utf8"), key: readFileSync(keyFile, "utf8") };
    };
    const ours = makeCert("turn.example.com", "ours");
    const other = makeCert("other.example.net", "other");
    const secretKeys = ["coturn:authSecret", "coturn:tlsPrivateKey"];
    const provided = (cert: string, key: string): Record<string, string> =>
      withChanges({ "coturn:tlsMode": "provided", "coturn:tlsCertificate": cert, "coturn:tlsPrivateKey": key });

    const config = validateStackConfig({
      stack: STACK,
      values: provided(ours.cert, ours.key),
      secretKeys: new Set(secretKeys),
    });
    assert.deepEqual(config.tls, { mode: "provided", certificateChain: ours.cert, privateKey: ours.key });

    assert.deepEqual(problemsOf(provided(other.cert, other.key), secretKeys), [
      'coturn:tlsCertificate = (PEM): does not cover coturn:domain "turn.example.com" (it names DNS:other.example.net). Use a certificate for turn.example.com',
    ]);

    const mismatched = problemsOf(provided(ours.cert, other.key), secretKeys);
    assert.deepEqual(mismatched, [
      "coturn:tlsPrivateKey = (secret): does not belong to the leaf certificate of coturn:tlsCertificate. Set the key that was issued with it",
    ]);
    for (const line of mismatched) {
      assert.ok(!line.includes("PRIVATE KEY"), `the key is shown: ${line}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ----- Local stacks (`coturn:cloud: local`, run by `npm run local`) -----

/** A valid local stack as `npm run local` validates it: the stack file's keys plus the run's secret. */
const LOCAL_BASE_VALUES: Readonly<Record<string, string>> = {
  "coturn:cloud": "local",
  "coturn:domain": "turn.localhost",
  "coturn:authSecret": AUTH_SECRET,
};

function localProblemsOf(changes: Readonly<Record<string, string | undefined>>, secretKeys: readonly string[] = BASE_SECRET_KEYS): string[] {
  const values: Record<string, string> = { ...LOCAL_BASE_VALUES };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete values[key];
    else values[key] = value;
  }
  try {
    validateLocalStackConfig({ stack: "local", values, secretKeys: new Set(secretKeys) });
    return [];
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems.map(formatProblem);
    throw error;
  }
}

const CLOUD_SETTING = (key: string, shown: string): string =>
  `coturn:${key} = ${shown}: is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). ` +
  "Remove it from stacks/Pulumi.local.yaml";

const LOCAL_BAD_CASES: readonly BadCase[] = [
  { name: "region", changes: { "coturn:region": "eu-central-1" }, expected: [CLOUD_SETTING("region", '"eu-central-1"')] },
  {
    name: "availability zone",
    changes: { "coturn:availabilityZone": "eu-central-1a" },
    expected: [CLOUD_SETTING("availabilityZone", '"eu-central-1a"')],
  },
  { name: "instance type", changes: { "coturn:instanceType": "t4g.small" }, expected: [CLOUD_SETTING("instanceType", '"t4g.small"')] },
  { name: "image", changes: { "coturn:image": "debian-12" }, expected: [CLOUD_SETTING("image", '"debian-12"')] },
  {
    name: "ssh, shown as the value it decodes to",
    changes: { "coturn:ssh": json({ allowedCidrs: ["203.0.113.7/32"] }) },
    expected: [CLOUD_SETTING("ssh", '{"allowedCidrs":["203.0.113.7/32"]}')],
  },
  { name: "tags", changes: { "coturn:tags": json({ team: "media" }) }, expected: [CLOUD_SETTING("tags", '{"team":"media"}')] },
  { name: "ephemeral", changes: { "coturn:ephemeral": "4h" }, expected: [CLOUD_SETTING("ephemeral", '"4h"')] },
  {
    name: "the tls-443 listener",
    changes: { "coturn:listeners": json(["udp", "tls", "tls-443"]) },
    expected: [
      'coturn:listeners = ["udp","tls","tls-443"]: has "tls-443", which needs root and an nftables redirect of port 443; ' +
        'coturn:cloud "local" runs coturn as you. Remove "tls-443" (browsers reach turns: on port 5349)',
    ],
  },
  {
    name: "tlsMode provided, with a certificate and key",
    changes: { "coturn:tlsMode": "provided", "coturn:tlsCertificate": FAKE_PEM_CERT, "coturn:tlsPrivateKey": FAKE_PEM_KEY },
    secretKeys: ["coturn:authSecret", "coturn:tlsPrivateKey"],
    expected: [
      'coturn:tlsMode = "provided": is not possible with coturn:cloud "local", which makes a fresh self-signed certificate on each run. ' +
        'Remove it (or set "self-signed") in stacks/Pulumi.local.yaml',
      'coturn:tlsCertificate: is set, but coturn:cloud "local" makes a fresh self-signed certificate on each run and ignores it. Remove it from stacks/Pulumi.local.yaml',
      'coturn:tlsPrivateKey: is set, but coturn:cloud "local" makes a fresh self-signed certificate on each run and ignores it. Remove it from stacks/Pulumi.local.yaml',
    ],
  },
  {
    name: "tlsMode acme, with its email and a Cloudflare zone",
    changes: { "coturn:tlsMode": "acme", "coturn:acmeEmail": "ops@example.com", "coturn:cloudflareZoneId": ZONE_ID },
    expected: [
      `coturn:cloudflareZoneId = "${ZONE_ID}": is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). Remove it from stacks/Pulumi.local.yaml`,
      'coturn:acmeEmail = "ops@example.com": is a cloud setting and means nothing with coturn:cloud "local" (coturn runs on this machine). Remove it from stacks/Pulumi.local.yaml',
      'coturn:tlsMode = "acme": is not possible with coturn:cloud "local", which makes a fresh self-signed certificate on each run. ' +
        'Remove it (or set "self-signed") in stacks/Pulumi.local.yaml',
    ],
  },
  {
    name: "previous secrets",
    changes: { "coturn:previousAuthSecrets": json([PREVIOUS_SECRET]) },
    secretKeys: ["coturn:authSecret", "coturn:previousAuthSecrets"],
    expected: [
      "coturn:previousAuthSecrets = (secret): is set, but a local stack's secret lives for one run, so there is nothing to rotate. Remove it from stacks/Pulumi.local.yaml",
    ],
  },
  {
    name: "no secret added by the runner",
    changes: { "coturn:authSecret": undefined },
    expected: [
      "coturn:authSecret: is not set: a local stack gets a fresh secret on each run of `npm run local`, which adds it before validating",
    ],
  },
  {
    name: "a cloud stack given to npm run local",
    changes: { "coturn:cloud": "aws", "coturn:region": "eu-central-1" },
    expected: [
      'coturn:cloud = "aws": is a cloud stack: `npm run local` runs stacks with coturn:cloud "local" (stacks/Pulumi.local.yaml). Deploy this one with `pulumi up`',
    ],
  },
  {
    name: "several local problems at once, with the shared rules still applied",
    changes: { "coturn:region": "eu-central-1", "coturn:relayPorts": "3000-4000", "coturn:listeners": json(["udp", "tls-443"]) },
    expected: [
      CLOUD_SETTING("region", '"eu-central-1"'),
      'coturn:relayPorts = "3000-4000": overlaps listener port 3478. Use a range above it, e.g. "49152-65535"',
      'coturn:listeners = ["udp","tls-443"]: has "tls-443" without "tls": port 443 is forwarded to the TLS listener. Add "tls"',
      'coturn:listeners = ["udp","tls-443"]: has "tls-443", which needs root and an nftables redirect of port 443; ' +
        'coturn:cloud "local" runs coturn as you. Remove "tls-443" (browsers reach turns: on port 5349)',
    ],
  },
];

test("a local stack is valid without any cloud setting and gets the local shape", () => {
  const config = validateLocalStackConfig({ stack: "local", values: LOCAL_BASE_VALUES, secretKeys: new Set(BASE_SECRET_KEYS) });
  assert.equal(config.cloud, "local");
  assert.equal(config.realm, "turn.localhost");
  assert.deepEqual(config.authSecrets, [AUTH_SECRET]);
  assert.deepEqual(config.tls, { mode: "self-signed" });
  assert.deepEqual(config.listeners, new Set(["udp", "tcp", "tls", "dtls"]));
  assert.ok(!("region" in config) && !("instanceType" in config) && !("ssh" in config), "a local config carries no cloud settings");
});

test(`invalid local stacks report exactly their problems (${LOCAL_BAD_CASES.length} cases)`, async (t) => {
  for (const c of LOCAL_BAD_CASES) {
    await t.test(c.name, () => {
      const problems = localProblemsOf(c.changes, c.secretKeys);
      assert.deepEqual(problems, c.expected);
      for (const secret of ALL_SECRETS) assert.ok(!problems.join("\n").includes(secret), `${c.name}: a message shows a secret`);
    });
  }
});

test("npm run local adds a fresh secret to the stack file's config, and refuses a stored one", () => {
  const secrets = new Set(Array.from({ length: 20 }, () => newLocalAuthSecret()));
  assert.equal(secrets.size, 20, "secrets repeat");
  for (const secret of secrets) assert.match(secret, new RegExp(`^[A-Za-z0-9_-]{${LOCAL_SECRET_LENGTH}}$`));

  const secret = newLocalAuthSecret();
  const config = loadLocalStack("local", secret);
  assert.deepEqual(config.authSecrets, [secret]);
  const raw = readStackFile("local", { mode: "placeholder" });
  assert.equal(raw.values["coturn:authSecret"], undefined, "stacks/Pulumi.local.yaml must not store a secret");
  const added = withLocalAuthSecret(raw, secret);
  assert.ok(added.secretKeys.has("coturn:authSecret"), "the run's secret is handled as a secret key");

  const stored = { ...raw, values: { ...raw.values, "coturn:authSecret": AUTH_SECRET } };
  assert.throws(
    () => withLocalAuthSecret(stored, secret),
    (error: unknown) =>
      error instanceof StackConfigError &&
      error.problems.map(formatProblem).join("\n") ===
        "coturn:authSecret = (not shown): is set in stacks/Pulumi.local.yaml, but `npm run local` makes a fresh secret on each run and never stores it. Remove it from the stack file" &&
      !error.message.includes(AUTH_SECRET),
  );
});
