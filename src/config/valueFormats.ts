/**
 * The formats of single config values, shared by the key schemas (`schema.ts`) and the rules across keys: domain
 * names, IPv4 CIDRs, port ranges, auth secrets, Cloudflare tokens, PEM and SSH keys, and numbers and booleans that
 * Pulumi may hand over as text.
 */
import { isIPv4 } from "node:net";
import { z } from "zod";
import { isValidRelayRange, portRangeFix } from "./portRangeFix";

/** The smallest secret we accept: HMAC-SHA1 keys shorter than this are guessable offline from one credential. */
export const MIN_SECRET_LENGTH = 32;

const SECRET_CHARS = /^[A-Za-z0-9+/=_.~-]+$/;

/** One auth secret: long enough, and only characters that survive a `key=value` line in turnserver.conf. */
export const authSecret = z
  .string()
  .min(MIN_SECRET_LENGTH, {
    error: (issue) =>
      `is ${String(issue.input).length} characters; it needs at least ${MIN_SECRET_LENGTH}. ` +
      `Generate one with: openssl rand -base64 48`,
  })
  .regex(SECRET_CHARS, {
    error:
      "may only contain letters, digits and + / = _ . ~ - (coturn reads the value up to the first space). " +
      "Generate one with: openssl rand -base64 48",
  });

/** A whole number that also accepts its text form ("12"), as `pulumi config set --path` may store it. */
export const wholeNumber = () =>
  z.preprocess((v) => (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v), z.int());
/** A decimal number that also accepts its text form ("50.1"), as a quoted YAML value or `--path` may store it. */
export const decimalNumber = () => z.preprocess((v) => (typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v), z.number());
/** A boolean that also accepts "true"/"false". */
export const flag = () => z.preprocess((v) => (v === "true" ? true : v === "false" ? false : v), z.boolean());

/** A Cloudflare API token: the dashboard shows 40 characters of letters, digits, `_` and `-`. */
export const cloudflareToken = z.string().regex(/^[A-Za-z0-9_-]{32,200}$/, {
  error: "is not a Cloudflare API token (letters, digits, _ and -, as the dashboard shows it). Create one under My Profile > API Tokens",
});

const FQDN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** True for a lowercase fully qualified domain name with at least two labels and an alphabetic top-level label. */
export function isFqdn(name: string): boolean {
  if (name.length > 253 || name.endsWith(".")) return false;
  const labels = name.split(".");
  return labels.length >= 2 && labels.every((l) => FQDN_LABEL.test(l)) && /^[a-z]{2,63}$/.test(labels.at(-1) ?? "");
}

/** Parses `a.b.c.d/n` (IPv4 only); returns the problem, or undefined when it is a valid network address. */
export function ipv4CidrProblem(cidr: string): string | undefined {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(cidr);
  if (!match || !isIPv4(match[1]) || Number(match[2]) > 32) {
    return `is not an IPv4 CIDR. Write it as address/prefix, e.g. "203.0.113.7/32" for one address`;
  }
  const prefix = Number(match[2]);
  const octets = match[1].split(".").map(Number);
  const address = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  const network = address - (address % size);
  if (network !== address) {
    const asDotted = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".");
    return `has host bits set. Write the network "${asDotted}/${prefix}", or "${match[1]}/32" for that one address`;
  }
  return undefined;
}

/**
 * Parses `min-max`; returns the two ports, or a problem description whose fix is the valid range nearest to what
 * was typed (`portRangeFix.ts`). Two ports joined by another separator (`49152:65535`, `49152..65535`, an en dash)
 * are told how to write them.
 */
export function parsePortRange(text: string): { min: number; max: number } | string {
  const match = /^(\d{1,6})-(\d{1,6})$/.exec(text);
  if (!match) {
    const loose = /^\s*(\d{1,5})\s*(?:-|\u2013|\u2014|:|\.\.|to|\s)\s*(\d{1,5})\s*$/.exec(text);
    if (loose) {
      const bounds = { min: Number(loose[1]), max: Number(loose[2]) };
      const written = isValidRelayRange(bounds) ? `${bounds.min}-${bounds.max}` : "min-max";
      return `is not written as coturn reads it. Write "${written}", with a plain hyphen and no spaces`;
    }
    return `is not a port range. Write it as "min-max", e.g. "49152-65535"`;
  }
  const bounds = { min: Number(match[1]), max: Number(match[2]) };
  return portRangeFix(bounds) ?? bounds;
}

/** A PEM certificate somewhere in the value (a chain holds several). */
export const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
/** A PEM private key (PKCS#8, EC or RSA), and nothing else. */
export const PEM_KEY = /^-----BEGIN (EC |RSA )?PRIVATE KEY-----[\s\S]+-----END (EC |RSA )?PRIVATE KEY-----\s*$/;
/** One OpenSSH public key line: type, base64 key, optional comment. */
export const SSH_PUBLIC_KEY =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\n]*)?$/;
