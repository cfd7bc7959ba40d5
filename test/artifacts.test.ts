/**
 * Rendered files checked by the real tools that will read them: cloud-init's schema, shellcheck, coturn's own option
 * list, and the Pulumi project schema plus the rules only the Pulumi CLI enforces. These tools come from Debian
 * (scripts/test.sh installs them); a missing tool fails the test with the command that installs it.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "node:test";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import type { DeployCloud } from "../src/config/schema";
import { encodeUserData } from "../src/clouds/userData";
import { STACK_FILE_KEYS, STACKS_DIR, readStackFile } from "../src/config/stackFile";
import { validateGlobalStackConfig, validateLocalStackConfig, validateStackConfig } from "../src/config/validate";
import { isGlobalStack, isLocalStack } from "../src/config/rawStackConfig";
import { withLocalAuthSecret } from "../src/local/localStack";
import { bindAddressFor } from "../src/plan/addresses";
import { certificateNames } from "../src/plan/dns";
import { renderLocalTurnserverConf, renderVm } from "../src/render/vmFiles";
import { DEPLOY_USER, METRICS_READ_COMMAND, OPS_INSTALL_COMMAND, SECRETS_APPLY_COMMAND, TLS_DELIVER_COMMAND } from "../src/render/deployChannel";
import { TEST_SECRET, exampleConfig } from "./support/program";
import { testVmAccess } from "../lab/sshKeys";
import { EXAMPLE_REGION_STACKS } from "../lab/exampleStack";

const ROOT = join(__dirname, "..");

function requireTool(command: string, debianPackage: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${command}`], { encoding: "utf8" });
  assert.equal(found.status, 0, `${command} is not installed: apt-get install -y ${debianPackage} (or run scripts/test.sh)`);
}

function selfSignedPem(): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "pem-"));
  try {
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
      "-subj", "/CN=turn.example.com", "-addext", "subjectAltName=DNS:turn.example.com",
      "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    ], { stdio: "ignore" });
    return { cert: readFileSync(join(dir, "cert.pem"), "utf8"), key: readFileSync(join(dir, "key.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every cloud's example stack, plus a variant of each with every optional file: provided TLS, SSH, previous secrets. */
