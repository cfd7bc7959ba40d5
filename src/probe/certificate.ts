/**
 * The certificate a `turns:` listener serves, read the way a browser judges it: one TLS handshake that reads the
 * certificate whether or not it is trusted, then the checks that decide whether browsers will use it (a trusted chain,
 * a subjectAltName naming the host they connect to) and the renewal margin an operator needs.
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { withTimeout } from "./turnClient";

/** Certificates with fewer whole days left than this fail by default: renewal should have happened long before. */
export const DEFAULT_MIN_CERTIFICATE_DAYS = 14;

const DAY_MS = 86_400_000;

/** Where to read a certificate from. */
export interface CertificateSource {
  /** Host name or IP to connect to. */
  readonly host: string;
  /** TLS port. */
  readonly port: number;
  /** `ca` to trust a private CA or self-signed certificate; `servername` for SNI and the name check (default: `host`). */
  readonly tls: Pick<ConnectionOptions, "ca" | "servername">;
  /** Bound on the handshake, ms. */
  readonly timeoutMs: number;
}

/** The served certificate as the probe reports it (also the `certificate` field of the `--json` output). */
export interface ServedCertificate {
  /** The name the probe connected as (`servername`, else the host) and checked the certificate against. */
  readonly connectedAs: string;
  /** Negotiated protocol, e.g. `TLSv1.3`. */
  readonly protocol: string;
  /** The chain verifies against the trusted CAs (the system's, or `ca`). */
  readonly trusted: boolean;
  /** Why the chain does not verify (OpenSSL's code, e.g. `DEPTH_ZERO_SELF_SIGNED_CERT`); absent when trusted. */
  readonly trustError?: string;
  /** subjectAltName DNS names, in certificate order. */
  readonly names: readonly string[];
  /** subjectAltName IP addresses, in certificate order. */
  readonly ipAddresses: readonly string[];
  /** A subjectAltName entry covers `connectedAs` (the subject CN does not count, as in browsers). */
  readonly namesHost: boolean;
  /** Issuer distinguished name, comma-separated. */
  readonly issuer: string;
  /** End of validity, ISO 8601. */
  readonly notAfter: string;
  /** Whole days until `notAfter` (rounded down; negative once expired). */
  readonly daysLeft: number;
}

/** How strictly to judge a served certificate. */
export interface CertificatePolicy {
  /** Fewer whole days left than this fails. */
  readonly minDays: number;
  /** Whether an untrusted chain fails (false for `--insecure-tls`). */
  readonly requireTrust: boolean;
}

/** Plain words for the OpenSSL verification codes a misconfigured TURN server typically earns. */
const TRUST_ERRORS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "its root CA is not trusted here",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "its issuer is not trusted here",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the chain does not reach a trusted CA: serve fullchain.pem, not cert.pem",
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not valid yet: check the server's clock",
};

/** SNI must be a name, never an IP address (RFC 6066). */
function sniName(host: string): string | undefined {
  return isIP(host) === 0 ? host : undefined;
}

/**
 * Handshakes with a TLS listener and reads its certificate without trusting it: nothing is sent over the connection,
 * which is closed at once, so an untrusted certificate can still be reported. Rejects when the handshake fails or no
 * certificate comes.
 */
export async function inspectCertificate(source: CertificateSource, now: number = Date.now()): Promise<ServedCertificate> {
  const connectedAs = source.tls.servername ?? source.host;
  const socket = connect({
    host: source.host,
    port: source.port,
    ca: source.tls.ca,
    servername: source.tls.servername ?? sniName(source.host),
    // Trust is read from `authorized` and the name checked below, so that every failure still shows the certificate.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
  });
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once("secureConnect", resolve);
        socket.once("error", reject);
      }),
      source.timeoutMs,
      "TLS handshake",
    );
    const peer = socket.getPeerX509Certificate();
    if (!peer) throw new Error("the server sent no certificate");
    return describeServed(peer, connectedAs, socket, now);
  } finally {
    socket.destroy();
  }
}

