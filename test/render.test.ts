/**
 * The rendered files of the example stack against reviewed golden files, the render command itself, and reading
 * passphrase-encrypted stack files.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { newEncryptionSalt, openPassphraseSecrets } from "../src/config/passphraseSecrets";
import { readStackFile } from "../src/config/stackFile";
import { previewStack } from "../src/render/preview";

const ROOT = join(__dirname, "..");

function matchesGolden(stack: string, name: string, actual: string): void {
  const file = join(__dirname, "golden", stack, name);
  if (process.env.UPDATE_GOLDEN === "1") writeFileSync(file, actual);
  assert.ok(existsSync(file), `missing golden file ${file}; create it with UPDATE_GOLDEN=1 and review it`);
  assert.equal(actual, readFileSync(file, "utf8"), `${name} differs from its golden file (UPDATE_GOLDEN=1 after review)`);
}

for (const stack of ["aws-example", "gcp-example", "digitalocean-example"]) {
  test(`${stack} renders exactly the reviewed golden turnserver.conf and user-data`, () => {
    const preview = previewStack(stack, { mode: "placeholder" });
    const conf = preview.files.find((f) => f.path === "/etc/turnserver.conf");
    assert.ok(conf);
    matchesGolden(stack, "turnserver.conf", conf.content);
    matchesGolden(stack, "user-data.yaml", preview.userData);
    assert.match(preview.userData, /static-auth-secret=<secret coturn:authSecret>/);
  });
}

function render(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "scripts", "render.ts"), ...args], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("npm run render writes every VM file with placeholders and a table of what it wrote", () => {
  const out = mkdtempSync(join(tmpdir(), "render-"));
  try {
    const result = render(["--stack", "aws-example", "--out", out]);
    assert.equal(result.status, 0, result.stderr);
    const preview = previewStack("aws-example", { mode: "placeholder" });
    assert.equal(readFileSync(join(out, "user-data.yaml"), "utf8"), preview.userData);
    for (const file of preview.files) {
      const written = join(out, "rootfs", file.path);
      assert.equal(readFileSync(written, "utf8"), file.content, file.path);
      assert.equal((statSync(written).mode & 0o777).toString(8).padStart(4, "0"), file.mode, file.path);
    }
    assert.match(result.stdout, /^file\s+mode on VM\s+bytes\s+purpose$/m);
    assert.match(result.stdout, /rootfs\/etc\/turnserver\.conf\s+0640/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("render refuses bad flags, unknown stacks and missing passphrases with a clear message", () => {
  const bogus = render(["--stack", "aws-example", "--out", "x", "--bogus"]);
  assert.equal(bogus.status, 2);
  assert.match(bogus.stderr, /Unknown option '--bogus'[\s\S]*usage: npm run render/);
  const noOut = render(["--stack", "aws-example"]);
  assert.equal(noOut.status, 2);
  assert.match(noOut.stderr, /--out is required/);
  const missing = render(["--stack", "no-such-stack", "--out", "x"]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Pulumi\.no-such-stack\.yaml: no such stack file\. Create the stack with: pulumi stack init no-such-stack/);
  const noPassphrase = render(["--stack", "aws-example", "--out", "x", "--reveal-secrets"], { PULUMI_CONFIG_PASSPHRASE: "" });
  assert.equal(noPassphrase.status, 1);
  assert.match(noPassphrase.stderr, /cannot open its secrets: incorrect passphrase/);
});

test("render refuses a local stack and says what runs it", () => {
  const local = render(["--stack", "local", "--out", "x"]);
  assert.equal(local.status, 1);
  assert.match(
    local.stderr,
    /Pulumi\.local\.yaml: has coturn:cloud local, which puts no files on a VM\. Run it with `npm run local`/,
  );
  assert.ok(!existsSync("x"), "nothing may be written for a local stack");
});

test("passphrase secrets round-trip, and a wrong passphrase is refused as the CLI does", () => {
  const { encryptionSalt, crypter } = newEncryptionSalt("correct horse");
  assert.match(encryptionSalt, /^v1:[A-Za-z0-9+/=]+:v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
  const sealed = crypter.encrypt("s3cret-value");
  assert.equal(openPassphraseSecrets("correct horse", encryptionSalt).decrypt(sealed), "s3cret-value");
  assert.throws(() => openPassphraseSecrets("wrong horse", encryptionSalt), /incorrect passphrase/);
});

test("--reveal-secrets renders a passphrase stack's real secret; without it the secret never appears", () => {
  const dir = mkdtempSync(join(tmpdir(), "stacks-"));
  try {
    const secret = "UmV2ZWFsLXRlc3Qtc2VjcmV0LWZvci1jb3R1cm4tcHVsdW1p";
    const { encryptionSalt, crypter } = newEncryptionSalt("pass phrase");
    const example = readFileSync(join(ROOT, "stacks", "Pulumi.aws-example.yaml"), "utf8")
      .replace(/^encryptionsalt: .*$/m, `encryptionsalt: ${encryptionSalt}`)
      .replace(/secure: v1:.*$/m, `secure: ${crypter.encrypt(secret)}`);
    writeFileSync(join(dir, "Pulumi.reveal.yaml"), example);
    const revealed = readStackFile("reveal", { mode: "reveal", passphrase: "pass phrase" }, dir);
    assert.equal(revealed.values["coturn:authSecret"], secret);
    assert.ok(revealed.secretKeys.has("coturn:authSecret"));
    assert.equal(revealed.opaqueKeys?.size, 0);
    const hidden = readStackFile("reveal", { mode: "placeholder" }, dir);
    assert.ok(!JSON.stringify(hidden.values).includes(secret));
    assert.throws(() => readStackFile("reveal", { mode: "reveal", passphrase: "nope" }, dir), /incorrect passphrase/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the render command needs no Pulumi CLI and no cloud credentials", () => {
  const out = mkdtempSync(join(tmpdir(), "render-"));
  try {
    const result = render(["--stack", "aws-example", "--out", out], {
      PATH: "/usr/bin:/bin",
      AWS_ACCESS_KEY_ID: "",
      AWS_SECRET_ACCESS_KEY: "",
      AWS_PROFILE: "",
    });
    assert.equal(result.status, 0, result.stderr);
    assert.throws(() => execFileSync("pulumi", ["version"], { env: { PATH: "/usr/bin:/bin" }, stdio: "ignore" }));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
