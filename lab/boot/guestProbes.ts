/**
 * What the boot harness asks a running VM and its network, each answer a row of the boot report (see checks.ts): the
 * sockets and the cloud's network step inside the guest, the open-files limit, the secret delivery over SSH as
 * `pulumi up` makes it, a TURN round trip and a refusal from the lab's client, and coturn's restarts after signals.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { LISTENER_PORTS, type Listener } from "../../src/config/schema";
import type { ServerConfig } from "../../src/config/stackConfig";
import { mintTurnCredential, secretFingerprint } from "../../src/credentials/turnRest";
import { bindAddressFor } from "../../src/plan/addresses";
import { METRICS_PORT } from "../../src/monitoring/metricCatalog";
import { DEPLOY_USER, OPS_INSTALL_COMMAND, parseAppliedSecretSet, secretSetDocument } from "../../src/render/deployChannel";
import { OPS_UNITS, opsInstallDocument } from "../../src/render/opsFiles";
import type { RenderedVm } from "../../src/render/vmFiles";
import { runLabJobAsync } from "../cloudLab";
import type { BootLab } from "./bootLab";
import { openFilesCheck, openFilesLimit, rowFrom, type CheckResult } from "./checks";
import type { BootedGuest } from "./guest";
import { closedToWorldCheck, loopbackOnlyCheck, metricsPageProblems, opsDeliveryCheck, unitsCheck, type ExpectedFigure, type UnitState } from "./opsChecks";

/** The echo peer's UDP port on the peer host. */
export const ECHO_PORT = 3480;
/**
 * What `turnRows` does to coturn, which its metrics must then show exactly: one UDP allocation with credentials
 * minted from the delivered secret, which sends ECHO_BYTES to the echo peer in one datagram and gets them back, and
 * one allocation attempt with credentials minted from a wrong secret (refused 401 after the nonce challenge).
 */
export const TURN_ROWS_LOAD = { plainAllocations: 1, wrongSecretAttempts: 1, echoDatagrams: 1, echoBytes: 1000 } as const;
/** Where mtail serves coturn's log figures inside the VM (templates/monitoring/coturn-log-metrics.sh). */
export const MTAIL_PORT = 3903;
/** Longest wait for coturn to come back after a signal (RestartSec is 2 s). */
const RESTART_TIMEOUT_MS = 20_000;

/** A file's content inside the guest (empty when it cannot be read). */
export function guestFile(container: BootedGuest, path: string): string {
  return container.run("cat", [path]).stdout;
}

/** coturn's open-files limit, from its /proc/PID/limits, against the drop-in's LimitNOFILE and this host's cap. */
export function openFilesRow(container: BootedGuest, dropIn: string): CheckResult {
  const unitLimit = Number(/^LimitNOFILE=(\d+)$/m.exec(dropIn)?.[1]);
  const pid = container.run("systemctl", ["show", "coturn", "--property=MainPID", "--value"]).stdout.trim();
  const hostHard = openFilesLimit(readFileSync("/proc/self/limits", "utf8"))?.hard ?? Infinity;
  return openFilesCheck(unitLimit, container.run("cat", [`/proc/${pid}/limits`]).stdout, hostHard);
}