function describeServed(certificate: X509Certificate, connectedAs: string, socket: TLSSocket, now: number): ServedCertificate {
  const notAfter = Date.parse(certificate.validTo);
  const names = subjectAltNames(certificate.subjectAltName);
  return {
    connectedAs,
    protocol: socket.getProtocol() ?? "unknown",
    trusted: socket.authorized,
    ...(socket.authorized ? {} : { trustError: authorizationCode(socket) }),
    names: names.filter((n) => n.kind === "DNS").map((n) => n.value),
    ipAddresses: names.filter((n) => n.kind === "IP Address").map((n) => n.value),
    namesHost: namesHost(certificate, connectedAs),
    issuer: certificate.issuer.split("\n").reverse().join(", "),
    notAfter: new Date(notAfter).toISOString(),
    daysLeft: Math.floor((notAfter - now) / DAY_MS),
  };
}

/** Node types `authorizationError` as an Error, but sets OpenSSL's code string. */
function authorizationCode(socket: TLSSocket): string {
  const reason: unknown = socket.authorizationError;
  if (typeof reason === "string") return reason;
  if (reason instanceof Error) return (reason as NodeJS.ErrnoException).code ?? reason.message;
  return "unknown reason";
}

/** Whether a subjectAltName entry covers the host, as browsers match: no subject CN, no partial-label wildcards. */
function namesHost(certificate: X509Certificate, host: string): boolean {
  if (isIP(host) !== 0) return certificate.checkIP(host) !== undefined;
  return certificate.checkHost(host, { subject: "never", wildcards: true, partialWildcards: false }) !== undefined;
}

/** One subjectAltName entry, e.g. `{ kind: "DNS", value: "turn.example.com" }`. */
export interface AltName {
  /** Entry type as Node prints it: `DNS`, `IP Address`, `email`, `URI`, … */
  readonly kind: string;
  /** The name or address. */
  readonly value: string;
}

/** Parses Node's subjectAltName text (`DNS:a, IP Address:1.2.3.4`; values with special characters are JSON-quoted). */
export function subjectAltNames(text: string | undefined): AltName[] {
  const entries: AltName[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  for (let match = entry.exec(text ?? ""); match && match[0] !== ""; match = entry.exec(text ?? "")) {
    const [, kind, raw] = match;
    entries.push({ kind, value: raw.startsWith('"') ? (JSON.parse(raw) as string) : raw });
  }
  return entries;
}

/** What the certificate is, for the report: protocol, trust, names, issuer and expiry. */
export function describeCertificate(certificate: ServedCertificate, policy: CertificatePolicy): string {
  const trust = certificate.trusted ? "trusted" : policy.requireTrust ? "NOT trusted" : "not verified (--insecure-tls)";
  const names = [...certificate.names, ...certificate.ipAddresses.map((ip) => `IP ${ip}`)];
  return (
    `${certificate.protocol}, ${trust}, names ${names.length > 0 ? names.join(" ") : "(none)"}, issuer ${certificate.issuer}, ` +
    `expires ${certificate.notAfter} (${certificate.daysLeft} days left)`
  );
}

/** Why browsers would refuse the certificate, or why it needs renewing now; empty when it passes. */
export function certificateProblems(certificate: ServedCertificate, policy: CertificatePolicy): string[] {
  const problems: string[] = [];
  const expired = certificate.trustError === "CERT_HAS_EXPIRED" || certificate.daysLeft < 0;
  if (!certificate.trusted && policy.requireTrust && certificate.trustError !== "CERT_HAS_EXPIRED") {
    const reason = TRUST_ERRORS[certificate.trustError ?? ""] ?? certificate.trustError;
    problems.push(`not trusted (${reason}): browsers will refuse it (for your own private CA or a test certificate, pass --ca <file>)`);
  }
  if (!certificate.namesHost) {
    const names = [...certificate.names, ...certificate.ipAddresses];
    problems.push(
      `does not name ${certificate.connectedAs} (it names ${names.length > 0 ? names.join(", ") : "nothing in subjectAltName; the subject CN does not count"}): ` +
        `browsers will refuse turns: to ${certificate.connectedAs}; reissue it for that name, or probe a name it covers`,
    );
  }
  if (expired) problems.push(`expired on ${certificate.notAfter}: renew now`);
  else if (certificate.daysLeft < policy.minDays) {
    problems.push(`${certificate.daysLeft} days left is under the ${policy.minDays}-day minimum: renew now (automatic renewal may be failing)`);
  }
  return problems;
}
