/**
 * What a booted VM must show once `pulumi up` has delivered its operations files over SSH (the TLS certificate
 * manager and the monitoring, src/render/opsFiles.ts), each as one row of the boot report: the delivery itself, the
 * units it enables, node-exporter closed to the world, the kernel counters counting, the metrics read key printing
 * the figures of what the boot did (and nothing else), and journald's limits. Pure, like checks.ts: every way a
 * check can fail is testable on text.
 */
import { ExpositionError, parseExposition, type Sample } from "../../src/status/exposition";
import { rowFrom, type CheckResult } from "./checks";
import type { RateLimits } from "../../src/config/rateLimits";
import { RATE_LIMIT_NAMES } from "../../src/render/rateLimitFiles";

/** What `coturn-ops install` prints on stdout (templates/coturn-ops.sh.hbs). */
export interface OpsInstallResult {
  readonly files: number;
  readonly changed: number;
  readonly sha256: string;
}

/** Parses coturn-ops' JSON line; throws with the text when it is not one. */
export function parseOpsInstallResult(stdout: string): OpsInstallResult {
  const line = stdout.trim().split("\n").at(-1) ?? "";
  let parsed: Partial<OpsInstallResult>;
  try {
    parsed = JSON.parse(line) as Partial<OpsInstallResult>;
  } catch {
    throw new Error(`coturn-ops printed no JSON result: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  if (typeof parsed.files !== "number" || typeof parsed.changed !== "number" || typeof parsed.sha256 !== "string") {
    throw new Error(`coturn-ops printed an unexpected result: ${line}`);
  }
  return parsed as OpsInstallResult;
}

/** How one `ssh … coturn-ops install` ended, and coturn's main process around it. */
export interface OpsDeliveryRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** coturn's MainPID before and after the delivery: coturn-ops must never restart it. */
  readonly coturnPid: { readonly before: string; readonly after: string };
}

/**
 * The delivery as `pulumi up` makes it: ssh exits 0, coturn-ops got exactly the document sent (its sha256), wrote
 * `wantChanged` of its files (all of them on a fresh VM, none on a repeat) and left coturn running as it was.
 */
export function opsDeliveryCheck(
  check: string,
  run: OpsDeliveryRun,
  sent: { readonly files: number; readonly sha256: string },
  wantChanged: number,
): CheckResult {
  if (run.status !== 0) return { check, status: "FAIL", detail: `ssh exited ${run.status}: ${run.stderr.trim().split("\n").slice(-2).join(" ")}` };
  let result: OpsInstallResult;
  try {
    result = parseOpsInstallResult(run.stdout);
  } catch (error) {
    return { check, status: "FAIL", detail: (error as Error).message };
  }
  const problems = [
    ...(result.sha256 === sent.sha256 ? [] : [`coturn-ops read a document with sha256 ${result.sha256.slice(0, 12)}…, not the one sent (${sent.sha256.slice(0, 12)}…)`]),
    ...(result.files === sent.files ? [] : [`coturn-ops counted ${result.files} files, ${sent.files} were sent`]),
    ...(result.changed === wantChanged ? [] : [`coturn-ops wrote ${result.changed} files, expected ${wantChanged}`]),
    ...(/^[1-9]\d*$/.test(run.coturnPid.before) && run.coturnPid.after === run.coturnPid.before
      ? []
      : [`coturn's main process was ${run.coturnPid.before} before and ${run.coturnPid.after} after: the delivery restarted or stopped coturn`]),
  ];
  return rowFrom(check, problems, `coturn-ops wrote ${result.changed} of ${result.files} files (sha256 ${result.sha256.slice(0, 12)}…, as sent); coturn kept running (pid ${run.coturnPid.before})`);
}

/** One unit's state: `systemctl is-active` and `systemctl is-enabled`. */
export interface UnitState {
  readonly unit: string;
  readonly active: string;
  readonly enabled: string;
}

/** Every unit must be active and enabled. */
export function unitsCheck(check: string, units: readonly UnitState[]): CheckResult {
  const problems = units.flatMap(({ unit, active, enabled }) => [
    ...(active.trim() === "active" ? [] : [`${unit} is ${active.trim() || "unknown"}, not active`]),
    ...(enabled.trim() === "enabled" ? [] : [`${unit} is ${enabled.trim() || "unknown"} at boot, not enabled`]),
  ]);
  return rowFrom(check, problems, `${units.map((u) => u.unit).join(", ")}: active, enabled`);
}

/** The local addresses of listening sockets on `port`, from `ss -Hlntu` (`proto state recvq sendq local peer …`). */
export function listeners(ss: string, port: number): string[] {
  return ss
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 5 && fields[4].endsWith(`:${port}`))
    .map((fields) => `${fields[0]} ${fields[4]}`);
}