/** The sockets coturn must listen on, and the cloud's network step (DigitalOcean's anchor routing, the 443 redirect). */
export function networkRows(container: BootedGuest, bootLab: BootLab, config: ServerConfig): CheckResult[] {
  const rows: CheckResult[] = [];
  const sockets = container.run("ss", ["-Hlntu"]).stdout;
  const wanted: Array<[Listener, "udp" | "tcp", number]> = [
    ["udp", "udp", LISTENER_PORTS.plain],
    ["tcp", "tcp", LISTENER_PORTS.plain],
    ["tls", "tcp", LISTENER_PORTS.tls],
    ["dtls", "udp", LISTENER_PORTS.tls],
  ];
  const listening = wanted.filter(([listener]) => config.listeners.has(listener));
  const missing = listening.filter(([, proto, port]) => !new RegExp(`^${proto}\\s.*\\s${bootLab.coturnIp.replace(/\./g, "\\.")}:${port}\\s`, "m").test(sockets));
  rows.push(
    rowFrom(
      "coturn listens on every rendered listener",
      missing.map(([listener, proto, port]) => `nothing on ${proto} ${bootLab.coturnIp}:${port} (${listener})`),
      listening.map(([listener, proto, port]) => `${listener} ${proto}/${port}`).join(", ") + ` on ${bootLab.coturnIp}`,
    ),
  );
  const addresses = container.run("ip", ["-4", "-o", "addr", "show"]).stdout;
  const routes = container.run("ip", ["-4", "route", "show", "default"]).stdout;
  const unconfigured = Object.entries(bootLab.guestInterfaces).flatMap(([name, { addresses: wantedAddresses, gateway }]) => [
    ...wantedAddresses.filter((a) => !new RegExp(`\\b${name}\\s+inet ${a.replace(/\./g, "\\.")}\\b`).test(addresses)).map((a) => `${name} lacks ${a}`),
    ...(gateway && !routes.includes(`default via ${gateway} dev ${name}`) ? [`no default route via ${gateway} on ${name}`] : []),
  ]);
  rows.push(
    rowFrom(
      "network-config applied",
      unconfigured,
      Object.entries(bootLab.guestInterfaces)
        .map(([n, i]) => `${n} ${i.addresses.join(" ")}${i.gateway ? ` via ${i.gateway}` : ""}`)
        .join("; "),
    ),
  );
  if (bindAddressFor(config.cloud).kind === "anchor") {
    const rules = container.run("ip", ["rule", "show"]).stdout;
    const table = container.run("ip", ["route", "show", "table", "4242"]).stdout;
    const conf = container.run("cat", ["/etc/turnserver.conf"]).stdout;
    const unit = container.run("systemctl", ["is-enabled", "coturn-anchor-network"]).stdout.trim();
    rows.push(
      rowFrom(
        "anchor routing (coturn-anchor-network)",
        [
          ...(new RegExp(`from ${bootLab.coturnIp} lookup 4242`).test(rules) ? [] : [`no rule sends ${bootLab.coturnIp}'s traffic to table 4242`]),
          ...(/^default via \S+/m.test(table) ? [] : ["table 4242 has no default route through the anchor gateway"]),
          ...(conf.includes(`listening-ip=${bootLab.coturnIp}\n`) ? [] : ["turnserver.conf does not listen on the anchor address"]),
          ...(unit === "enabled" ? [] : [`coturn-anchor-network is ${unit || "unknown"} at boot`]),
        ],
        `from ${bootLab.coturnIp} lookup 4242, ${table.trim()}; config filled in; enabled at boot`,
      ),
    );
  }
  if (config.listeners.has("tls-443")) {
    const ruleset = container.run("nft", ["list", "ruleset"]).stdout;
    rows.push(
      rowFrom(
        "TCP 443 redirected to the TLS listener",
        /tcp dport 443 dnat to [\d.]+:5349/.test(ruleset) ? [] : ["no nftables rule redirects TCP 443 to 5349"],
        "nftables redirect loaded",
      ),
    );
  }
  return rows;
}

/** The SSH files of one key: its private half and the known_hosts that pins the VM's host key. */
export interface SshFiles {
  readonly keyFile: string;
  readonly knownHostsFile: string;
}

/**
 * ssh from the lab's client to the deploy user at the static IP, as `pulumi up` connects: this key, the host key
 * pinned, no prompts. `remoteCommand` is what the client asks to run (a forced command runs instead).
 */
export function sshToDeployUser(
  bootLab: BootLab,
  files: SshFiles,
  options: { input?: string; remoteCommand?: readonly string[]; timeoutMs?: number } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return bootLab.lab.run(
    bootLab.hosts.client,
    "ssh",
    [
      "-i", files.keyFile,
      "-o", `UserKnownHostsFile=${files.knownHostsFile}`,
      "-o", "StrictHostKeyChecking=yes",
      "-o", "BatchMode=yes",
      "-o", "IdentitiesOnly=yes",
      "-o", "ConnectTimeout=10",
      `${DEPLOY_USER}@${bootLab.publicIp}`,
      ...(options.remoteCommand ?? []),
    ],
    { input: options.input ?? "", timeoutMs: options.timeoutMs ?? 60_000 },
  );
}

/** Delivers the secret as `pulumi up` does: ssh as the deploy user with its key, host key pinned, the set on stdin. */
export async function deliverSecret(bootLab: BootLab, files: SshFiles, secret: string): Promise<CheckResult> {
  const check = "secret delivered over SSH (pinned host key)";
  const run = await sshToDeployUser(bootLab, files, { input: secretSetDocument([secret]) });
  if (run.status !== 0) return { check, status: "FAIL", detail: `ssh exited ${run.status}: ${run.stderr.trim().split("\n").slice(-2).join(" ")}` };
  try {
    const applied = parseAppliedSecretSet(run.stdout);
    const wanted = secretFingerprint(secret);
    return applied.accepted.length === 1 && applied.accepted[0] === wanted
      ? { check, status: "ok", detail: `coturn-secrets accepted ${wanted} (realm ${applied.realm})` }
      : { check, status: "FAIL", detail: `coturn-secrets holds ${applied.accepted.join(", ")}, not ${wanted}` };
  } catch (error) {
    return { check, status: "FAIL", detail: (error as Error).message };
  }
}

