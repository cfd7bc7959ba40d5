/**
 * How config values are shown in errors without revealing a secret: key material, secret keys, token-like text,
 * secret-looking field names, nested values, the last pass over finished problems, and stack-file YAML errors,
 * whose parser would otherwise quote the file's lines.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSecretLookingName, maskedValue, redactedText, secretKindOf } from "../src/config/valueMasking";
import { secretValuesOf, shownValueAt, withoutSecrets } from "../src/config/configProblems";
import { StackFileError, readStackFile } from "../src/config/stackFile";

const PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIBfakeKeyMaterial\n-----END PRIVATE KEY-----";
const EC_KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIfake\n-----END EC PRIVATE KEY-----";
const OPENSSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n-----END OPENSSH PRIVATE KEY-----";
const CERT = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----";
const PUTTY = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAAfake";
const TOKEN = "Zx9Kq3Lm7Np2Rt5Vw8Yb1Cd4Fg6Hj0Kl3Mn5Pq7R";

test("key material and token-like text are recognized by kind; ordinary values are not", () => {
  assert.equal(secretKindOf(PEM_KEY), "a PEM private key");
  assert.equal(secretKindOf(EC_KEY), "a PEM private key");
  assert.equal(secretKindOf(OPENSSH_KEY), "an OpenSSH private key");
  assert.equal(secretKindOf(CERT), "a PEM certificate");
  assert.equal(secretKindOf(PUTTY), "a PuTTY private key");
  assert.equal(secretKindOf(TOKEN), "text that looks like a secret or token");
  for (const ordinary of ["eu-central-1", "turn.example.com", "023e105f4ecef8ad9ca31a8372d0c353", "organization/coturn/aws-eu-central-1", "49152-65535", "ssh-ed25519 AAAAC3Nza me@laptop"]) {
    assert.equal(secretKindOf(ordinary), undefined, ordinary);
  }
});

test("secret-looking field names, but not public keys or ids", () => {
  for (const name of ["password", "apiToken", "privateKey", "client_secret", "api-key", "passphrase", "sshKey"]) assert.ok(isSecretLookingName(name), name);
  for (const name of ["publicKeys", "team", "cloudflareZoneId", "stack", "allowedCidrs", "monitor"]) assert.ok(!isSecretLookingName(name), name);
});

test("values are shown as JSON, with each secret part replaced by its kind and length", () => {
  assert.equal(maskedValue(undefined, { secretKey: false }), undefined);
  assert.equal(maskedValue("eu-central-1", { secretKey: false }), '"eu-central-1"');
  assert.equal(maskedValue(12, { secretKey: false }), "12");
  assert.equal(maskedValue(PEM_KEY, { secretKey: false }), `(a PEM private key, ${PEM_KEY.length} characters)`);
  assert.equal(maskedValue("hunter2hunter2", { secretKey: true }), "(secret, 14 characters)");
  assert.equal(maskedValue(["a", "b"], { secretKey: true }), "(secret)");
  assert.equal(maskedValue("hunter2hunter2", { secretKey: false, fieldName: "password" }), '(hidden: "password" looks like a secret\'s name, 14 characters)');
  assert.equal(maskedValue("yes", { secretKey: false, fieldName: "password" }), '"yes"', "a very short value is shown");
  assert.equal(
    maskedValue({ team: "media", password: "hunter2hunter2", keys: [OPENSSH_KEY] }, { secretKey: false }),
    `{"team":"media","password":(hidden: "password" looks like a secret's name, 14 characters),"keys":[(an OpenSSH private key, ${OPENSSH_KEY.length} characters)]}`,
  );
});

test("a path's value is masked by its top key and its last field", () => {
  assert.equal(shownValueAt("tlsPrivateKey", "nope"), "(secret, 4 characters)");
  assert.equal(shownValueAt("previousAuthSecrets[1]", "short"), "(secret, 5 characters)");
  assert.equal(shownValueAt("tags.apiToken", "abcdefgh"), '(hidden: "apiToken" looks like a secret\'s name, 8 characters)');
  assert.equal(shownValueAt("tags.team", "media ops"), '"media ops"');
  assert.equal(shownValueAt("ssh.publicKeys[0]", "AAAA me"), '"AAAA me"');
  assert.equal(shownValueAt("regions[0].stack", "organization/coturn/aws-eu-central-1"), '"organization/coturn/aws-eu-central-1"');
});

test("the last pass replaces the stack's secrets and PEM blocks wherever a rule quoted them", () => {
  const raw = {
    stack: "test",
    values: {
      "coturn:authSecret": "correct-horse-battery-staple-tram",
      "coturn:previousAuthSecrets": JSON.stringify(["an-older-secret-kept-for-rotation"]),
      "coturn:other": "x",
      "aws:secretThing": "stored-with-secret-flag",
    },
    secretKeys: new Set(["coturn:authSecret", "coturn:previousAuthSecrets", "aws:secretThing"]),
  };
  assert.deepEqual(
    [...secretValuesOf(raw).entries()].sort(),
    [
      ['["an-older-secret-kept-for-rotation"]', "coturn:previousAuthSecrets"],
      ["an-older-secret-kept-for-rotation", "coturn:previousAuthSecrets"],
      ["correct-horse-battery-staple-tram", "coturn:authSecret"],
      ["stored-with-secret-flag", "aws:secretThing"],
    ],
  );
  const [problem] = withoutSecrets(
    [{ key: "coturn:tags.x", shownValue: '"correct-horse-battery-staple-tram"', message: `becomes "x:an-older-secret-kept-for-rotation" and ${PEM_KEY}` }],
    raw,
  );
  assert.deepEqual(problem, {
    key: "coturn:tags.x",
    shownValue: "(the value of coturn:authSecret, 33 characters)",
    message: `becomes "x:(the value of coturn:previousAuthSecrets, 33 characters)" and (a PEM private key, ${PEM_KEY.length} characters)`,
  });
  assert.equal(redactedText("abc", new Map([["abc", "coturn:authSecret"]])), "abc", "too short to search for");
});

test("a stack file that is not YAML is named with line and column, never with its lines", () => {
  const dir = mkdtempSync(join(tmpdir(), "coturn-yaml-"));
  try {
    const secret = "PlainTextSecretThatMustNotLeak0123456789";
    writeFileSync(join(dir, "Pulumi.bad.yaml"), `config:\n  coturn:authSecret: "${secret}\n  coturn:tlsPrivateKey: ${JSON.stringify(PEM_KEY)}\n`);
    assert.throws(
      () => readStackFile("bad", { mode: "placeholder" }, dir),
      (error: unknown) =>
        error instanceof StackFileError &&
        /is not valid YAML: .* at line \d+, column \d+$/.test(error.message) &&
        !error.message.includes(secret) &&
        !error.message.includes("PRIVATE KEY"),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
