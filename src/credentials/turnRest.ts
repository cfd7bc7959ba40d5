/**
 * Short-lived TURN credentials in coturn's TURN REST API form (`use-auth-secret`): the server holds shared secrets,
 * apps mint a username `<expiry unix seconds>:<user id>` and its password `base64(HMAC-SHA1(secret, username))`.
 * No Pulumi import: apps and operator commands use this module as it is.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** A credential as an app hands it to a browser (`RTCIceServer.username` / `.credential`). */
export interface TurnCredential {
  /** `<expiry unix seconds>:<user id>`. */
  readonly username: string;
  /** base64 HMAC-SHA1 of the username under the shared secret. */
  readonly credential: string;
  /** When coturn stops accepting it. */
  readonly expiresAt: Date;
}

/** What to mint a credential for. */
export interface MintRequest {
  /** The shared secret the server holds (`static-auth-secret`). */
  readonly secret: string;
  /** Who the credential is for; shows in coturn's logs and counts against its per-user quota. */
  readonly user: string;
  /** Lifetime in seconds. */
  readonly ttlSeconds: number;
  /** Clock to mint against (tests pass a fixed one). Defaults to now. */
  readonly now?: Date;
}

/** A day: longer-lived credentials defeat the point of expiring them (they leak with the app's network logs). */
export const MAX_TTL_SECONDS = 24 * 60 * 60;

/** Thrown for a request that cannot give a working credential; the message names the field and the fix. */
export class CredentialError extends Error {
  override name = "CredentialError";
}

/** Mints a TURN REST credential. Throws CredentialError for an empty secret, a bad lifetime or a bad user id. */
export function mintTurnCredential(request: MintRequest): TurnCredential {
  const { secret, user, ttlSeconds } = request;
  if (secret.length === 0) throw new CredentialError("secret is empty: pass the stack's authSecret (coturn:authSecret).");
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS) {
    throw new CredentialError(
      `ttlSeconds ${String(ttlSeconds)} is not a whole number of seconds between 1 and ${MAX_TTL_SECONDS}: use e.g. 3600 (one hour).`,
    );
  }
  if (user.length === 0 || user.includes(":") || /[\s\p{Cc}]/u.test(user)) {
    throw new CredentialError(
      `user ${JSON.stringify(user)} is not a valid user id: use a non-empty id without ':' or whitespace (coturn splits the username at ':').`,
    );
  }
  const now = request.now ?? new Date();
  const expiry = Math.floor(now.getTime() / 1000) + ttlSeconds;
  const username = `${expiry}:${user}`;
  return { username, credential: turnPassword(secret, username), expiresAt: new Date(expiry * 1000) };
}

/** Hex characters of a secret's fingerprint. */
export const FINGERPRINT_LENGTH = 16;

/**
 * A short, public name for a secret: the first 16 hex digits of its SHA-256 (64 bits, computed the same way by the
 * VM's coturn-secrets script). Safe to print and to keep in outputs: the secrets are 32+ random characters, so the
 * fingerprint cannot be reversed or guessed from.
 */
export function secretFingerprint(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex").slice(0, FINGERPRINT_LENGTH);
}

/** The password coturn expects for a REST username under a secret. */
export function turnPassword(secret: string, username: string): string {
  return createHmac("sha1", secret).update(username).digest("base64");
}

/** True when `credential` is the password for `username` under one of `secrets` and has not expired at `now`. */
export function verifyTurnCredential(
  secrets: readonly string[],
  username: string,
  credential: string,
  now: Date = new Date(),
): boolean {
  const expiry = Number(username.split(":", 1)[0]);
  if (!Number.isInteger(expiry) || expiry * 1000 <= now.getTime()) return false;
  const given = Buffer.from(credential);
  return secrets.some((secret) => {
    const expected = Buffer.from(turnPassword(secret, username));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}

/** An RTCIceServer entry with credentials, ready for `new RTCPeerConnection({ iceServers })`. */
export interface IceServer {
  /** TURN URLs of one server. */
  readonly urls: readonly string[];
  /** Minted username. */
  readonly username: string;
  /** Minted password. */
  readonly credential: string;
}

/** Fills an `iceServers` template (URLs only) with one minted credential. */
export function iceServersWithCredential(
  template: ReadonlyArray<{ readonly urls: readonly string[] }>,
  credential: TurnCredential,
): IceServer[] {
  return template.map((server) => ({ urls: [...server.urls], username: credential.username, credential: credential.credential }));
}
