/**
 * Artifacts: the operations files (TLS manager and monitoring, sent over SSH to coturn-ops) checked by the real tools
 * that read them (mtail compiles the program, nft checks the counters' rules), and the rendered installer run for
 * real on a scratch folder: it writes a good set with its modes, changes nothing on a second run, and refuses a set
 * that names any other path before writing a byte.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { MONITORING_PATHS } from "../src/render/monitoringFiles";
import { opsInstallDocument, opsInstallerFile } from "../src/render/opsFiles";
import { renderVm } from "../src/render/vmFiles";
import { bindAddressFor } from "../src/plan/addresses";
import { PLACEHOLDER_ACCESS, EXAMPLE_REGION_STACKS } from "../lab/exampleStack";
import { exampleStackConfig } from "./support/program";

function requireTool(command: string, debianPackage: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
  assert.ok(found, `${command} is missing: apt-get install -y ${debianPackage} (or bash scripts/install-deps.sh)`);
}

function opsFilesOf(stack: string) {
  const config = exampleStackConfig(stack);
  return renderVm(config, { publicIp: "203.0.113.10", bind: bindAddressFor(config.cloud) }, PLACEHOLDER_ACCESS).opsFiles;
}

const STACKS = EXAMPLE_REGION_STACKS;

test("mtail compiles the rendered program, and a broken one is refused (the check can fail)", () => {
  requireTool("mtail", "mtail");
  const dir = mkdtempSync(join(tmpdir(), "mtail-"));
  try {
    const program = opsFilesOf("aws-example").find((f) => f.path === MONITORING_PATHS.mtailProgram)?.content ?? "";
    writeFileSync(join(dir, "coturn.mtail"), program);
    const good = spawnSync("mtail", ["--progs", dir, "--compile_only"], { encoding: "utf8" });
    assert.equal(good.status, 0, good.stderr);
    writeFileSync(join(dir, "coturn.mtail"), program.replace("coturn_starts_total++", "coturn_starts_total+++"));
    assert.notEqual(spawnSync("mtail", ["--progs", dir, "--compile_only"], { encoding: "utf8" }).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("nft accepts every stack's rendered counter rules (nft -c), and refuses a broken copy", () => {
  requireTool("nft", "nftables");
  const dir = mkdtempSync(join(tmpdir(), "nft-"));
  try {
    for (const stack of STACKS) {
      const rules = opsFilesOf(stack).find((f) => f.path === MONITORING_PATHS.accountingRules)?.content ?? "";
      assert.match(rules, /counter name relay_in/);
      writeFileSync(join(dir, "rules.nft"), rules);
      const checked = spawnSync("nft", ["-c", "-f", join(dir, "rules.nft")], { encoding: "utf8" });
      assert.equal(checked.status, 0, `${stack}: ${checked.stderr}`);
      // Counting only: no rule drops, rejects or changes a packet.
      const statements = rules.split("\n").filter((line) => !line.trim().startsWith("#")).join("\n");
      assert.doesNotMatch(statements, /\b(drop|reject|dnat|snat|masquerade|redirect)\b/);
    }
    writeFileSync(join(dir, "rules.nft"), "table inet coturn_accounting { chain x { type filter hook input priority filter; udp dport 3478 counter name missing_in } }\n");
    assert.notEqual(spawnSync("nft", ["-c", "-f", join(dir, "rules.nft")], { encoding: "utf8" }).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("coturn-ops installs a set with its modes, changes nothing the second time, and refuses a foreign path before writing", () => {
  requireTool("jq", "jq");
  const dir = mkdtempSync(join(tmpdir(), "coturn-ops-"));
  try {
    const installer = join(dir, "coturn-ops");
    writeFileSync(installer, opsInstallerFile().content, { mode: 0o755 });
    const marker = join(dir, "bootstrapped");
    writeFileSync(marker, "");
    const root = join(dir, "root");
    const run = (input: string) =>
      spawnSync(installer, ["install"], { input, encoding: "utf8", env: { ...process.env, COTURN_OPS_ROOT: root, COTURN_READY_MARKER: marker } });
    const files = opsFilesOf("aws-example");
    const first = run(opsInstallDocument(files));
    assert.equal(first.status, 0, first.stderr);
    assert.deepEqual({ ...JSON.parse(first.stdout), sha256: undefined }, { files: files.length, changed: files.length, sha256: undefined });
    for (const file of files) {
      assert.equal(readFileSync(join(root, file.path), "utf8"), file.content, file.path);
      assert.equal((statSync(join(root, file.path)).mode & 0o777).toString(8).padStart(4, "0"), file.mode, `${file.path} mode`);
    }
    const again = run(opsInstallDocument(files));
    assert.equal(JSON.parse(again.stdout).changed, 0, "the same set changes nothing");

    const foreign = run(opsInstallDocument([...files.slice(0, 2), { path: "/etc/sudoers.d/evil", mode: "0440", group: "root", purpose: "", content: "ALL ALL=(ALL) NOPASSWD: ALL\n" }]));
    assert.equal(foreign.status, 1);
    assert.match(foreign.stderr, /refusing the whole set: \/etc\/sudoers\.d\/evil is not an operations file/);
    assert.ok(!existsSync(join(root, "etc/sudoers.d/evil")));
    for (const [input, message] of [
      ["not json", /not an operations file set/],
      [JSON.stringify({ files: [{ ...files[0], mode: "4755" }] }), /mode '4755'/],
      [JSON.stringify({ files: [{ ...files[0], group: "sudo" }] }), /group 'sudo'/],
    ] as const) {
      const refused = run(input);
      assert.equal(refused.status, 1, String(input).slice(0, 40));
      assert.match(refused.stderr, message);
    }
    assert.equal(spawnSync(installer, ["apply"], { encoding: "utf8" }).status, 1, "only `install`");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
