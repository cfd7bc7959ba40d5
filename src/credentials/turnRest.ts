/**
 * Short-lived TURN credentials in coturn's TURN REST API form (`use-auth-secret`): the server holds shared secrets,
 * apps mint a username `<expiry unix seconds>:<user id>` and its password `base64(HMAC-SHA1(secret, username))`.
 * No Pulumi import: apps and operator commands use this module as it is. Its one local import is the lifetime bound
 * from the stack's config, a file with no imports of its own.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { MAX_CREDENTIAL_TTL_SECONDS } from "../config/credentialLifetime";

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
  /** The shared secret the server holds (its `turn_secret` table on a VM, `static-auth-secret` for a local run). */
  readonly secret: string;
  /** Who the credential is for; shows in coturn's logs and counts against its per-user quota. */
  readonly user: string;
  /** Lifetime in seconds. */
  readonly ttlSeconds: number;
  /** Clock to mint against (tests pass a fixed one). Defaults to now. */
  readonly now?: Date;
}

/** Thrown for a request that cannot give a working credential; the message names the field and the fix. */
export class CredentialError extends Error {
  /** Always "CredentialError", so that logs and `instanceof`-free checks can tell it apart. */
  override name = "CredentialError";
}

/** The longest TURN username in bytes: STUN's USERNAME must be fewer than 509 bytes (RFC 8489 §14.3). */
export const MAX_USERNAME_BYTES = 508;

/** Why `ttlSeconds` cannot be a credential lifetime, or undefined when it can (a whole number from 1 to MAX_CREDENTIAL_TTL_SECONDS). */
export function ttlProblem(ttlSeconds: number): string | undefined {
  if (!Number.isInteger(ttlSeconds)) {
    return `ttlSeconds ${String(ttlSeconds)} is not a whole number of seconds: use e.g. 3600 (one hour).`;
  }
  if (ttlSeconds <= 0) {
    return `ttlSeconds ${ttlSeconds} is not positive: a credential must live at least 1 second; use e.g. 3600 (one hour).`;
  }
  if (ttlSeconds > MAX_CREDENTIAL_TTL_SECONDS) {
    return (
      `ttlSeconds ${ttlSeconds} is above ${MAX_CREDENTIAL_TTL_SECONDS} (a day), the longest lifetime this library mints: ` +
      "a leaked credential would work that long. Use e.g. 3600 (one hour)."
    );
  }
  return undefined;
}

/** Why `user` cannot be the user id of a credential, or undefined when it can. */
export function userIdProblem(user: string): string | undefined {
  if (user.length === 0 || user.includes(":") || /[\s\p{Cc}]/u.test(user)) {
    return `user ${JSON.stringify(user)} is not a valid user id: use a non-empty id without ':' or whitespace (coturn splits the username at ':').`;
  }
  // The username adds up to 11 digits of expiry and a ':' in front of the id.
  if (Buffer.byteLength(user, "utf8") > MAX_USERNAME_BYTES - 12) {
    return `user id is ${Buffer.byteLength(user, "utf8")} bytes long; TURN usernames are limited to ${MAX_USERNAME_BYTES} bytes: use a shorter id, e.g. your user's database id.`;
  }
  return undefined;
}

/** Mints a TURN REST credential. Throws CredentialError for an empty secret, a bad lifetime or a bad user id. */
export function mintTurnCredential(request: MintRequest): TurnCredential {
  const { secret, user, ttlSeconds } = request;
  if (typeof secret !== "string" || secret.length === 0) {
    throw new CredentialError("secret is empty: pass the stack's authSecret (coturn:authSecret).");
  }
  const problem = ttlProblem(ttlSeconds) ?? userIdProblem(user);
  if (problem !== undefined) throw new CredentialError(problem);
  const now = request.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new CredentialError("now is an invalid Date: pass a valid clock, or leave it out for the current time.");
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

/** The URLs of one `iceServers` entry, as `RTCIceServer.urls` allows them: one string or a list. */
export interface IceServerUrls {
  /** One URL or several. */
  readonly urls: string | readonly string[];
}

/** What an app passes to get a complete, credentialed `iceServers` array in one call. */
export interface IceServersRequest extends MintRequest {
  /**
   * The stack's credential-less `iceServers` (its `iceServers` stack output, or `iceServersTemplate(config)`). Give
   * this or `urls`, not both.
   */
  readonly template?: readonly IceServerUrls[];
  /** The stack's TURN URLs (its `urls` stack output), served as one `iceServers` entry. Give this or `template`. */
  readonly urls?: readonly string[];
}

/** A minted `iceServers` array and when its credential stops working. */
export interface MintedIceServers {
  /** Ready for `new RTCPeerConnection({ iceServers })`; every entry carries the same credential. */
  readonly iceServers: IceServer[];
  /** The username in every entry (`<expiry>:<user>`). */
  readonly username: string;
  /** When coturn stops accepting the credential (allocations made before keep running). */
  readonly expiresAt: Date;
}

const TURN_URL_SCHEME = /^turns?:[^\s]+$/;

/** The template's entries with their URLs as lists, checked: at least one URL, each a `turn:`/`turns:` URL. */
function normalizedTemplate(request: IceServersRequest): { readonly urls: readonly string[] }[] {
  const { template, urls } = request;
  if (template !== undefined && urls !== undefined) {
    throw new CredentialError("give either template (the stack's iceServers output) or urls (its urls output), not both.");
  }
  let entries: { urls: readonly string[] }[];
  if (urls !== undefined) {
    if (!Array.isArray(urls)) throw new CredentialError("urls is not a list of TURN URLs: pass the stack's urls output (pulumi stack output urls).");
    entries = [{ urls }];
  } else if (template !== undefined) {
    if (!Array.isArray(template)) {
      throw new CredentialError("template is not an iceServers array: pass the stack's iceServers output (pulumi stack output iceServers).");
    }
    entries = template.map((server, i) => {
      const value: unknown = (server as Partial<IceServerUrls> | null)?.urls;
      if (typeof value === "string") return { urls: [value] };
      if (Array.isArray(value)) return { urls: value as readonly string[] };
      throw new CredentialError(`template[${i}] has no urls: each iceServers entry needs { urls: [...] }, as the stack's iceServers output has.`);
    });
  } else {
    throw new CredentialError("no TURN URLs: pass template (the stack's iceServers output) or urls (its urls output).");
  }
  const all = entries.flatMap((e) => e.urls);
  if (all.length === 0) {
    throw new CredentialError("no TURN URLs: the template lists none. Deploy the stack (pulumi up) and pass its iceServers output.");
  }
  for (const url of all) {
    if (typeof url !== "string" || !TURN_URL_SCHEME.test(url)) {
      throw new CredentialError(
        `URL ${JSON.stringify(url)} is not a turn: or turns: URL (e.g. "turn:turn.example.com:3478?transport=udp"): pass the stack's iceServers or urls output.`,
      );
    }
  }
  return entries.filter((e) => e.urls.length > 0);
}

/**
 * Mints one credential and returns the complete `iceServers` array for a stack's URLs: what an app's credential
 * endpoint returns to a browser. Throws CredentialError for an empty secret, a bad lifetime, a bad user id or no URLs.
 *
 * @example
 * const { iceServers, expiresAt } = mintIceServers({ secret, user: session.userId, ttlSeconds: 3600, template });
 */
export function mintIceServers(request: IceServersRequest): MintedIceServers {
  const credential = mintTurnCredential(request);
  const template = normalizedTemplate(request);
  return { iceServers: iceServersWithCredential(template, credential), username: credential.username, expiresAt: credential.expiresAt };
}
