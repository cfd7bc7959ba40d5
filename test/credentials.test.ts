/**
 * The minting library (src/credentials/turnRest.ts), as apps use it: coturn's TURN REST form checked against a vector
 * computed outside this code, mint/verify round trips on a fixed clock, expiry, a complete iceServers array for a
 * stack's URLs in one call, and a CredentialError with a clear message for every bad input.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { MAX_CREDENTIAL_TTL_SECONDS as MAX_TTL_SECONDS } from "../src/config/credentialLifetime";
import type { Listener } from "../src/config/schema";
import {
  CredentialError,
  iceServersWithCredential,
  mintIceServers,
  mintTurnCredential,
  secretFingerprint,
  turnPassword,
  verifyTurnCredential,
  type IceServersRequest,
} from "../src/credentials/turnRest";
import { iceServersTemplate } from "../src/plan/endpoints";
import { parseIceServers } from "../src/probe/target";

/** 48 characters, like the secrets `npm run rotate` generates. Used only here. */
const SECRET = "Test-vector-secret-0123456789abcdefghijklmnopqrs";
const OTHER_SECRET = "Other-test-secret-abcdefghijklmnopqrstuvwxyz0123";
/** 2026-11-21T09:00:00Z: one hour before the vector's expiry 1795255200 (2026-11-21T10:00:00Z). */
const NOW = new Date("2026-11-21T09:00:00Z");
/** base64(HMAC-SHA1(SECRET, "1795255200:alice")), computed with Python's hmac module, not with this code. */
const VECTOR_PASSWORD = "iqpekPetsB7Hfr4L05nHdLEfrzE=";

const template = (listeners: Listener[]) => iceServersTemplate({ domain: "turn.example.com", listeners: new Set(listeners) });

describe("coturn's TURN REST credential form", () => {
  test("username is <expiry unix seconds>:<user>, password is base64 HMAC-SHA1 of the username under the secret", () => {
    assert.equal(SECRET.length, 48);
    const credential = mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: 3600, now: NOW });
    assert.equal(credential.username, "1795255200:alice");
    assert.equal(credential.credential, VECTOR_PASSWORD);
    assert.equal(turnPassword(SECRET, "1795255200:alice"), VECTOR_PASSWORD);
    assert.equal(credential.expiresAt.toISOString(), "2026-11-21T10:00:00.000Z");
  });

  test("the expiry counts from whole seconds of the clock", () => {
    const credential = mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: 60, now: new Date("2026-11-21T09:00:00.999Z") });
    assert.equal(credential.username, `${Date.parse("2026-11-21T09:01:00Z") / 1000}:alice`);
  });

  test("a fingerprint is the first 16 hex digits of the secret's SHA-256", () => {
    assert.equal(secretFingerprint(SECRET), "ec3f112274b6bec2");
    assert.equal(secretFingerprint(SECRET), createHash("sha256").update(SECRET).digest("hex").slice(0, 16));
    assert.notEqual(secretFingerprint(SECRET), secretFingerprint(OTHER_SECRET));
  });
});

describe("mint and verify on a fixed clock", () => {
  const credential = mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: 3600, now: NOW });
  const at = (iso: string) => new Date(iso);

  test("verifies under its secret until it expires, and not at or after the expiry", () => {
    assert.equal(verifyTurnCredential([SECRET], credential.username, credential.credential, NOW), true);
    assert.equal(verifyTurnCredential([SECRET], credential.username, credential.credential, at("2026-11-21T09:59:59Z")), true);
    assert.equal(verifyTurnCredential([SECRET], credential.username, credential.credential, at("2026-11-21T10:00:00Z")), false);
    assert.equal(verifyTurnCredential([SECRET], credential.username, credential.credential, at("2026-11-22T00:00:00Z")), false);
  });

  test("verifies when its secret is any of the accepted ones (a rotation), and never under another secret", () => {
    assert.equal(verifyTurnCredential([OTHER_SECRET, SECRET], credential.username, credential.credential, NOW), true);
    assert.equal(verifyTurnCredential([OTHER_SECRET], credential.username, credential.credential, NOW), false);
    assert.equal(verifyTurnCredential([], credential.username, credential.credential, NOW), false);
  });

  test("a changed username, a changed password or a username without an expiry does not verify", () => {
    assert.equal(verifyTurnCredential([SECRET], "1795255200:mallory", credential.credential, NOW), false);
    assert.equal(verifyTurnCredential([SECRET], "1895255200:alice", credential.credential, NOW), false);
    assert.equal(verifyTurnCredential([SECRET], credential.username, `${credential.credential.slice(0, -2)}A=`, NOW), false);
    assert.equal(verifyTurnCredential([SECRET], "alice", turnPassword(SECRET, "alice"), NOW), false);
  });

  test("the longest lifetime is a day, and it is accepted", () => {
    const longest = mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: MAX_TTL_SECONDS, now: NOW });
    assert.equal(MAX_TTL_SECONDS, 86400);
    assert.equal(longest.expiresAt.getTime() - NOW.getTime(), 86400_000);
  });
});

