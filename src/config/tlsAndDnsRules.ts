/**
 * Rules across the TLS and DNS keys: what each `coturn:tlsMode` needs and ignores (a provided certificate is checked
 * against its key and the domain), and the Cloudflare zone and token that go together.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { LOCAL_CLOUD, type ConfigKey, type ParsedConfigKeys } from "./schema";
import { problemAdder, stackFileName, type ConfigProblem } from "./configProblems";
import { fullKey, type RawStackConfig } from "./rawStackConfig";

/** The TLS keys against `coturn:tlsMode` (a local stack only makes its own self-signed certificate). */
export function tlsProblems(c: Partial<ParsedConfigKeys>, raw: RawStackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = problemAdder(problems);
  const local = c.cloud === LOCAL_CLOUD;
  const opaque = (key: string): boolean => raw.opaqueKeys?.has(fullKey(key)) ?? false;
  if (local) {
    if (c.tlsMode === "provided" || c.tlsMode === "acme") {
      add(
        "tlsMode",
        c.tlsMode,
        `is not possible with coturn:cloud "local", which makes a fresh self-signed certificate on each run. ` +
          `Remove it (or set "self-signed") in ${stackFileName(raw.stack)}`,
      );
    }
    for (const key of ["tlsCertificate", "tlsPrivateKey"]) {
      if (raw.values[fullKey(key)] !== undefined) {
        problems.push({
          key: fullKey(key),
          shownValue: undefined,
          message: `is set, but coturn:cloud "local" makes a fresh self-signed certificate on each run and ignores it. Remove it from ${stackFileName(raw.stack)}`,
        });
      }
    }
  } else if (c.tlsMode === "provided") {
    if (raw.values[fullKey("tlsCertificate")] === undefined) {
      add("tlsCertificate", undefined, 'is required with tlsMode "provided". Set it: pulumi config set coturn:tlsCertificate -- "$(cat fullchain.pem)"');
    }
    if (raw.values[fullKey("tlsPrivateKey")] === undefined) {
      add("tlsPrivateKey", undefined, 'is required with tlsMode "provided". Set it: pulumi config set --secret coturn:tlsPrivateKey -- "$(cat privkey.pem)"');
    }
    if (c.tlsCertificate !== undefined && c.tlsPrivateKey !== undefined && c.domain && !opaque("tlsPrivateKey")) {
      problems.push(...certificateProblems(c.tlsCertificate, c.tlsPrivateKey, c.domain));
    }
  } else if (c.tlsMode !== undefined) {
    for (const key of ["tlsCertificate", "tlsPrivateKey"]) {
      if (raw.values[fullKey(key)] !== undefined) {
        problems.push({
          key: fullKey(key),
          shownValue: undefined,
          message: `is set, but coturn:tlsMode is "${c.tlsMode}"${raw.values[fullKey("tlsMode")] === undefined ? " (the default)" : ""}, which ignores it. Set coturn:tlsMode to "provided", or remove ${fullKey(key)}`,
        });
      }
    }
  }
  return problems;
}

/** The keys `tlsMode: acme` needs or ignores, and the Cloudflare zone and token that go together. */
export function acmeAndDnsProblems(c: Partial<ParsedConfigKeys>, raw: RawStackConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const isSet = (key: ConfigKey): boolean => raw.values[fullKey(key)] !== undefined;
  const add = (key: ConfigKey, message: string): void => {
    problems.push({ key: fullKey(key), shownValue: undefined, message });
  };
  const zoneTokenHelp = "create a token with permission Zone > DNS > Edit for your domain's zone only (Cloudflare dashboard > My Profile > API Tokens)";
  if (isSet("cloudflareZoneId") && !isSet("cloudflareApiToken")) {
    add("cloudflareApiToken", `is required with coturn:cloudflareZoneId: ${zoneTokenHelp}, then: pulumi config set --secret coturn:cloudflareApiToken <token>`);
  }
  if (isSet("cloudflareApiToken") && !isSet("cloudflareZoneId") && c.tlsMode !== "acme") {
    add("cloudflareZoneId", "is required with coturn:cloudflareApiToken (the zone to create the records in): pulumi config set coturn:cloudflareZoneId <32 hex digits from the zone's Overview page>");
  }
  if (isSet("publishSharedName") && !isSet("cloudflareZoneId")) {
    add("publishSharedName", "is set, but without coturn:cloudflareZoneId no record is created. Set the zone, or remove it");
  }
  if (c.tlsMode === "acme") {
    if (!isSet("acmeDnsApiToken") && !isSet("cloudflareApiToken")) {
      add(
        "acmeDnsApiToken",
        `is required with tlsMode "acme": the VM proves it owns ${c.domain ?? "the domain"} with a TXT record in Cloudflare DNS. ` +
          `${zoneTokenHelp[0].toUpperCase()}${zoneTokenHelp.slice(1)}, then: pulumi config set --secret coturn:acmeDnsApiToken <token>`,
      );
    }
  } else if (c.tlsMode !== undefined) {
    for (const key of ["acmeEmail", "acmeCa", "acmeDnsApiToken"] as const) {
      const mode = `"${c.tlsMode}"${isSet("tlsMode") ? "" : " (the default)"}`;
      if (isSet(key)) add(key, `is set, but coturn:tlsMode is ${mode}, which ignores it. Set coturn:tlsMode to "acme", or remove ${fullKey(key)}`);
    }
  }
  return problems;
}

/** Checks a provided certificate: parses, is current, names the domain, and matches the private key. */
function certificateProblems(chain: string, key: string, domain: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (k: string, message: string): void => {
    problems.push({ key: fullKey(k), shownValue: k === "tlsPrivateKey" ? "(secret)" : "(PEM)", message });
  };
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(chain);
  } catch (error) {
    add("tlsCertificate", `does not parse as an X.509 certificate (${(error as Error).message}). Set it from fullchain.pem`);
    return problems;
  }
  if (new Date(leaf.validTo).getTime() < Date.now()) {
    add("tlsCertificate", `expired on ${leaf.validTo}. Renew it and set the new chain`);
  }
  if (leaf.checkHost(domain) === undefined) {
    add("tlsCertificate", `does not cover coturn:domain "${domain}" (it names ${leaf.subjectAltName ?? leaf.subject}). Use a certificate for ${domain}`);
  }
  try {
    if (!leaf.checkPrivateKey(createPrivateKey(key))) {
      add("tlsPrivateKey", "does not belong to the leaf certificate of coturn:tlsCertificate. Set the key that was issued with it");
    }
  } catch (error) {
    add("tlsPrivateKey", `does not parse as a private key (${(error as Error).message}). Set it from privkey.pem`);
  }
  return problems;
}
