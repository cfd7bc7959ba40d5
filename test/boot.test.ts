/**
 * The top rung of the proof ladder: every example stack's user-data, exactly as `pulumi up` hands it to the stack's
 * cloud, boots through cloud-init under systemd (systemd-nspawn, Debian 12 image built once and cached) on a copy of
 * the cloud's network, and the VM it makes passes the boot checks (lab/boot/checks.ts). Deliberately broken
 * user-data must be caught. Slow (about a minute per boot, plus the image's first build); needs root.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocument } from "yaml";
import { bootStack, type BootReport } from "../lab/boot/bootTest";
import { reportLines } from "../lab/boot/report";
import { serverIdentity } from "../src/plan/dns";
import { exampleStackConfig } from "./support/program";
import { EXAMPLE_REGION_STACKS } from "../lab/exampleStack";


/**
 * What a container cannot show, and only that: anything else "not here" would be a check passing silently. The
 * monitoring rows (units, ports, kernel counters, the metrics over SSH, journald) all run in a container: nftables
 * counts in the guest's own network namespace and journald is the guest's.
 */
const NOT_HERE_IN_A_CONTAINER = [
  "coturn's open-files limit",
  "kernel: net.core.rmem_max",
  "kernel: net.core.wmem_max",
  "kernel: net.core.netdev_max_backlog",
  "kernel: net.ipv4.ip_local_reserved_ports",
];

function boot(stack: string, editUserData?: (userData: string) => string): Promise<BootReport> {
  const config = exampleStackConfig(stack);
  return bootStack({ config: { ...config, ...serverIdentity(config, 1) }, editUserData, log: () => undefined });
}

/** The report's lines as the command prints them. */
function reportText(report: BootReport): string[] {
  const { header, rows, footer } = reportLines(report);
  return [...header, ...rows.map((r) => `  ${r[1].padEnd(8)} ${r[0]}: ${r[2]}`), ...footer];
}

function printed(report: BootReport): string {
  return reportText(report).join("\n");
}

/** The report in the test log, one diagnostic line per line (TAP diagnostics are single lines). */
function showReport(t: { diagnostic(message: string): void }, report: BootReport): void {
  for (const line of reportText(report)) t.diagnostic(line);
}

function row(report: BootReport, check: string): { status: string; detail: string } {
  const found = report.results.find((r) => r.check === check);
  assert.ok(found, `the report has no "${check}" row:\n${printed(report)}`);
  return found;
}

/** Edits one `write_files` entry of a cloud-config, or removes it; throws when the path is not there. */
function editWrittenFile(userData: string, path: string, edit: ((entry: { content: string; permissions: string }) => void) | "remove"): string {
  const document = parseDocument(userData);
  const files = document.toJS().write_files as Array<{ path: string; content: string; permissions: string }>;
  const index = files.findIndex((f) => f.path === path);
  assert.ok(index >= 0, `user-data writes no ${path}`);
  if (edit === "remove") files.splice(index, 1);
  else edit(files[index]);
  document.set("write_files", files);
  return `#cloud-config\n${document.toString()}`;
}

/** Replaces text that must be there (so a template change cannot quietly make a broken variant unbroken). */
function replaceOnce(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `expected to find ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

for (const stack of EXAMPLE_REGION_STACKS) {
  test(`${stack}: the user-data boots and the VM passes every boot check`, { timeout: 600_000 }, async (t) => {
    const report = await boot(stack);
    showReport(t, report);
    const failed = report.results.filter((r) => r.status === "FAIL");
    assert.deepEqual(failed, [], printed(report));
    assert.deepEqual(
      report.results.filter((r) => r.status === "not here").map((r) => r.check),
      NOT_HERE_IN_A_CONTAINER,
      "only what a container cannot show may be left unchecked",
    );
    for (const check of [
      "STUN binding at the static IP",
      "TURN relays to a peer and back",
      "a wrong secret is refused",
      "coturn comes back after SIGHUP",
      "coturn comes back after SIGKILL",
      // The operations files, delivered over SSH after the secret as pulumi up sends them, and the monitoring they bring.
      "operations files delivered over SSH (pinned host key)",
      "operations files: a second delivery changes nothing",
      "monitoring and TLS renewal units active and enabled",
      "no unit failed after the operations delivery",
      "metrics closed to the world before the operations delivery",
      "metrics listen on loopback only",
      "metrics closed to the world",
      "kernel counters loaded and counting",
      "metrics over SSH (metrics read key)",
      "the metrics read key runs nothing else",
      "journald: coturn's rate limit and the journal's caps",
    ]) {
      assert.equal(row(report, check).status, "ok", check);
    }
    assert.ok(report.timings.firstStunMs !== undefined && report.timings.firstStunMs > 0, "the time to the first STUN answer is measured");
  });
}

test("a config coturn cannot read is caught: coturn runs with built-in defaults and accepts a wrong secret", { timeout: 600_000 }, async (t) => {
  // A hardening change gone wrong: the bootstrap makes the config readable by root only (the package's postinst had
  // made it root:turnserver 640) and no longer checks that coturn can read it.
  const report = await boot("aws-example", (userData) =>
    editWrittenFile(userData, "/usr/local/sbin/coturn-bootstrap", (entry) => {
      entry.content = replaceOnce(entry.content, 'chmod 0640 "$conf" "$cert" "$key"', 'chmod 0640 "$cert" "$key"; chmod 0600 "$conf"');
      entry.content = replaceOnce(entry.content, 'for file in "$conf" "$cert" "$key"; do', 'for file in "$cert" "$key"; do');
    }),
  );
  showReport(t, report);
  assert.equal(report.passed, false);
  assert.equal(row(report, "coturn read its config at every start").status, "FAIL");
  assert.match(row(report, "coturn read its config at every start").detail, /did not run the rendered config|could not read its config/);
  assert.equal(row(report, "a wrong secret is refused").status, "FAIL");
  assert.match(row(report, "files: owner, group and mode").detail, /\/etc\/turnserver\.conf is root:turnserver 600, not root:turnserver 640/);
});

test("a missing systemd drop-in is caught: the unit lacks its settings and SIGHUP leaves coturn down", { timeout: 600_000 }, async (t) => {
  const report = await boot("gcp-example", (userData) => editWrittenFile(userData, "/etc/systemd/system/coturn.service.d/10-coturn-pulumi.conf", "remove"));
  showReport(t, report);
  assert.equal(report.passed, false);
  assert.equal(row(report, "coturn's unit has the drop-in's settings").status, "FAIL");
  assert.match(row(report, "coturn's unit has the drop-in's settings").detail, /does not load .*10-coturn-pulumi\.conf.*Restart is [\w-]+, not always/);
  assert.equal(row(report, "coturn comes back after SIGHUP").status, "FAIL");
  assert.match(row(report, "files: owner, group and mode").detail, /10-coturn-pulumi\.conf is missing/);
});