function variants(): Array<{ name: string; cloud: DeployCloud; rendered: ReturnType<typeof renderVm>; names: string[] }> {
  const pem = selfSignedPem();
  return EXAMPLE_REGION_STACKS.flatMap((stack) => {
    const example = exampleConfig(stack);
    const base = example.values;
    const secretKeys = new Set(example.secretKeys);
    const withoutAcme = Object.fromEntries(Object.entries(base).filter(([key]) => !key.startsWith("coturn:acme")));
    const full = {
      ...withoutAcme,
      "coturn:domain": "turn.example.com",
      "coturn:tlsMode": "provided",
      "coturn:tlsCertificate": pem.cert,
      "coturn:tlsPrivateKey": pem.key,
      "coturn:previousAuthSecrets": JSON.stringify([`${TEST_SECRET}-previous`]),
      "coturn:ssh": JSON.stringify({ allowedCidrs: ["203.0.113.7/32"], publicKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKey ops@example.com"] }),
    };
    const render = (values: Record<string, string>, extraSecrets: string[]): { rendered: ReturnType<typeof renderVm>; names: string[] } => {
      const config = validateStackConfig({ stack, values, secretKeys: new Set([...secretKeys, ...extraSecrets]) });
      return { rendered: renderVm(config, { publicIp: "198.51.100.20", bind: bindAddressFor(config.cloud) }, testVmAccess().access), names: certificateNames(config) };
    };
    const cloud = example.values["coturn:cloud"] as DeployCloud;
    return [
      { name: stack, cloud, ...render(base, []) },
      { name: `${stack}+provided-tls+ssh`, cloud, ...render(full, ["coturn:tlsPrivateKey", "coturn:previousAuthSecrets"]) },
    ];
  });
}

test("every cloud's rendered user-data passes cloud-init's schema check and fits the cloud's limit", () => {
  requireTool("cloud-init", "cloud-init");
  const dir = mkdtempSync(join(tmpdir(), "userdata-"));
  try {
    for (const { name, cloud, rendered, names } of variants()) {
      const file = join(dir, `${name}.yaml`);
      writeFileSync(file, rendered.userData);
      const result = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
      assert.equal(result.status, 0, `${name}: cloud-init schema failed:\n${result.stdout}${result.stderr}`);
      // cloud-init does not report unknown keys: check the top level against what this project means to use.
      const document = parse(rendered.userData) as Record<string, unknown>;
      assert.deepEqual(
        Object.keys(document).filter(
          (k) =>
            !["package_update", "packages", "write_files", "ssh_pwauth", "disable_root", "ssh_deletekeys", "ssh_genkeytypes", "ssh_keys", "users", "runcmd"].includes(k),
        ),
        [],
      );
      // The stack's host key, and no other; each of the deploy user's two keys runs its one command and nothing else.
      const { access } = testVmAccess();
      assert.deepEqual(document.ssh_genkeytypes, ["ed25519"]);
      assert.deepEqual(document.ssh_keys, { ed25519_private: access.hostKey.privateKey, ed25519_public: access.hostKey.publicKey.trim() });
      const users = document.users as Array<{ name: string; ssh_authorized_keys: string[]; sudo?: string }>;
      const deploy = users.find((u) => u.name === DEPLOY_USER);
      assert.deepEqual(
        deploy?.ssh_authorized_keys,
        [
          `restrict,command="${SECRETS_APPLY_COMMAND}" ${access.deployPublicKey.trim()}`,
          `restrict,command="${TLS_DELIVER_COMMAND}" ${access.tlsDeployPublicKey.trim()}`,
          `restrict,command="${METRICS_READ_COMMAND}" ${access.metricsReadPublicKey.trim()}`,
          `restrict,command="${OPS_INSTALL_COMMAND}" ${access.opsDeployPublicKey.trim()}`,
        ],
        name,
      );
      assert.equal(deploy?.sudo, undefined, `${name}: the deploy user gets no general sudo`);
      // One argument for all certificate names: unquoted in a flow sequence, the comma split them and the bootstrap
      // refused its arguments (found by booting the user-data, test/boot.test.ts).
      assert.deepEqual(document.runcmd, [["/usr/local/sbin/coturn-bootstrap", "--certificate-names", names.join(",")]], name);
      // Throws when the variant is over its cloud's limit.
      encodeUserData(cloud, rendered.userData);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a broken user-data is caught by the same check (the check can fail)", () => {
  requireTool("cloud-init", "cloud-init");
  const dir = mkdtempSync(join(tmpdir(), "userdata-"));
  try {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "#cloud-config\nwrite_files:\n  - path: 5\n    permissions: [1]\n");
    assert.notEqual(spawnSync("cloud-init", ["schema", "--config-file", file]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every shell script passes shellcheck", () => {
  requireTool("shellcheck", "shellcheck");
  const scripts = [
    ...readdirSync(join(ROOT, "templates")).filter((f) => f.endsWith(".sh")).map((f) => join(ROOT, "templates", f)),
    ...readdirSync(join(ROOT, "templates", "monitoring")).filter((f) => f.endsWith(".sh")).map((f) => join(ROOT, "templates", "monitoring", f)),
    ...readdirSync(join(ROOT, "scripts")).filter((f) => f.endsWith(".sh")).map((f) => join(ROOT, "scripts", f)),
    join(ROOT, ".ci", "run"),
  ];
  assert.ok(scripts.length >= 3, `expected the bootstrap, test and CI scripts, found ${scripts.join(", ")}`);
  const result = spawnSync("shellcheck", ["--shell=bash", ...scripts], { encoding: "utf8" });
  assert.equal(result.status, 0, result.stdout);
});

test("the VM's copies of the scripts (comments removed for EC2's size limit) keep every code line and pass bash -n and shellcheck", () => {
  requireTool("shellcheck", "shellcheck");
  const dir = mkdtempSync(join(tmpdir(), "vm-scripts-"));
  try {
    const { rendered } = variants().find((v) => v.name.startsWith("digitalocean")) ?? variants()[0];
    const scripts = [...rendered.files, ...rendered.opsFiles].filter((f) => f.content.startsWith("#!/bin/bash"));
    assert.ok(scripts.length >= 8, `expected the bootstrap, secrets, TLS, anchor, operations and monitoring scripts, found ${scripts.map((f) => f.path).join(", ")}`);
    const paths = scripts.map((f, i) => {
      const path = join(dir, `${i}-${basename(f.path)}`);
      writeFileSync(path, f.content);
      // The second line names the template; in a Handlebars one, each {{field}} stands for what was rendered there.
      const name = /^# templates\/(\S+) of coturn-pulumi/.exec(f.content.split("\n")[1] ?? "")?.[1];
      assert.ok(name, `${f.path}: the VM copy does not name its template`);
      const template = readFileSync(join(ROOT, "templates", name), "utf8");
      const code = (text: string): string[] => text.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
      const expected = code(template);
      const actual = code(f.content);
      assert.equal(actual.length, expected.length, `${f.path}: the VM copy must keep every code line of templates/${name}`);
      for (const [k, line] of expected.entries()) {
        const pattern = new RegExp(`^${line.split(/\{\{[^}]+\}\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".+")}$`);
        assert.match(actual[k], pattern, `${f.path}: the VM copy must differ from templates/${name} only in comments`);
      }
      assert.ok(!f.content.split("\n").slice(2).some((l) => l.trim().startsWith("#") && !l.trim().startsWith("# shellcheck ")), `${f.path}: a comment is left`);
      const syntax = spawnSync("bash", ["-n", path], { encoding: "utf8" });
      assert.equal(syntax.status, 0, `${f.path}: ${syntax.stderr}`);
      return path;
    });
    const result = spawnSync("shellcheck", ["--shell=bash", ...paths], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The option names `turnserver --help` lists. */
function knownCoturnOptions(): Set<string> {
  requireTool("turnserver", "coturn");
  const help = spawnSync("turnserver", ["--help"], { encoding: "utf8" });
  const known = new Set([...`${help.stdout}${help.stderr}`.matchAll(/--([a-z0-9][a-z0-9_-]*)/gi)].map((m) => m[1]));
  assert.ok(known.has("denied-peer-ip") && known.has("use-auth-secret"), "could not read turnserver --help");
  return known;
}

/** The option names of a turnserver.conf, in order. */
function optionNames(conf: string): string[] {
  return conf
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"))
    .map((line) => line.split("=")[0].trim());
}

test("the deploy user's sudoers file passes visudo and allows the secrets, TLS and operations delivery commands only", () => {
  requireTool("visudo", "sudo");
  const dir = mkdtempSync(join(tmpdir(), "sudoers-"));
  try {
    for (const { name, rendered } of variants()) {
      const sudoers = rendered.files.find((f) => f.path === `/etc/sudoers.d/${DEPLOY_USER}`);
      assert.ok(sudoers, `${name}: no sudoers file`);
      assert.equal(sudoers.mode, "0440");
      const file = join(dir, "sudoers");
      writeFileSync(file, sudoers.content, { mode: 0o440 });
      const check = spawnSync("visudo", ["-c", "-q", "-f", file], { encoding: "utf8" });
      assert.equal(check.status, 0, `${name}: visudo -c failed: ${check.stdout}${check.stderr}`);
      const rules = sudoers.content.split("\n").filter((l) => l.trim() && !l.startsWith("#"));
      assert.deepEqual(
        rules,
        [SECRETS_APPLY_COMMAND, TLS_DELIVER_COMMAND, OPS_INSTALL_COMMAND].map((command) => `${DEPLOY_USER} ALL=(root) NOPASSWD: ${command.replace(/^sudo -n /, "")}`),
      );
    }
    // The check can fail: a broken rule is refused.
    writeFileSync(join(dir, "broken"), `${DEPLOY_USER} ALL=(root NOPASSWD /bin/true\n`, { mode: 0o440 });
    assert.notEqual(spawnSync("visudo", ["-c", "-q", "-f", join(dir, "broken")]).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every option in the rendered turnserver.conf is one coturn knows", () => {
  const known = knownCoturnOptions();
  for (const { name, rendered } of variants()) {
    const options = optionNames(rendered.turnserverConf);
    assert.ok(options.length > 40, `${name}: only ${options.length} options rendered`);
    for (const option of options) assert.ok(known.has(option), `${name}: turnserver 4.6 does not know "${option}"`);
  }
});

test("every option in a local stack's turnserver.conf is one coturn knows", () => {
  const known = knownCoturnOptions();
  const config = validateLocalStackConfig(withLocalAuthSecret(readStackFile("local", { mode: "placeholder" }), TEST_SECRET));
  const dir = "/tmp/coturn-local-test";
  for (const listenIp of ["127.0.0.1", "192.0.2.10"]) {
    const conf = renderLocalTurnserverConf(config, {
      listenIp,
      certificate: `${dir}/fullchain.pem`,
      privateKey: `${dir}/privkey.pem`,
      logFile: `${dir}/turnserver.log`,
      pidFile: `${dir}/turnserver.pid`,
      userDb: `${dir}/turndb`,
    });
    const options = optionNames(conf);
    assert.ok(options.includes("allowed-peer-ip") && options.includes("userdb"), `${listenIp}: the local block is missing`);
    for (const option of options) assert.ok(known.has(option), `local on ${listenIp}: turnserver 4.6 does not know "${option}"`);
  }
});

test("Pulumi.yaml validates against the Pulumi project schema and the CLI-only rules", () => {
  const schema = JSON.parse(readFileSync(join(__dirname, "fixtures", "pulumi-project.schema.json"), "utf8")) as object;
  const project = parse(readFileSync(join(ROOT, "Pulumi.yaml"), "utf8")) as Record<string, unknown>;
  const validate = new Ajv2020({ strict: false, allErrors: true }).compile(schema);
  assert.ok(validate(project), JSON.stringify(validate.errors, null, 2));
  assert.equal(project.name, "coturn", "config keys live in the project namespace coturn:");
  assert.deepEqual(project.runtime, { name: "nodejs", options: { packagemanager: "npm" } });
  assert.equal(project.stackConfigDir, "stacks");
  for (const [key, spec] of Object.entries((project.config ?? {}) as Record<string, Record<string, unknown>>)) {
    assert.ok(!("default" in spec && "value" in spec), `${key}: default and value together`);
    if (key.includes(":") && !key.startsWith("coturn:")) assert.deepEqual(Object.keys(spec), ["value"], `${key}: value only`);
    if (spec.type === "array") assert.ok("items" in spec, `${key}: arrays need items`);
  }
});

test("each stack file has only the keys Pulumi allows, and valid config", () => {
  const files = readdirSync(STACKS_DIR).filter((f) => /^Pulumi\..+\.yaml$/.test(f));
  assert.ok(files.length >= 1);
  for (const file of files) {
    const document = parse(readFileSync(join(STACKS_DIR, file), "utf8")) as Record<string, unknown>;
    assert.deepEqual(Object.keys(document).filter((k) => !(STACK_FILE_KEYS as readonly string[]).includes(k)), [], file);
    const stack = file.replace(/^Pulumi\.|\.yaml$/g, "");
    const raw = readStackFile(stack, { mode: "placeholder" });
    // A local stack stores no secret: `npm run local` adds a fresh one for each run, as here.
    if (isLocalStack(raw)) assert.doesNotThrow(() => validateLocalStackConfig(withLocalAuthSecret(raw, TEST_SECRET)), file);
    else if (isGlobalStack(raw)) assert.doesNotThrow(() => validateGlobalStackConfig(raw), file);
    else assert.doesNotThrow(() => validateStackConfig(raw), file);
  }
});
