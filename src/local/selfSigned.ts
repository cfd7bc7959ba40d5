/**
 * The self-signed certificate a local run serves `turns:` with, made by the `openssl` CLI for each run: EC P-256,
 * naming the listening address, `localhost` and the stack's domain. Browsers reject it unless told to trust its key,
 * which `chromiumSpkiFlag` spells out for Chromium.
 */
import { spawnSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Days the certificate is valid: longer than any run, short enough to be useless if it leaks. */
export const SELF_SIGNED_DAYS = 30;

/** A certificate and key written for one run. */
export interface SelfSignedCertificate {
  /** Path of the PEM certificate. */
  readonly certificate: string;
  /** Path of the PEM private key (mode 0600). */
  readonly privateKey: string;
  /** base64 SHA-256 of the certificate's DER SubjectPublicKeyInfo (what Chromium's SPKI allow list takes). */
  readonly spkiSha256: string;
}

/** Thrown when openssl is missing or fails; the message says what to do. */
export class SelfSignedError extends Error {
  override name = "SelfSignedError";
}

/** Writes `fullchain.pem` and `privkey.pem` into `dir` for `listenIp`, `localhost` and `domain`. */
export function makeSelfSignedCertificate(dir: string, listenIp: string, domain: string): SelfSignedCertificate {
  const certificate = join(dir, "fullchain.pem");
  const privateKey = join(dir, "privkey.pem");
  const names = [`IP:${listenIp}`, "DNS:localhost", `DNS:${domain}`];
  const result = spawnSync(
    "openssl",
    [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-days", String(SELF_SIGNED_DAYS), "-subj", `/CN=${domain}`, "-addext", `subjectAltName=${names.join(",")}`,
      "-keyout", privateKey, "-out", certificate,
    ],
    { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
  );
  if (result.error && (result.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new SelfSignedError("openssl is not installed: sudo apt-get install -y openssl (Debian/Ubuntu), or run bash scripts/install-deps.sh local");
  }
  if (result.status !== 0) {
    throw new SelfSignedError(`openssl could not make the self-signed certificate (exit ${String(result.status ?? result.signal)}): ${result.stderr.trim()}`);
  }
  chmodSync(privateKey, 0o600);
  return { certificate, privateKey, spkiSha256: spkiSha256(readFileSync(certificate, "utf8")) };
}

/** base64 SHA-256 of a PEM certificate's DER-encoded SubjectPublicKeyInfo. */
export function spkiSha256(certificatePem: string): string {
  const spki = new X509Certificate(certificatePem).publicKey.export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

/** The Chromium command-line flag that makes it accept a certificate with this key (for `turns:` to a local run). */
export function chromiumSpkiFlag(spkiSha256Base64: string): string {
  return `--ignore-certificate-errors-spki-list=${spkiSha256Base64}`;
}