/** Each service must listen on its loopback address and port and nothing else may listen on that port. */
export function loopbackOnlyCheck(ss: string, services: ReadonlyArray<{ readonly name: string; readonly port: number }>): CheckResult {
  const problems = services.flatMap(({ name, port }) => {
    const found = listeners(ss, port);
    const wanted = `tcp 127.0.0.1:${port}`;
    return [
      ...(found.includes(wanted) ? [] : [`${name} does not listen on 127.0.0.1:${port}`]),
      ...found.filter((l) => l !== wanted).map((l) => `${name}'s port ${port} is also open on ${l}`),
    ];
  });
  return rowFrom(
    "metrics listen on loopback only",
    problems,
    services.map(({ name, port }) => `${name} on 127.0.0.1:${port} only`).join("; "),
  );
}

/** curl's exit statuses that mean nothing answered: 7 could not connect (refused or unreachable), 28 timed out. */
const CLOSED_EXITS: Readonly<Record<number, string>> = { 7: "refused", 28: "no answer (timed out)" };

/** A `curl http://<static IP>:<port>/metrics` from the lab internet must find nothing there. */
export function closedToWorldCheck(
  address: string,
  attempts: ReadonlyArray<{ readonly port: number; readonly exit: number | null; readonly stdout: string }>,
  check = "metrics closed to the world",
): CheckResult {
  const problems = attempts.flatMap(({ port, exit, stdout }) =>
    exit !== null && CLOSED_EXITS[exit] !== undefined
      ? []
      : [`${address}:${port} answered from the internet (curl exit ${exit}${stdout ? `: ${stdout.trim().split("\n")[0].slice(0, 80)}` : ""})`],
  );
  return rowFrom(
    check,
    problems,
    attempts.map(({ port, exit }) => `${address}:${port} ${exit === null ? "?" : CLOSED_EXITS[exit]}`).join(", ") + " from the lab internet (no scrapers listed)",
  );
}