describe("mintIceServers: a complete iceServers array in one call", () => {
  test("fills the stack's iceServers with one credential, ready for RTCPeerConnection", () => {
    const minted = mintIceServers({ secret: SECRET, user: "alice", ttlSeconds: 3600, now: NOW, template: template(["udp", "tcp", "tls", "tls-443"]) });
    assert.deepEqual(minted.iceServers, [
      {
        urls: [
          "turn:turn.example.com:3478?transport=udp",
          "turn:turn.example.com:3478?transport=tcp",
          "turns:turn.example.com:5349?transport=tcp",
          "turns:turn.example.com:443?transport=tcp",
        ],
        username: "1795255200:alice",
        credential: VECTOR_PASSWORD,
      },
    ]);
    assert.equal(minted.username, "1795255200:alice");
    assert.equal(minted.expiresAt.toISOString(), "2026-11-21T10:00:00.000Z");
  });

  test("lists turns: on 443 only when tls-443 is on, and never the DTLS URL browsers cannot use", () => {
    const urlsOf = (listeners: Listener[]) =>
      mintIceServers({ secret: SECRET, user: "alice", ttlSeconds: 600, template: template(listeners) }).iceServers.flatMap((s) => s.urls);
    assert.ok(urlsOf(["udp", "tls", "tls-443"]).includes("turns:turn.example.com:443?transport=tcp"));
    assert.ok(!urlsOf(["udp", "tcp", "tls", "dtls"]).some((u) => u.includes(":443")));
    assert.ok(!urlsOf(["udp", "tcp", "tls", "dtls", "tls-443"]).some((u) => u.endsWith("transport=udp") && u.startsWith("turns:")));
  });

  test("takes the urls output instead of a template, and a template entry whose urls is one string", () => {
    const fromUrls = mintIceServers({ secret: SECRET, user: "bob", ttlSeconds: 600, now: NOW, urls: ["turn:203.0.113.9:3478?transport=udp"] });
    assert.deepEqual(fromUrls.iceServers.map((s) => s.urls), [["turn:203.0.113.9:3478?transport=udp"]]);
    const fromString = mintIceServers({ secret: SECRET, user: "bob", ttlSeconds: 600, now: NOW, template: [{ urls: "turn:turn.example.com:3478" }] });
    assert.deepEqual(fromString.iceServers[0].urls, ["turn:turn.example.com:3478"]);
  });

  test("gives the JSON that npm run probe -- --ice-servers reads, and its credential verifies", () => {
    const minted = mintIceServers({ secret: SECRET, user: "alice", ttlSeconds: 600, template: template(["udp", "tcp", "tls"]) });
    const parsed = parseIceServers(JSON.stringify(minted.iceServers), "minted");
    assert.equal(parsed.host, "turn.example.com");
    assert.deepEqual(parsed.transports, ["udp", "tcp", "tls"]);
    assert.equal(verifyTurnCredential([SECRET], parsed.username, parsed.password), true);
  });

  test("iceServersWithCredential keeps working for callers that mint separately", () => {
    const credential = mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: 3600, now: NOW });
    const servers = iceServersWithCredential(template(["udp"]), credential);
    assert.deepEqual(servers, [{ urls: ["turn:turn.example.com:3478?transport=udp"], username: "1795255200:alice", credential: VECTOR_PASSWORD }]);
  });
});

