/**
 * Boots a stack's user-data for real and checks the VM it makes (see checks.ts): the exact user-data `pulumi up` hands
 * the stack's cloud, rendered with SSH keys made for this boot and the lab's static IP, goes through cloud-init under
 * systemd in a container (container.ts) on the cloud's network (bootLab.ts). Then, as `pulumi up` does, a TURN secret
 * made for this boot is delivered over SSH with the pinned host key, and a client on the lab internet talks to the
 * coturn the boot started. The stack's own secrets are never needed: the user-data holds none.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LISTENER_PORTS, type DeployCloud, type ImageChoice } from "../config/schema";
import type { ServerConfig } from "../config/stackConfig";
import { mintTurnCredential, secretFingerprint } from "../credentials/turnRest";
import { bindAddressFor } from "../plan/addresses";
import { DEPLOY_USER, parseAppliedSecretSet, secretSetDocument, type VmAccess } from "../render/secretDelivery";
import { renderVm, SYSCTL_PATH, type RenderedVm } from "../render/vmFiles";
import type { LabJob } from "../../test/support/labClient";
import { generateSshKeyPair } from "../../test/support/sshKeys";
import { requireCommands, type NetLab } from "../../test/support/netlab";
import { buildBootLab, type BootLab } from "./bootLab";
import {
  cloudInitCheck,
  configReadCheck,
  dropInCheck,
  dropInProperties,
  expectedFiles,
  failedUnitsCheck,
  filesCheck,
  kernelSettingRows,
  openFilesCheck,
  openFilesLimit,
  privateKeyLines,
  rowFrom,
  secretsCheck,
  serviceCheck,
  sysctlFile,
  type CheckResult,
} from "./checks";
import { bootContainer, type BootedContainer } from "./container";
import { ensureBootImage, IMAGE_BUILD_COMMANDS, type BootImage } from "./image";
import { cloudUserData, metaData, networkConfig } from "./seed";

/** Where coturn's drop-in lands (rendered by vmFiles.ts). */
const DROP_IN_PATH = "/etc/systemd/system/coturn.service.d/10-coturn-pulumi.conf";
/** The echo peer's UDP port on the peer host. */
const ECHO_PORT = 3480;
/** Longest wait for cloud-init to finish (a loaded 2-core machine installs ~100 packages in well under this). */
const CLOUD_INIT_TIMEOUT_MS = 300_000;
/** Longest wait for coturn to come back after a signal (RestartSec is 2 s). */
const RESTART_TIMEOUT_MS = 20_000;

/** What to boot. */
export interface BootOptions {
  /** The stack's validated config, for its first server. */
  readonly config: ServerConfig;
  /** Changes the rendered user-data before it is booted: how tests make deliberately broken VMs. */
  readonly editUserData?: (userData: string) => string;
  /** Progress lines ("what is happening now"). */
  readonly log: (line: string) => void;
  /** Stops the boot early (Ctrl-C): what was started is still stopped and removed. */
  readonly signal?: AbortSignal;
}

/** Durations of one boot, in milliseconds from nspawn's launch. */
export interface BootTimings {
  /** Launch to the first STUN answer at the static IP (coturn as the package started it, before the bootstrap). */
  readonly firstStunMs?: number;
  /** Launch to cloud-init's end (the bootstrap done, coturn restarted with its final files). */
  readonly cloudInitMs?: number;
  /** How long the clean power-off took. */
  readonly stopMs?: number;
}

/** The result of one boot. */
export interface BootReport {
  readonly stack: string;
  readonly cloud: DeployCloud;
  /** The image the stack's VM boots in its cloud (this test always boots Debian 12). */
  readonly stackImage: ImageChoice;
  readonly image: BootImage;
  readonly results: readonly CheckResult[];
  readonly timings: BootTimings;
  /** True when no row is FAIL. */
  readonly passed: boolean;
  /** What the VM printed on its console (the cloud's console log): cloud-init's output, the bootstrap's lines. */
  readonly consoleLog: string;
}

