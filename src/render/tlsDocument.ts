/**
 * What `pulumi up` hands `coturn-tls deliver` on the VM (over SSH, see deployChannel.ts), and what it prints back.
 * One JSON document per mode: the ACME settings with the Cloudflare DNS token, a provided chain and key, or the names
 * of a self-signed certificate. Sending it over SSH instead of in user-data keeps the token and key out of the cloud's
 * metadata service, and a new certificate or token reaches the running VM without replacing it. Pure.
 */
import type { ServerConfig } from "../config/stackConfig";
import { certificateNames } from "../plan/dns";

/** The document `coturn-tls deliver` reads on stdin. */
export type TlsDeliveryDocument =
  | { readonly mode: "acme"; readonly names: string[]; readonly email: string; readonly server: string; readonly dnsApiToken: string }
  | { readonly mode: "provided"; readonly certificateChain: string; readonly privateKey: string }
  | { readonly mode: "self-signed"; readonly names: string[] };

/** Builds the delivery document of a stack (it holds secrets in `acme` and `provided` mode). */
export function tlsDeliveryDocument(config: Pick<ServerConfig, "tls" | "regionDomain" | "domain" | "serverDomain">): TlsDeliveryDocument {
  const names = certificateNames(config);
  const tls = config.tls;
  switch (tls.mode) {
    case "acme":
      // An empty email registers the ACME account without a contact address.
      return { mode: "acme", names, email: tls.email ?? "", server: tls.directoryUrl, dnsApiToken: tls.dnsApiToken };
    case "provided":
      return { mode: "provided", certificateChain: tls.certificateChain, privateKey: tls.privateKey };
    case "self-signed":
      return { mode: "self-signed", names };
  }
}

/** The certificate the VM installed and coturn serves, as `coturn-tls deliver` reports it. */
export interface InstalledCertificate {
  /** How it was obtained. */
  readonly mode: "acme" | "provided" | "self-signed";
  /** DNS names (subjectAltName). */
  readonly names: readonly string[];
  /** Expiry, ISO 8601. */
  readonly notAfter: string;
  /** Issuer distinguished name. */
  readonly issuer: string;
  /** SHA-256 fingerprint of the certificate. */
  readonly sha256: string;
}

/** Parses the JSON line `coturn-tls deliver` ends with; throws with the text when it is not one. */
export function parseInstalledCertificate(stdout: string): InstalledCertificate {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let parsed: Partial<Record<keyof InstalledCertificate, unknown>>;
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    throw new Error(`coturn-tls printed no JSON result: ${JSON.stringify(stdout.slice(0, 300))}`);
  }
  const { mode, names, notAfter, issuer, sha256 } = parsed;
  if (
    (mode !== "acme" && mode !== "provided" && mode !== "self-signed") ||
    !Array.isArray(names) ||
    !names.every((n) => typeof n === "string") ||
    typeof notAfter !== "string" ||
    typeof issuer !== "string" ||
    typeof sha256 !== "string"
  ) {
    throw new Error(`coturn-tls printed an unexpected result: ${line}`);
  }
  return { mode, names: names as string[], notAfter, issuer, sha256 };
}
