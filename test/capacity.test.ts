/**
 * Sizing a region from expected load (`coturn:capacity`): the numbers derived per server, the rendered `total-quota`,
 * and every impossible combination as a config error that names the key, the value, the numbers and the fix; tight
 * ones as warnings.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import { PREVIEW_ACCESS } from "../src/render/deployChannel";
import { relayLintProblems } from "../src/render/relayLint";
import { RelayLintError, renderTurnserverConf, renderVm } from "../src/render/vmFiles";
import { bindAddressFor } from "../src/plan/addresses";
import { exampleConfig, withValues } from "./support/program";
import { EXAMPLE_REGION_STACKS } from "../lab/exampleStack";

/** The AWS example (t4g.small; udp, tcp, tls, dtls, tls-443: 4 browser URLs) with capacity and other changes. */
function sized(capacity: Record<string, unknown>, changes: Record<string, string | undefined> = {}) {
  const base = withValues(exampleConfig(), { "coturn:capacity": JSON.stringify(capacity), ...changes });
  return validateStackConfig({ stack: base.stack, values: base.values, secretKeys: new Set(base.secretKeys) });
}

function problems(capacity: Record<string, unknown>, changes: Record<string, string | undefined> = {}): string[] {
  try {
    sized(capacity, changes);
    return [];
  } catch (error) {
    assert.ok(error instanceof StackConfigError, String(error));
    return error.problems.map((p) => `${p.key} = ${p.shownValue}: ${p.message}`);
  }
}

describe("sizing from coturn:capacity", () => {
  test("derives allocations, relay ports, total-quota and bandwidth per server, and renders the quota", () => {
    const config = sized({ peakCalls: 50, media: "audio" });
    const sizing = config.sizing;
    assert.ok(sizing);
    assert.equal(sizing.allocationsPerParticipant, 4);
    assert.equal(sizing.allocationsPerServer, 50 * 2 * 4);
    assert.equal(sizing.totalAllocations, 500, "the peak with 25% headroom");
    assert.equal(sizing.relayPortsAvailable, 16384);
    assert.equal(sizing.mbpsPerServer, 10);
    assert.deepEqual(sizing.warnings, []);
    assert.equal(config.quotas.totalAllocations, 500);
    const conf = renderTurnserverConf(config, { publicIp: "203.0.113.10", bind: bindAddressFor("aws") });
    assert.match(conf, /^total-quota=500$/m);
  });

  test("a total-quota set in config is kept; several servers share the peak", () => {
    const config = sized({ peakCalls: 300, media: "audio" }, { "coturn:quotas": JSON.stringify({ totalAllocations: 5000 }), "coturn:serverCount": "3" });
    assert.equal(config.quotas.totalAllocations, 5000);
    assert.equal(config.sizing?.allocationsPerServer, 100 * 2 * 4);
    assert.equal(config.sizing?.mbpsPerServer, 20);
  });

  test("without capacity nothing is sized and total-quota stays as configured", () => {
    const base = exampleConfig();
    const config = validateStackConfig({ stack: base.stack, values: base.values, secretKeys: new Set(base.secretKeys) });
    assert.equal(config.sizing, undefined);
    assert.equal(config.quotas.totalAllocations, 0);
  });

  test("impossible combinations are config errors with the numbers and the fix", () => {
    assert.deepEqual(problems({ peakCalls: 3000, media: "audio" }, { "coturn:instanceType": "c7gn.medium" }), [
      'coturn:relayPorts = "49152-65535": gives 16384 relay ports, but 3000 calls per server × 2 participants × 4 allocations (one per TURN URL a browser is given) = 24000 allocations need one port each. Widen the range (e.g. "32768-65535"), or spread the calls: coturn:serverCount 2 (sized from coturn:capacity)',
    ]);
    assert.deepEqual(problems({ peakCalls: 100, media: "sd" }), [
      'coturn:instanceType = "t4g.small": t4g.small sustains 128 Mbit/s (baseline 0.128 Gbit/s, bursts to 5 while credits last), but the peak needs 200.0 Mbit/s per direction per server (100 calls × 2 × 1000 kbit/s). Pick a larger size, or spread the calls: coturn:serverCount 2 (sized from coturn:capacity)',
    ]);
    assert.deepEqual(problems({ peakCalls: 20, media: "hd" }, { "coturn:quotas": JSON.stringify({ bytesPerSecondPerAllocation: 200000, totalAllocations: 100 }) }), [
      "coturn:quotas.totalAllocations = 100: is 100, below the 20 calls per server × 2 participants × 4 allocations (one per TURN URL a browser is given) = 160 allocations of the sized peak. Raise it to 200, or set 0 to derive it (sized from coturn:capacity)",
      "coturn:quotas.bytesPerSecondPerAllocation = 200000: is 200000 bytes/s, which would cut a 2500 kbit/s stream (312500 bytes/s) with no room for bursts. Set at least 468750, or 0 for no cap (sized from coturn:capacity)",
    ]);
    assert.deepEqual(problems({ peakCalls: 10, bitrateKbps: 800 }, { "coturn:quotas": JSON.stringify({ totalBytesPerSecond: 1000 }) }), [
      "coturn:quotas.totalBytesPerSecond = 1000: is 1000 bytes/s (0.0 Mbit/s), below the 16.0 Mbit/s the peak relays per server. Raise it, or set 0 for no cap (sized from coturn:capacity)",
    ]);
  });

  test("tight sizing is a warning, shown at preview and by pulumi up; an unknown size is a warning too", () => {
    assert.deepEqual(sized({ peakCalls: 50, media: "sd" }).sizing?.warnings, [
      "coturn:instanceType t4g.small sustains 128 Mbit/s and the peak needs 100.0 Mbit/s per direction per server (50 calls × 2 × 1000 kbit/s): over 70%, tight",
    ]);
    assert.deepEqual(sized({ peakCalls: 2000, media: "audio" }, { "coturn:instanceType": "c7gn.medium" }).sizing?.warnings, [
      "coturn:relayPorts gives 16384 relay ports for 2000 calls per server × 2 participants × 4 allocations (one per TURN URL a browser is given) = 16000 allocations: less than 25% headroom",
    ]);
    assert.match(sized({ peakCalls: 5, media: "audio" }, { "coturn:instanceType": "m7g.large" }).sizing?.warnings[0] ?? "", /network limit of aws m7g\.large is not in the shipped table/);
  });

  test("bad capacity values name the field", () => {
    assert.deepEqual(problems({ peakCalls: 0 }), ["coturn:capacity.peakCalls = 0: must be at least 1"]);
    assert.deepEqual(problems({ peakCalls: 5, media: "4k" }), ['coturn:capacity.media = "4k": is not one of "audio", "sd", "hd"']);
    assert.match(problems({ media: "sd" })[0] ?? "", /^coturn:capacity\.peakCalls/);
  });
});