/** Everything a boot test needs on this machine, with the Debian package of each. */
export const BOOT_TEST_COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ...IMAGE_BUILD_COMMANDS,
  ["/usr/bin/nsenter", "util-linux"],
  ["/usr/bin/ssh", "openssh-client"],
  ["/usr/bin/ssh-keygen", "openssh-client"],
  ["/usr/bin/turnutils_peer", "coturn"],
];

/** Boots the stack's user-data and checks the VM; never throws for a failed check (the row says FAIL). */
export async function bootStack(options: BootOptions): Promise<BootReport> {
  const { config, log } = options;
  requireCommands(BOOT_TEST_COMMANDS);
  const image = ensureBootImage(log);
  const keys = { host: generateSshKeyPair("boot-host"), deploy: generateSshKeyPair("boot-deploy"), tls: generateSshKeyPair("boot-tls-deploy") };
  const access: VmAccess = { hostKey: keys.host, deployPublicKey: keys.deploy.publicKey, tlsDeployPublicKey: keys.tls.publicKey };
  const bind = bindAddressFor(config.cloud);
  log(`network: building the ${config.cloud} lab (${bind.kind === "nat" ? "1:1 NAT to the private address" : "Reserved IP on the anchor address, metadata stand-in"})`);
  const bootLab = await buildBootLab(bind);
  const workDir = mkdtempSync(join(tmpdir(), "coturn-boot-"));
  let container: BootedContainer | undefined;
  let consoleLog = "";
  const results: CheckResult[] = [];
  const timings: { firstStunMs?: number; cloudInitMs?: number; stopMs?: number } = {};
  try {
    const vm = renderVm(config, { publicIp: bootLab.publicIp, bind }, access);
    const userData = options.editUserData ? options.editUserData(vm.userData) : vm.userData;
    const { lab, hosts } = bootLab;
    lab.start(hosts.peer, "turnutils_peer", ["-L", bootLab.peerIp, "-p", String(ECHO_PORT)]);
    const seedUserData = cloudUserData(config.cloud, userData);
    log(`boot: ${config.stack}'s user-data (${seedUserData.length} bytes as ${config.cloud} hands it over) through cloud-init under systemd-nspawn`);
    container = await bootContainer({
      rootfs: image.rootfs,
      seed: {
        userData: seedUserData,
        metaData: metaData(`i-boot-${randomBytes(6).toString("hex")}`, config.stack),
        networkConfig: networkConfig(bootLab.guestInterfaces),
      },
      netns: hosts.vm,
      workDir: join(workDir, "container"),
      machineName: `boot-${randomBytes(4).toString("hex")}`,
    });
    const booted = container;
    const stunServer = { host: bootLab.publicIp, port: LISTENER_PORTS.plain };
    const firstStun = labJob(lab, hosts.client, { job: "stun", server: stunServer, waitMs: CLOUD_INIT_TIMEOUT_MS }, CLOUD_INIT_TIMEOUT_MS + 30_000);

    log("boot: waiting for cloud-init to finish (it installs coturn from the image's apt cache)");
    const cloudInitDone = await waitForCloudInit(booted, options.signal);
    timings.cloudInitMs = cloudInitDone - booted.launchedAt;
    // coturn answers long before cloud-init ends; past this grace it is not going to (lab.destroy() stops the client).
    const stun = (await Promise.race([
      firstStun,
      sleep(30_000).then(() => ({ ok: false, error: "no STUN answer at the static IP within 30 s of cloud-init's end" })),
    ])) as { ok: boolean; answeredAt?: number; mapped?: { host: string }; error?: string };
    if (stun.ok && stun.answeredAt) timings.firstStunMs = stun.answeredAt - booted.launchedAt;
    log(`boot: cloud-init finished ${(timings.cloudInitMs / 1000).toFixed(1)} s after launch; checking the VM`);

    results.push(cloudInitCheck(booted.run("cloud-init", ["status", "--long"]).stdout, guestFile(booted, "/var/log/cloud-init.log")));
    const expected = expectedFiles(vm);
    results.push(filesCheck(expected, booted.run("stat", ["-c", "%n %U %G %a", ...expected.map((f) => f.path)]).stdout));
    results.push(failedUnitsCheck(booted.run("systemctl", ["--failed", "--plain", "--no-legend"]).stdout, booted.console()));
    results.push(serviceCheck(booted.run("systemctl", ["is-active", "coturn"]).stdout, booted.run("systemctl", ["is-enabled", "coturn"]).stdout));
    const dropIn = vmFileContent(vm, DROP_IN_PATH);
    results.push(dropInCheck(DROP_IN_PATH, dropIn, booted.run("systemctl", ["show", "coturn", ...dropInProperties(dropIn).map((p) => `--property=${p}`)]).stdout));
    results.push(openFilesRow(booted, dropIn));
    results.push(...networkRows(booted, bootLab, config));
    results.push(
      ...kernelSettingRows(
        sysctlFile(vmFileContent(vm, SYSCTL_PATH)).map(({ key, value }) => {
          const read = booted.run("sysctl", ["-n", key]);
          return { key, wanted: value, actual: read.status === 0 ? read.stdout.trim() : undefined };
        }),
        booted.run("systemd-detect-virt", ["--container"]).status === 0,
        booted.console(),
      ),
    );

    const secret = randomBytes(36).toString("base64url");
    const wrongSecret = randomBytes(36).toString("base64url");
    options.signal?.throwIfAborted();
    log("delivery: the TURN secret over SSH as pulumi up sends it (deploy key, pinned host key)");
    results.push(await deliverSecret(bootLab, workDir, keys.deploy.privateKey, keys.host.publicKey, secret));
    results.push(
      stun.ok && stun.mapped?.host === bootLab.clientIp
        ? { check: "STUN binding at the static IP", status: "ok", detail: `reflexive address ${stun.mapped.host}, as the client sees itself` }
        : { check: "STUN binding at the static IP", status: "FAIL", detail: stun.ok ? `reflexive address ${stun.mapped?.host}, not ${bootLab.clientIp}` : String(stun.error) },
    );
    results.push(...(await turnRows(bootLab, secret, wrongSecret)));

    options.signal?.throwIfAborted();
    log("restart policy: SIGHUP and SIGKILL to coturn");
    for (const signal of ["HUP", "KILL"] as const) results.push(await restartRow(booted, bootLab, signal));
    results.push(configReadCheck(booted.run("journalctl", ["--boot", "--unit=coturn", "--no-pager", "--output=short"]).stdout, listeningIps(vm, bootLab)));

    results.push(
      secretsCheck(
        { console: booted.console(), "/var/log/cloud-init-output.log": guestFile(booted, "/var/log/cloud-init-output.log") },
        {
          "TURN secret": [secret],
          "SSH host private key": privateKeyLines(keys.host.privateKey),
        },
      ),
    );
    log("stop: powering the container off");
    const stopped = await booted.stop();
    timings.stopMs = stopped.ms;
    results.push(
      stopped.clean
        ? { check: "clean power-off", status: "ok", detail: `systemd powered off in ${(stopped.ms / 1000).toFixed(1)} s` }
        : { check: "clean power-off", status: "FAIL", detail: `ended with ${stopped.exit} after ${(stopped.ms / 1000).toFixed(1)} s` },
    );
  } catch (error) {
    results.push({ check: "boot", status: "FAIL", detail: (error as Error).message.split("\n").slice(0, 6).join(" ") });
  } finally {
    await container?.cleanup();
    consoleLog = container?.console() ?? "";
    await bootLab.lab.destroy();
    rmSync(workDir, { recursive: true, force: true });
  }
  return { stack: config.stack, cloud: config.cloud, stackImage: config.image, image, results, timings, passed: results.every((r) => r.status !== "FAIL"), consoleLog };
}