/** The named counters of `nft list table …` (`counter NAME { packets P bytes B }`). */
export function nftCounters(listing: string): Map<string, { packets: number; bytes: number }> {
  return new Map(
    [...listing.matchAll(/counter (\w+) \{\s*packets (\d+) bytes (\d+)/g)].map((m) => [m[1], { packets: Number(m[2]), bytes: Number(m[3]) }]),
  );
}

/**
 * The kernel counters: the table holds every rendered counter, and the UDP listener's and the relay range's grew,
 * between two listings, by at least what the echo job sent through them (its datagram arrives at the listener from
 * the client, and the echo at the relay range from the peer, each with its payload).
 */
export function accountingCheck(
  before: string,
  after: string,
  names: readonly string[],
  echo: { readonly packets: number; readonly payloadBytes: number },
): CheckResult {
  const check = "kernel counters loaded and counting";
  const [was, now] = [nftCounters(before), nftCounters(after)];
  const missing = names.filter((n) => !now.has(n));
  if (now.size === 0) return { check, status: "FAIL", detail: "no counter in table inet coturn_accounting (is it loaded?)" };
  const grown = (name: string): { packets: number; bytes: number } => ({
    packets: (now.get(name)?.packets ?? 0) - (was.get(name)?.packets ?? 0),
    bytes: (now.get(name)?.bytes ?? 0) - (was.get(name)?.bytes ?? 0),
  });
  const problems = [
    ...missing.map((n) => `counter ${n} is missing`),
    ...["udp_in", "relay_in"].flatMap((name) => {
      const g = grown(name);
      return g.packets >= echo.packets && g.bytes >= echo.payloadBytes
        ? []
        : [`${name} grew by ${g.packets} packets and ${g.bytes} bytes; the echo sent ${echo.packets} of ${echo.payloadBytes} bytes through it`];
    }),
  ];
  const relay = (name: string): string => `${name} +${grown(name).packets} packets +${grown(name).bytes} bytes`;
  return rowFrom(check, problems, `${names.length} counters in table inet coturn_accounting; during the TURN checks ${relay("udp_in")}, ${relay("relay_in")}`);
}

/** One sample of a Prometheus text page. */
export type { Sample };

/**
 * The samples of a Prometheus text page, read with `npm run status`'s parser; text that is no such page (an error
 * message, a file the read key must not print) has none, which the checks then report.
 */
export function parsePrometheusText(text: string): Sample[] {
  try {
    return [...parseExposition(text).samples];
  } catch (error) {
    if (error instanceof ExpositionError) return [];
    throw error;
  }
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(samples: readonly Sample[], name: string, labels: Readonly<Record<string, string>> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

/** A figure the metrics must show exactly: what the boot did. */
export interface ExpectedFigure {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
  /** What made it, for the row. */
  readonly why: string;
}

/** What is wrong with a metrics page: a figure not exactly as expected, or node-exporter's own host figures missing. */
export function metricsPageProblems(page: string, figures: readonly ExpectedFigure[]): string[] {
  const samples = parsePrometheusText(page);
  if (samples.length === 0) return [`no Prometheus samples in what the read key printed: ${JSON.stringify(page.slice(0, 120))}`];
  const label = (f: ExpectedFigure): string => `${f.name}${f.labels ? `{${Object.entries(f.labels).map(([k, v]) => `${k}="${v}"`).join(",")}}` : ""}`;
  return [
    ...figures.flatMap((f) => {
      const value = sampleValue(samples, f.name, f.labels);
      return value === f.value ? [] : [`${label(f)} is ${value ?? "absent"}, not ${f.value} (${f.why})`];
    }),
    ...(samples.some((s) => s.name === "node_cpu_seconds_total") ? [] : ["no node_cpu_seconds_total: node-exporter's own collectors are missing"]),
  ];
}

/** The SSH read path: the last page read (after polling up to `waitedMs`) holds every expected figure. */
export function metricsReadCheck(run: { readonly status: number | null; readonly stdout: string; readonly stderr: string }, figures: readonly ExpectedFigure[], waitedMs: number): CheckResult {
  const check = "metrics over SSH (metrics read key)";
  if (run.status !== 0) return { check, status: "FAIL", detail: `ssh exited ${run.status}: ${run.stderr.trim().split("\n").slice(-2).join(" ")}` };
  const problems = metricsPageProblems(run.stdout, figures);
  const shown = figures.map((f) => `${f.name}${f.labels ? `{${Object.values(f.labels).join(",")}}` : ""} ${f.value}`).join(", ");
  return rowFrom(check, problems.length > 0 ? [...problems, `after ${(waitedMs / 1000).toFixed(0)} s`] : [], `${shown}, node_cpu_seconds_total present (${(waitedMs / 1000).toFixed(0)} s after the TURN checks)`);
}

/** The metrics read key asked for another command (`cat /etc/shadow`) must still print metrics only. */
export function forcedCommandCheck(asked: string, run: { readonly status: number | null; readonly stdout: string; readonly stderr: string }): CheckResult {
  const check = "the metrics read key runs nothing else";
  const samples = parsePrometheusText(run.stdout);
  const problems = [
    ...(run.status === 0 ? [] : [`ssh exited ${run.status}: ${run.stderr.trim().split("\n").slice(-1).join("")}`]),
    ...(samples.some((s) => s.name === "node_cpu_seconds_total") ? [] : [`asked for "${asked}", it printed no metrics`]),
    ...(/^\w[\w.-]*:[^:\n]*:\d*:/m.test(run.stdout) ? [`asked for "${asked}", it printed passwd or shadow lines`] : []),
  ];
  return rowFrom(check, problems, `asked for "${asked}": printed ${samples.length} metric samples and nothing else`);
}

/**
 * journald's limits: coturn's unit has the drop-in's rate limit (`systemctl show coturn`, which names it
 * LogRateLimitIntervalUSec) and journald's configuration (`systemd-analyze cat-config systemd/journald.conf`)
 * includes the rendered drop-in with each of its settings.
 */
export function journaldCheck(coturnDropIn: string, show: string, journaldDropInPath: string, journaldDropIn: string, catConfig: string): CheckResult {
  const shown = new Map(
    show
      .split("\n")
      .map((line) => /^(\w+)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const wantedRate = [
    ["LogRateLimitIntervalUSec", /^LogRateLimitIntervalSec=(\S+)$/m.exec(coturnDropIn)?.[1]],
    ["LogRateLimitBurst", /^LogRateLimitBurst=(\S+)$/m.exec(coturnDropIn)?.[1]],
  ] as const;
  const settings = journaldDropIn.split("\n").filter((line) => /^\w+=/.test(line));
  const sections = catConfig.split(/^# (?=\/)/m);
  const ours = sections.find((s) => s.startsWith(`${journaldDropInPath}\n`)) ?? "";
  const problems = [
    ...wantedRate.flatMap(([property, value]) =>
      value === undefined ? [`coturn's drop-in sets no ${property.replace("USec", "Sec")}`] : shown.get(property) === value ? [] : [`coturn's ${property} is ${shown.get(property) || "unset"}, not ${value}`],
    ),
    ...(ours ? [] : [`systemd-analyze cat-config does not include ${journaldDropInPath}`]),
    ...settings.filter((s) => ours && !ours.split("\n").includes(s)).map((s) => `${journaldDropInPath} lacks ${s} as journald reads it`),
  ];
  return rowFrom(
    "journald: coturn's rate limit and the journal's caps",
    problems,
    `coturn ${wantedRate.map(([p, v]) => `${p}=${v}`).join(" ")}; journald reads ${journaldDropInPath} (${settings.join(" ")})`,
  );
}

/**
 * The per-source limits in the booted VM: `nft list table inet coturn_limits` holds the rendered numbers (each
 * limit's rate and burst, the concurrent cap, SSH's) and every drop counter, and none of them counted a packet of the
 * boot's own checks (a client within its limits is never dropped).
 */
export function rateLimitsCheck(listing: string, limits: RateLimits): CheckResult {
  const check = "per-source limits loaded, nothing of the checks dropped";
  if (!listing.includes("table inet coturn_limits")) return { check, status: "FAIL", detail: "table inet coturn_limits is not loaded (coturn-limits.service)" };
  const expected = [
    `limit rate over ${limits.udpRequestsPerSecond}/second burst ${limits.udpRequestsBurst} packets`,
    `limit rate over ${limits.tcpNewConnectionsPerSecond}/second burst ${limits.tcpNewConnectionsBurst} packets`,
    `ct count over ${limits.tcpConnectionsPerSource}`,
    `limit rate over ${limits.sshNewConnectionsPerMinute}/minute burst ${limits.sshNewConnectionsPerMinute} packets`,
  ];
  const counters = nftCounters(listing);
  const problems = [
    ...expected.filter((rule) => !listing.includes(rule)).map((rule) => `no rule with "${rule}"`),
    ...RATE_LIMIT_NAMES.flatMap((name) => {
      const packets = counters.get(`${name}_dropped`)?.packets;
      return packets === undefined ? [`counter ${name}_dropped is missing`] : packets > 0 ? [`${name} dropped ${packets} packets of the checks`] : [];
    }),
  ];
  return rowFrom(check, problems, `${limits.udpRequestsPerSecond} requests/s (burst ${limits.udpRequestsBurst}), ${limits.tcpConnectionsPerSource} connections, ${limits.tcpNewConnectionsPerSecond} new/s, SSH ${limits.sshNewConnectionsPerMinute}/min; 0 dropped`);
}