describe("bad inputs give a CredentialError that names the field and the fix", () => {
  const good: IceServersRequest = { secret: SECRET, user: "alice", ttlSeconds: 3600, now: NOW, template: template(["udp"]) };
  // Loosely typed on purpose: apps call this from JavaScript and with outputs read at run time.
  const cases: { name: string; change: Record<string, unknown>; message: RegExp }[] = [
    { name: "empty secret", change: { secret: "" }, message: /^secret is empty: pass the stack's authSecret \(coturn:authSecret\)/ },
    { name: "lifetime 0", change: { ttlSeconds: 0 }, message: /^ttlSeconds 0 is not positive: a credential must live at least 1 second/ },
    { name: "negative lifetime", change: { ttlSeconds: -60 }, message: /^ttlSeconds -60 is not positive/ },
    { name: "fractional lifetime", change: { ttlSeconds: 1.5 }, message: /^ttlSeconds 1\.5 is not a whole number of seconds: use e\.g\. 3600/ },
    { name: "NaN lifetime", change: { ttlSeconds: Number.NaN }, message: /^ttlSeconds NaN is not a whole number of seconds/ },
    { name: "lifetime above a day", change: { ttlSeconds: MAX_TTL_SECONDS + 1 }, message: /^ttlSeconds 86401 is above 86400 \(a day\)/ },
    { name: "empty user", change: { user: "" }, message: /^user "" is not a valid user id: use a non-empty id without ':' or whitespace/ },
    { name: "user with a colon", change: { user: "a:b" }, message: /^user "a:b" is not a valid user id.*coturn splits the username at ':'/ },
    { name: "user with a space", change: { user: "alice smith" }, message: /^user "alice smith" is not a valid user id/ },
    { name: "user with a tab", change: { user: "alice\t" }, message: /^user "alice\\t" is not a valid user id/ },
    { name: "user with a newline", change: { user: "alice\n" }, message: /is not a valid user id/ },
    { name: "user too long for a TURN username", change: { user: "u".repeat(600) }, message: /^user id is 600 bytes long; TURN usernames are limited to 508 bytes/ },
    { name: "no URLs at all", change: { template: undefined }, message: /^no TURN URLs: pass template \(the stack's iceServers output\) or urls/ },
    { name: "an empty template", change: { template: [] }, message: /^no TURN URLs: the template lists none\. Deploy the stack \(pulumi up\)/ },
    { name: "a template entry without URLs", change: { template: [{ urls: [] }] }, message: /^no TURN URLs/ },
    { name: "an empty urls list", change: { template: undefined, urls: [] }, message: /^no TURN URLs/ },
    { name: "both template and urls", change: { urls: ["turn:turn.example.com:3478"] }, message: /^give either template .* or urls .*, not both/ },
    { name: "a URL that is not turn:/turns:", change: { template: [{ urls: ["https://turn.example.com"] }] }, message: /^URL "https:\/\/turn\.example\.com" is not a turn: or turns: URL/ },
    { name: "a secret output in place of the template", change: { template: "[secret]" }, message: /^template is not an iceServers array: pass the stack's iceServers output/ },
    { name: "an entry without urls", change: { template: [{}] }, message: /^template\[0\] has no urls/ },
  ];
  for (const { name, change, message } of cases) {
    test(name, () => {
      const request = { ...good, ...change } as IceServersRequest;
      assert.throws(() => mintIceServers(request), (error: unknown) => {
        assert.ok(error instanceof CredentialError, `expected a CredentialError, got ${String(error)}`);
        assert.match(error.message, message);
        assert.ok(!error.message.includes(SECRET), "the message must not contain the secret");
        return true;
      });
    });
  }

  test("mintTurnCredential refuses the same bad secrets, lifetimes and users", () => {
    for (const change of [{ secret: "" }, { ttlSeconds: 0 }, { ttlSeconds: 2.5 }, { ttlSeconds: MAX_TTL_SECONDS + 1 }, { user: "a:b" }]) {
      assert.throws(() => mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: 60, ...change }), CredentialError);
    }
  });

  test("an invalid clock is refused rather than minting a NaN expiry", () => {
    assert.throws(() => mintTurnCredential({ secret: SECRET, user: "alice", ttlSeconds: 60, now: new Date("nope") }), /now is an invalid Date/);
  });
});