/** Polls `cloud-init status` until it is done or in error; returns when (epoch ms). */
async function waitForCloudInit(container: BootedContainer, signal: AbortSignal | undefined): Promise<number> {
  const deadline = Date.now() + CLOUD_INIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (!container.running()) throw new Error(`the container stopped during boot:\n${container.console().slice(-2000)}`);
    const status = /^status:\s*(\S+)/m.exec(container.run("cloud-init", ["status"]).stdout)?.[1];
    if (status === "done" || status === "error" || status === "degraded") return Date.now();
    await sleep(1000);
  }
  throw new Error(`cloud-init did not finish within ${CLOUD_INIT_TIMEOUT_MS / 1000} s; console tail:\n${container.console().slice(-2000)}`);
}

/** Runs a labClient.ts job in a lab host without blocking this process (the container's console keeps draining). */
async function labJob(lab: NetLab, ns: string, job: LabJob, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const client = join(__dirname, "..", "..", "test", "support", "labClient.ts");
  const run = await lab.run(ns, process.execPath, ["--import", "tsx", client, JSON.stringify(job)], { timeoutMs });
  const last = run.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    return { ok: false, error: `the client printed no result (exit ${run.status}): ${run.stderr.trim().slice(-300)}` };
  }
}

function guestFile(container: BootedContainer, path: string): string {
  return container.run("cat", [path]).stdout;
}