describe("relay lint of the rendered files", () => {
  const vm = (stack: string) => {
    const base = exampleConfig(stack);
    const config = validateStackConfig({ stack: base.stack, values: base.values, secretKeys: new Set(base.secretKeys) });
    return renderVm(config, { publicIp: "203.0.113.10", bind: bindAddressFor(config.cloud) }, PREVIEW_ACCESS);
  };
  const sysctlOf = (rendered: ReturnType<typeof vm>): string => rendered.files.find((f) => f.path.startsWith("/etc/sysctl.d/"))?.content ?? "";

  test("every example stack renders files the lint accepts", () => {
    for (const stack of EXAMPLE_REGION_STACKS) {
      const rendered = vm(stack);
      assert.deepEqual(relayLintProblems(rendered.turnserverConf, sysctlOf(rendered)), [], stack);
    }
  });

  test("per-packet logging, missing kernel tuning and a relay range below the sized load are refused", () => {
    const rendered = vm("aws-example");
    const conf = rendered.turnserverConf;
    const sysctl = sysctlOf(rendered);
    assert.match(relayLintProblems(`${conf}\nVerbose\n`, sysctl)[0] ?? "", /per-packet logging \("Verbose"\): it doubles coturn's CPU/);
    assert.match(relayLintProblems(`${conf}\nV\n`, sysctl)[0] ?? "", /per-packet logging \("V"\)/);
    assert.deepEqual(relayLintProblems(conf, sysctl.replace(/^net\.core\.rmem_max.*$/m, "")), [
      "the sysctl file sets net.core.rmem_max to nothing; a relay needs at least 2097152 (kernel default buffers drop bursts of media packets)",
    ]);
    assert.match(relayLintProblems(conf, `${sysctl}\nnet.core.wmem_max = 212992\n`)[0] ?? "", /sets net\.core\.wmem_max to 212992; a relay needs at least 2097152/);
    assert.match(relayLintProblems(conf.replace(/^min-port=.*$/m, ""), sysctl)[0] ?? "", /sets no min-port\/max-port/);
    const sizing = sized({ peakCalls: 1000, media: "audio" }, { "coturn:instanceType": "c7gn.medium" }).sizing;
    assert.deepEqual(relayLintProblems(conf.replace(/^max-port=.*$/m, "max-port=50000"), sysctl, sizing), [
      "turnserver.conf relays on 849 ports (49152-50000), fewer than the 8000 allocations sized per server",
    ]);
  });

  test("rendering runs the lint: files it rejects never reach user-data", () => {
    const config = sized({ peakCalls: 10, media: "audio" });
    assert.ok(config.sizing);
    // A sizing the range cannot carry, as a template or range change that validation did not see would produce.
    const overloaded = { ...config, sizing: { ...config.sizing, allocationsPerServer: 20_000 } };
    assert.throws(
      () => renderVm(overloaded, { publicIp: "203.0.113.10", bind: bindAddressFor("aws") }, PREVIEW_ACCESS),
      (error: unknown) => error instanceof RelayLintError && /relays on 16384 ports \(49152-65535\), fewer than the 20000 allocations/.test(error.message),
    );
  });
});
