/**
 * The boot report as people read it: a header saying what was booted on what, one row per check, and the timings.
 */
import type { BootReport } from "./bootTest";

/** The lines of a boot report; `rows` go through the operator commands' table printer. */
export function reportLines(report: BootReport, serverCount = 1): { header: string[]; rows: string[][]; footer: string[] } {
  const { image, timings } = report;
  const seconds = (ms: number | undefined): string => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)} s`);
  const failed = report.results.filter((r) => r.status === "FAIL").length;
  const notHere = report.results.filter((r) => r.status === "not here").length;
  return {
    header: [
      `Boot test of stack "${report.stack}" (${report.cloud}): its user-data through cloud-init ` +
        (report.guest === "qemu" ? "in a qemu virtual machine (its own kernel, software emulation)" : "under systemd-nspawn"),
      `Image ${image.hash}: Debian 12, ${(image.sizeBytes / 2 ** 20).toFixed(0)} MiB, ${image.cachedDebs} packages in its apt cache, ` +
        (image.builtNow ? `built now in ${image.buildSeconds} s` : `cached (built in ${image.buildSeconds} s)`) + ` from ${image.mirror}`,
      ...(report.stackImage === "debian-12"
        ? []
        : [`The stack's VM boots ${report.stackImage}; this test boots its user-data on Debian 12 (the only distribution whose packages are reachable here).`]),
      ...(serverCount > 1 ? [`The stack has ${serverCount} servers; server 1's user-data was booted (the others differ only in names and keys).`] : []),
    ],
    rows: report.results.map((r) => [r.check, r.status, r.detail]),
    footer: [
      `Launch to first STUN answer: ${seconds(timings.firstStunMs)}; to cloud-init done: ${seconds(timings.cloudInitMs)}; power-off: ${seconds(timings.stopMs)}`,
      failed > 0
        ? `FAILED: ${failed} of ${report.results.length} checks.`
        : `PASSED: ${report.results.length - notHere} checks ok` + (notHere > 0 ? `; ${notHere} cannot be shown in a container (see "not here"; the qemu boot shows them).` : "."),
    ],
  };
}