function vmFileContent(vm: RenderedVm, path: string): string {
  const file = vm.files.find((f) => f.path === path);
  if (!file) throw new Error(`the rendered VM has no ${path}`);
  return file.content;
}

/** The addresses coturn may name as its listener: the rendered ones (with DigitalOcean's placeholder) and the real one. */
function listeningIps(vm: RenderedVm, bootLab: BootLab): string[] {
  return [...[...vm.turnserverConf.matchAll(/^listening-ip=(\S+)$/gm)].map((m) => m[1]), bootLab.coturnIp];
}

function openFilesRow(container: BootedContainer, dropIn: string): CheckResult {
  const unitLimit = Number(/^LimitNOFILE=(\d+)$/m.exec(dropIn)?.[1]);
  const pid = container.run("systemctl", ["show", "coturn", "--property=MainPID", "--value"]).stdout.trim();
  const hostHard = openFilesLimit(readFileSync("/proc/self/limits", "utf8"))?.hard ?? Infinity;
  return openFilesCheck(unitLimit, container.run("cat", [`/proc/${pid}/limits`]).stdout, hostHard);
}

/** The sockets coturn must listen on, and the cloud's network step (DigitalOcean's anchor routing, the 443 redirect). */
function networkRows(container: BootedContainer, bootLab: BootLab, config: ServerConfig): CheckResult[] {
  const rows: CheckResult[] = [];
  const sockets = container.run("ss", ["-Hlntu"]).stdout;
  const wanted: Array<[string, string, number]> = [
    ["udp", "udp", LISTENER_PORTS.plain],
    ["tcp", "tcp", LISTENER_PORTS.plain],
    ["tls", "tcp", LISTENER_PORTS.tls],
    ["dtls", "udp", LISTENER_PORTS.tls],
  ];
  const listening = wanted.filter(([listener]) => config.listeners.has(listener as never));
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

/** Delivers the secret as `pulumi up` does: ssh as the deploy user, host key pinned, the set on stdin. */
async function deliverSecret(bootLab: BootLab, workDir: string, deployKey: string, hostPublicKey: string, secret: string): Promise<CheckResult> {
  const check = "secret delivered over SSH (pinned host key)";
  const keyFile = join(workDir, "deploy-key");
  const knownHosts = join(workDir, "known_hosts");
  writeFileSync(keyFile, deployKey, { mode: 0o600 });
  writeFileSync(knownHosts, `${bootLab.publicIp} ${hostPublicKey.trim()}\n`);
  const run = await bootLab.lab.run(
    bootLab.hosts.client,
    "ssh",
    [
      "-i", keyFile,
      "-o", `UserKnownHostsFile=${knownHosts}`,
      "-o", "StrictHostKeyChecking=yes",
      "-o", "BatchMode=yes",
      "-o", "ConnectTimeout=10",
      `${DEPLOY_USER}@${bootLab.publicIp}`,
    ],
    { input: secretSetDocument([secret]), timeoutMs: 60_000 },
  );
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

/** A relayed round trip with credentials minted from the delivered secret, and a refusal for a wrong one. */
async function turnRows(bootLab: BootLab, secret: string, wrongSecret: string): Promise<CheckResult[]> {
  const server = { host: bootLab.publicIp, port: LISTENER_PORTS.plain };
  const credentials = (from: string): { username: string; password: string } => {
    const minted = mintTurnCredential({ secret: from, user: "boot-test", ttlSeconds: 600 });
    return { username: minted.username, password: minted.credential };
  };
  const echo = await labJob(bootLab.lab, bootLab.hosts.client, {
    job: "echo",
    server,
    transport: "udp",
    credentials: credentials(secret),
    peer: { host: bootLab.peerIp, port: ECHO_PORT },
    bytes: 1000,
  });
  const relayed = echo.relayed as { host?: string } | undefined;
  const wrong = await labJob(bootLab.lab, bootLab.hosts.client, { job: "allocate", server, transport: "udp", credentials: credentials(wrongSecret) });
  return [
    rowFrom(
      "TURN relays to a peer and back",
      [
        ...(echo.identical === true ? [] : [`no identical echo: ${JSON.stringify(echo).slice(0, 200)}`]),
        ...(relayed?.host === bootLab.publicIp ? [] : [`relayed address ${relayed?.host}, not the static IP ${bootLab.publicIp}`]),
      ],
      `1000 bytes to ${bootLab.peerIp} and back through relay ${relayed?.host}, credentials minted from the delivered secret`,
    ),
    wrong.ok === false && wrong.code === 401
      ? { check: "a wrong secret is refused", status: "ok", detail: "401 for credentials minted from another secret" }
      : { check: "a wrong secret is refused", status: "FAIL", detail: wrong.ok ? "allocated with a wrong secret: coturn does not authenticate" : `expected 401, got ${JSON.stringify(wrong).slice(0, 160)}` },
  ];
}

/** Sends `signal` to coturn's main process and checks that systemd starts a new one that answers STUN. */
async function restartRow(container: BootedContainer, bootLab: BootLab, signal: "HUP" | "KILL"): Promise<CheckResult> {
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
      const stun = await labJob(bootLab.lab, bootLab.hosts.client, { job: "stun", server: { host: bootLab.publicIp, port: LISTENER_PORTS.plain }, waitMs: 5000 });
      return stun.ok === true
        ? { check, status: "ok", detail: `SIGHUP did not end process ${before}; it still answers STUN` }
        : { check, status: "FAIL", detail: `process ${before} survived SIGHUP but answers no STUN: ${String(stun.error)}` };
    }
    if (now !== before && now !== "0" && container.run("systemctl", ["is-active", "coturn"]).stdout.trim() === "active") {
      const stun = await labJob(bootLab.lab, bootLab.hosts.client, { job: "stun", server: { host: bootLab.publicIp, port: LISTENER_PORTS.plain }, waitMs: 10_000 });
      if (stun.ok !== true) return { check, status: "FAIL", detail: `restarted as ${now} but no STUN answer: ${String(stun.error)}` };
      return { check, status: "ok", detail: `new process ${now} answered STUN ${((Date.now() - sent) / 1000).toFixed(1)} s after the signal` };
    }
  }
  const state = container.run("systemctl", ["show", "coturn", "--property=ActiveState,SubState,Result"]).stdout.trim().replace(/\n/g, ", ");
  return { check, status: "FAIL", detail: `not running ${RESTART_TIMEOUT_MS / 1000} s after the signal (${state})` };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