/** coturn's main process id as systemd sees it ("0" when it runs none). */
export function coturnMainPid(guest: BootedGuest): string {
  return guest.run("systemctl", ["show", "coturn", "--property=MainPID", "--value"]).stdout.trim();
}

/**
 * Delivers the operations files as `pulumi up` does (src/components/opsDelivery.ts): ssh with the operations deploy
 * key, host key pinned, `opsInstallDocument(vm.opsFiles)` on stdin; coturn-ops must get exactly that document, write
 * `wantChanged` files and leave coturn alone.
 */
export async function deliverOps(bootLab: BootLab, files: SshFiles, guest: BootedGuest, vm: RenderedVm, check: string, wantChanged: number): Promise<CheckResult> {
  const document = opsInstallDocument(vm.opsFiles);
  const before = coturnMainPid(guest);
  // coturn-ops waits up to 10 minutes for the bootstrap; it has run already here, so a minute is plenty.
  const run = await sshToDeployUser(bootLab, files, { input: document, remoteCommand: [OPS_INSTALL_COMMAND], timeoutMs: 120_000 });
  const after = coturnMainPid(guest);
  return opsDeliveryCheck(check, { ...run, coturnPid: { before, after } }, { files: vm.opsFiles.length, sha256: createHash("sha256").update(document).digest("hex") }, wantChanged);
}

/**
 * The units the operations files bring (and node-exporter, the package's, which they reconfigure). A unit still
 * `activating` right after the delivery's restarts is read again, once a second for up to 15 s; one that is not
 * active then fails the row with its last journal lines.
 */
export async function opsUnitsRow(guest: BootedGuest): Promise<CheckResult> {
  const read = (): UnitState[] =>
    [...OPS_UNITS, "prometheus-node-exporter.service"].map((unit) => ({
      unit,
      active: guest.run("systemctl", ["is-active", unit]).stdout,
      enabled: guest.run("systemctl", ["is-enabled", unit]).stdout,
    }));
  let units = read();
  for (let i = 0; i < 15 && units.some((u) => u.active.trim() === "activating"); i++) {
    await sleep(1000);
    units = read();
  }
  const result = unitsCheck("monitoring and TLS renewal units active and enabled", units);
  if (result.status === "ok") return result;
  const said = units
    .filter((u) => u.active.trim() !== "active")
    .map((u) => `${u.unit}: ${guest.run("journalctl", ["-u", u.unit, "-n", "8", "--no-pager", "-o", "cat"]).stdout.trim().split("\n").join(" | ")}`);
  return { ...result, detail: `${result.detail}; ${said.join("; ")}` };
}

/** The metrics ports: loopback only inside the guest, and nothing answering at the static IP from the lab internet. */
export async function metricsPortRows(guest: BootedGuest, bootLab: BootLab): Promise<CheckResult[]> {
  const ports = [
    { name: "node-exporter", port: METRICS_PORT },
    { name: "mtail", port: MTAIL_PORT },
  ];
  // coturn-ops has just restarted them: give them a few seconds to bind.
  const deadline = Date.now() + 10_000;
  let inside = loopbackOnlyCheck(guest.run("ss", ["-Hlntu"]).stdout, ports);
  while (inside.status !== "ok" && Date.now() < deadline) {
    await sleep(500);
    inside = loopbackOnlyCheck(guest.run("ss", ["-Hlntu"]).stdout, ports);
  }
  return [inside, await metricsFromTheWorldRow(bootLab, "metrics closed to the world")];
}

/** `curl http://<static IP>:<port>/metrics` for node-exporter's and mtail's ports from the lab internet: nothing may answer. */
export async function metricsFromTheWorldRow(bootLab: BootLab, check: string): Promise<CheckResult> {
  const attempts = [];
  for (const port of [METRICS_PORT, MTAIL_PORT]) {
    const run = await bootLab.lab.run(bootLab.hosts.client, "curl", ["--silent", "--show-error", "--max-time", "5", `http://${bootLab.publicIp}:${port}/metrics`], { timeoutMs: 15_000 });
    attempts.push({ port, exit: run.status, stdout: run.stdout });
  }
  return closedToWorldCheck(bootLab.publicIp, attempts, check);
}

/** The kernel counters' table as `nft` lists it inside the guest (empty when it is not loaded). */
export function accountingListing(guest: BootedGuest): string {
  return guest.run("nft", ["list", "table", "inet", "coturn_accounting"]).stdout;
}

/** What a read of the metrics over SSH printed, and how long the polling took. */
export interface MetricsRead {
  readonly run: { readonly status: number | null; readonly stdout: string; readonly stderr: string };
  readonly waitedMs: number;
}

/**
 * Reads the metrics over SSH with the metrics read key until the page shows `figures` (the collector runs every
 * 15 s, so a page may be up to one collection behind), at most `timeoutMs`.
 */
