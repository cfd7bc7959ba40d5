/**
 * The typed config of a region or local stack, assembled from keys that passed validation: the defaults that depend
 * on other keys (realm, VM size and image, region name, ACME CA, sized `total-quota`) are applied here.
 */
import { ACME_DIRECTORY_URLS, GLOBAL_CLOUD, LOCAL_CLOUD, type ParsedConfigKeys } from "./schema";
import { parsePortRange } from "./valueFormats";
import { CLOUD_PROFILES } from "./cloudProfiles";
import type { CoturnSettings, LocalStackConfig, StackConfig, TlsSource } from "./stackConfig";
import type { RawStackConfig } from "./rawStackConfig";
import { effectiveInstanceType, isEphemeral, sizingOf } from "./derivedSettings";
import { ephemeralStack } from "./testStackRules";
import { resolveRateLimits } from "./rateLimits";

/** The settings every stack has; `tls` and `authSecrets` are refined by the callers. */
function assembleCoturnSettings(stack: string, c: ParsedConfigKeys): CoturnSettings {
  const range = parsePortRange(c.relayPorts);
  if (typeof range === "string") throw new Error(`unreachable: relayPorts was validated (${range})`);
  const tls: TlsSource =
    c.tlsMode === "provided"
      ? { mode: "provided", certificateChain: c.tlsCertificate ?? "", privateKey: c.tlsPrivateKey ?? "" }
      : c.tlsMode === "acme"
        ? acmeSettings(c)
        : { mode: "self-signed" };
  return {
    stack,
    domain: c.domain,
    realm: c.realm ?? c.domain,
    relayPorts: range,
    listeners: new Set(c.listeners),
    authSecrets: [c.authSecret, ...c.previousAuthSecrets],
    tls,
    quotas: c.quotas,
  };
}

function acmeSettings(c: ParsedConfigKeys): TlsSource {
  const ca = c.acmeCa ?? (isEphemeral(c) ? "staging" : "production");
  const dnsApiToken = c.acmeDnsApiToken ?? c.cloudflareApiToken;
  if (dnsApiToken === undefined) throw new Error("unreachable: acme keys were validated");
  return { mode: "acme", ...(c.acmeEmail === undefined ? {} : { email: c.acmeEmail }), ca, directoryUrl: ACME_DIRECTORY_URLS[ca], dnsApiToken };
}

/** The typed config of a region stack, from keys that passed validation, with the defaults that depend on other keys. */
export function assembleRegionStack(raw: RawStackConfig, c: ParsedConfigKeys): StackConfig {
  const stack = raw.stack;
  if (c.cloud === LOCAL_CLOUD || c.cloud === GLOBAL_CLOUD) throw new Error("unreachable: local and global stacks are assembled elsewhere");
  const settings = assembleCoturnSettings(stack, c);
  const sizing = sizingOf(c);
  return {
    ...settings,
    // The sized peak with headroom becomes `total-quota` unless the operator set one.
    ...(sizing ? { quotas: { ...settings.quotas, totalAllocations: sizing.totalAllocations } } : {}),
    ...(sizing ? { sizing } : {}),
    cloud: c.cloud,
    region: c.region,
    ...(c.availabilityZone === undefined ? {} : { availabilityZone: c.availabilityZone }),
    instanceType: effectiveInstanceType(c) ?? "",
    image: c.image ?? CLOUD_PROFILES[c.cloud].defaultImage,
    ssh: { allowedCidrs: c.ssh.allowedCidrs, publicKeys: c.ssh.publicKeys },
    rateLimits: resolveRateLimits(c.rateLimits, sizing),
    metrics: { scraperCidrs: c.monitoring.allowedCidrs, ...(c.metricsPassword === undefined ? {} : { password: c.metricsPassword }) },
    tags: c.tags,
    ephemeral: isEphemeral(c) ? ephemeralStack(raw, c.ephemeral) : undefined,
    regionDomain: c.regionDomain ?? `${c.region}.${c.domain}`,
    ...(c.cloudflareZoneId === undefined || c.cloudflareApiToken === undefined
      ? {}
      : { cloudflare: { zoneId: c.cloudflareZoneId, apiToken: c.cloudflareApiToken, publishSharedName: c.publishSharedName } }),
    maxCredentialTtlSeconds: c.maxCredentialTtl,
    serverCount: c.serverCount,
    ...(c.rotation === undefined ? {} : { rotation: c.rotation }),
  };
}

/** The typed config of a local stack, from keys that passed validation. */
export function assembleLocal(stack: string, c: ParsedConfigKeys): LocalStackConfig {
  return {
    ...assembleCoturnSettings(stack, c),
    cloud: LOCAL_CLOUD,
    authSecrets: [c.authSecret],
    tls: { mode: "self-signed" },
  };
}
