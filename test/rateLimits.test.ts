/**
 * The per-source limits without a network: the defaults and how coturn:capacity scales them, the numbers the rendered
 * nftables rules carry for every example stack (checked by nft itself), that no rule can touch the relay range or
 * established connections, and the delivery order (before the TURN secrets). The limits at work are in
 * test/rateLimitsLab.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connectionBase, resolveRateLimits, DEFAULT_CONNECTIONS_PER_SOURCE } from "../src/config/rateLimits";
import { RATE_LIMIT_NAMES, RATE_LIMIT_PATHS, RATE_LIMIT_UNIT, rateLimitRules } from "../src/render/rateLimitFiles";
import { OPS_UNITS } from "../src/render/opsFiles";
import { renderVm, vmFile } from "../src/render/vmFiles";
import { bindAddressFor } from "../src/plan/addresses";
import { PLACEHOLDER_ACCESS, EXAMPLE_REGION_STACKS } from "../lab/exampleStack";
import { exampleStackConfig } from "./support/program";

const STACKS = EXAMPLE_REGION_STACKS;

test("defaults: a base of 1,000 connections per address, and what follows from it", () => {
  assert.deepEqual(resolveRateLimits({ exemptCidrs: [] }, undefined), {
    tcpConnectionsPerSource: 1000,
    tcpNewConnectionsPerSecond: 50,
    tcpNewConnectionsBurst: 250,
    udpRequestsPerSecond: 200,
    udpRequestsBurst: 2000,
    sshNewConnectionsPerMinute: 20,
    exemptCidrs: [],
    basis: "default",
  });
  assert.equal(DEFAULT_CONNECTIONS_PER_SOURCE, 1000);
});

test("coturn:capacity scales the base to the sized allocations per server, from 256 to 4,096", () => {
  assert.deepEqual(connectionBase({ allocationsPerServer: 40 }), { base: 256, basis: "capacity" });
  assert.deepEqual(connectionBase({ allocationsPerServer: 1999.2 }), { base: 2000, basis: "capacity" });
  assert.deepEqual(connectionBase({ allocationsPerServer: 50_000 }), { base: 4096, basis: "capacity" });
  const small = resolveRateLimits({ exemptCidrs: [] }, { allocationsPerServer: 40 });
  assert.deepEqual(
    [small.tcpConnectionsPerSource, small.tcpNewConnectionsPerSecond, small.tcpNewConnectionsBurst, small.udpRequestsPerSecond, small.udpRequestsBurst],
    [256, 20, 64, 100, 512],
    "floors keep a small region usable",
  );
  const large = resolveRateLimits({ exemptCidrs: [] }, { allocationsPerServer: 4000 });
  assert.deepEqual([large.tcpConnectionsPerSource, large.tcpNewConnectionsPerSecond, large.udpRequestsBurst], [4000, 200, 8000]);
});

test("a set number wins; an unset burst follows its set rate", () => {
  const limits = resolveRateLimits({ tcpNewConnectionsPerSecond: 400, udpRequestsPerSecond: 5000, sshNewConnectionsPerMinute: 60, exemptCidrs: ["203.0.113.7/32"] }, undefined);
  assert.equal(limits.tcpNewConnectionsPerSecond, 400);
  assert.equal(limits.tcpNewConnectionsBurst, 400, "at least the rate");
  assert.equal(limits.udpRequestsBurst, 5000);
  assert.equal(limits.sshNewConnectionsPerMinute, 60);
  assert.deepEqual(limits.exemptCidrs, ["203.0.113.7/32"]);
});

test("every stack's rendered limits carry its numbers, pass nft -c, and a broken copy does not", () => {
  const nft = spawnSync("sh", ["-c", "command -v nft"]);
  assert.equal(nft.status, 0, "nft is missing: apt-get install -y nftables (or bash scripts/install-deps.sh)");
  const dir = mkdtempSync(join(tmpdir(), "limits-"));
  try {
    for (const stack of STACKS) {
      const config = exampleStackConfig(stack);
      const vm = renderVm(config, { publicIp: "203.0.113.10", bind: bindAddressFor(config.cloud) }, PLACEHOLDER_ACCESS);
      const rules = vmFile(vm, RATE_LIMIT_PATHS.rules);
      const l = config.rateLimits;
      assert.ok(rules.includes(`limit rate over ${l.udpRequestsPerSecond}/second burst ${l.udpRequestsBurst} packets`), `${stack}: UDP requests`);
      assert.ok(rules.includes(`limit rate over ${l.tcpNewConnectionsPerSecond}/second burst ${l.tcpNewConnectionsBurst} packets`), `${stack}: new connections`);
      assert.ok(rules.includes(`ct count over ${l.tcpConnectionsPerSource}`), `${stack}: concurrent connections`);
      assert.ok(rules.includes(`limit rate over ${l.sshNewConnectionsPerMinute}/minute`), `${stack}: SSH`);
      for (const name of RATE_LIMIT_NAMES) assert.ok(rules.includes(`counter ${name}_dropped {}`), `${stack}: counter of ${name}`);
      writeFileSync(join(dir, "rules.nft"), rules);
      const checked = spawnSync("nft", ["-c", "-f", join(dir, "rules.nft")], { encoding: "utf8" });
      assert.equal(checked.status, 0, `${stack}: ${checked.stderr}`);
      // Media is never limited: no rule names the relay range, and TCP is looked at only when a connection is new.
      const statements = rules.split("\n").filter((line) => !line.trim().startsWith("#")).join("\n");
      assert.ok(!statements.includes(String(config.relayPorts.min)) && !statements.includes(String(config.relayPorts.max)), `${stack}: the relay range`);
      assert.match(statements, /ct state != new accept\n\s*ip saddr @exempt accept\n\s*tcp dport/);
    }
    const config = exampleStackConfig("aws-example");
    const exempted = rateLimitRules({ stack: config.stack, rateLimits: { ...config.rateLimits, exemptCidrs: ["198.51.100.0/24", "203.0.113.7/32"] } });
    assert.match(exempted, /elements = \{ 198\.51\.100\.0\/24, 203\.0\.113\.7\/32 \}/);
    assert.match(exempted, /defaults from a base of 1,000 connections per address/);
    const sized = rateLimitRules({ stack: config.stack, rateLimits: resolveRateLimits({ exemptCidrs: [] }, { allocationsPerServer: 3000 }) });
    assert.match(sized, /defaults from the allocations one server holds at the sized peak/);
    assert.match(sized, /ct count over 3000 /);
    writeFileSync(join(dir, "rules.nft"), exempted);
    assert.equal(spawnSync("nft", ["-c", "-f", join(dir, "rules.nft")], { encoding: "utf8" }).status, 0);
    writeFileSync(join(dir, "rules.nft"), exempted.replace("ct count over", "ct count above"));
    assert.notEqual(spawnSync("nft", ["-c", "-f", join(dir, "rules.nft")], { encoding: "utf8" }).status, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the limits are operations files whose unit coturn-ops enables, loaded before coturn", () => {
  const config = exampleStackConfig("gcp-example");
  const vm = renderVm(config, { publicIp: "203.0.113.10", bind: bindAddressFor(config.cloud) }, PLACEHOLDER_ACCESS);
  assert.ok(vm.opsFiles.some((f) => f.path === RATE_LIMIT_PATHS.rules));
  assert.ok(!vm.files.some((f) => f.path === RATE_LIMIT_PATHS.rules), "not in the user-data: a change applies in place");
  assert.ok(OPS_UNITS.includes(RATE_LIMIT_UNIT));
  const unit = vmFile(vm, RATE_LIMIT_PATHS.unit);
  assert.match(unit, /^Before=coturn\.service$/m);
  assert.match(unit, /^ExecReload=\/usr\/sbin\/nft -f \/etc\/coturn\/nftables-limits\.conf$/m);
});