export async function readMetricsUntil(bootLab: BootLab, files: SshFiles, figures: readonly ExpectedFigure[], timeoutMs: number): Promise<MetricsRead> {
  const started = Date.now();
  for (;;) {
    const run = await sshToDeployUser(bootLab, files, { timeoutMs: 30_000 });
    const waitedMs = Date.now() - started;
    if ((run.status === 0 && metricsPageProblems(run.stdout, figures).length === 0) || waitedMs >= timeoutMs) return { run, waitedMs };
    await sleep(Math.min(2000, Math.max(0, timeoutMs - waitedMs)));
  }
}

/** A relayed round trip with credentials minted from the delivered secret, and a refusal for a wrong one. */
export async function turnRows(bootLab: BootLab, secret: string, wrongSecret: string): Promise<CheckResult[]> {
  const server = { host: bootLab.publicIp, port: LISTENER_PORTS.plain };
  const credentials = (from: string): { username: string; password: string } => {
    const minted = mintTurnCredential({ secret: from, user: "boot-test", ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  };
  const echo = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, {
    job: "echo",
    server,
    transport: "udp",
    credentials: credentials(secret),
    peer: { host: bootLab.peerIp, port: ECHO_PORT },
    bytes: TURN_ROWS_LOAD.echoBytes,
  });
  const relayed = echo.relayed as { host?: string } | undefined;
  const wrong = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, { job: "allocate", server, transport: "udp", credentials: credentials(wrongSecret) });
  return [
    rowFrom(
      "TURN relays to a peer and back",
      [
        ...(echo.identical === true ? [] : [`no identical echo: ${JSON.stringify(echo).slice(0, 200)}`]),
        ...(relayed?.host === bootLab.publicIp ? [] : [`relayed address ${relayed?.host}, not the static IP ${bootLab.publicIp}`]),
      ],
      `${TURN_ROWS_LOAD.echoBytes} bytes to ${bootLab.peerIp} and back through relay ${relayed?.host}, credentials minted from the delivered secret`,
    ),
    wrong.ok === false && wrong.code === 401
      ? { check: "a wrong secret is refused", status: "ok", detail: "401 for credentials minted from another secret" }
      : { check: "a wrong secret is refused", status: "FAIL", detail: wrong.ok ? "allocated with a wrong secret: coturn does not authenticate" : `expected 401, got ${JSON.stringify(wrong).slice(0, 160)}` },
  ];
}

/** Sends `signal` to coturn's main process and checks that systemd starts a new one that answers STUN. */
export async function restartRow(container: BootedGuest, bootLab: BootLab, signal: "HUP" | "KILL"): Promise<CheckResult> {
  const check = `coturn comes back after SIG${signal}`;
  const mainPid = (): string => container.run("systemctl", ["show", "coturn", "--property=MainPID", "--value"]).stdout.trim();
  const before = mainPid();
  if (!/^[1-9]\d*$/.test(before)) return { check, status: "FAIL", detail: `coturn has no main process (MainPID ${before})` };
  const sent = Date.now();
  container.run("kill", [`-${signal}`, before]);
  const deadline = sent + RESTART_TIMEOUT_MS;
  while (Date.now() < deadline) {
    await sleep(250);
    const now = mainPid();
    if (now === before && signal === "HUP" && Date.now() - sent > 5000) {
      // coturn without syslog handles SIGHUP by reopening its log: it never ended, so there is nothing to bring back.
      const stun = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, { job: "stun", server: { host: bootLab.publicIp, port: LISTENER_PORTS.plain }, waitMs: 5000 });
      return stun.ok === true
        ? { check, status: "ok", detail: `SIGHUP did not end process ${before}; it still answers STUN` }
        : { check, status: "FAIL", detail: `process ${before} survived SIGHUP but answers no STUN: ${String(stun.error)}` };
    }
    if (now !== before && now !== "0" && container.run("systemctl", ["is-active", "coturn"]).stdout.trim() === "active") {
      const stun = await runLabJobAsync(bootLab.lab, bootLab.hosts.client, { job: "stun", server: { host: bootLab.publicIp, port: LISTENER_PORTS.plain }, waitMs: 10_000 });
      if (stun.ok !== true) return { check, status: "FAIL", detail: `restarted as ${now} but no STUN answer: ${String(stun.error)}` };
      return { check, status: "ok", detail: `new process ${now} answered STUN ${((Date.now() - sent) / 1000).toFixed(1)} s after the signal` };
    }
  }
  const state = container.run("systemctl", ["show", "coturn", "--property=ActiveState,SubState,Result"]).stdout.trim().replace(/\n/g, ", ");
  return { check, status: "FAIL", detail: `not running ${RESTART_TIMEOUT_MS / 1000} s after the signal (${state})` };
}
