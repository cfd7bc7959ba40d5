/**
 * Boots a stack's user-data for real and checks the VM it makes (see checks.ts): the exact user-data `pulumi up` hands
 * the stack's cloud, rendered with SSH keys made for this boot and the lab's static IP, goes through cloud-init under
 * systemd in a container (container.ts) or a qemu virtual machine (qemu.ts) on the cloud's network (bootLab.ts).
 * Then, as `pulumi up` does, a TURN secret made for this boot and the operations files (the TLS certificate manager
 * and the monitoring) are delivered over SSH with the pinned host key, a client on the lab internet talks to the
 * coturn the boot started, and the metrics read key must show exactly what it did (opsChecks.ts). The stack's own
 * secrets are never needed: the user-data holds none. */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { LISTENER_PORTS, type DeployCloud, type ImageChoice } from "../../src/config/schema";
import type { ServerConfig } from "../../src/config/stackConfig";
import { bindAddressFor } from "../../src/plan/addresses";
import type { VmAccess } from "../../src/render/deployChannel";
import { accountingCounters, MONITORING_PATHS } from "../../src/render/monitoringFiles";
import { DROP_IN_PATH, renderVm, SYSCTL_PATH, vmFile, type RenderedVm } from "../../src/render/vmFiles";
import { generateSshKeyPair } from "../sshKeys";
import { requireCommands } from "../netlab";
import { buildBootLab, type BootLab } from "./bootLab";
import {
  cloudInitCheck,
  configReadCheck,
  dropInCheck,
  dropInProperties,
  expectedFiles,
  expectedOpsFiles,
  failedUnitsCheck,
  filesCheck,
  kernelSettingRows,
  privateKeyLines,
  secretsCheck,
  serviceCheck,
  sysctlFile,
  type CheckResult,
} from "./checks";
import { bootContainer } from "./container";
import type { BootedGuest } from "./guest";
import { runLabJobAsync } from "../cloudLab";
import {
  accountingListing,
  deliverOps,
  deliverSecret,
  ECHO_PORT,
  guestFile,
  metricsFromTheWorldRow,
  metricsPortRows,
  networkRows,
  openFilesRow,
  opsUnitsRow,
  readMetricsUntil,
  restartRow,
  sshToDeployUser,
  TURN_ROWS_LOAD,
  turnRows,
  type SshFiles,
} from "./guestProbes";
import { accountingCheck, rateLimitsCheck, forcedCommandCheck, journaldCheck, metricsReadCheck, type ExpectedFigure } from "./opsChecks";
import { ensureBootImage, IMAGE_BUILD_COMMANDS, type BootImage } from "./image";
import { IMAGE_RECIPE, QEMU_IMAGE_RECIPE } from "./imageRecipe";
import { bootQemu, QEMU_COMMANDS } from "./qemu";
import { metaData, networkConfig } from "./seed";
import { userDataOnVm } from "../../src/clouds/userData";

/** Longest wait for cloud-init to finish (a loaded 2-core machine installs ~100 packages in well under this). */
const CLOUD_INIT_TIMEOUT_MS = 300_000;
/** The same under software emulation, where installing the packages alone takes minutes. */
const QEMU_CLOUD_INIT_TIMEOUT_MS = 1_800_000;
/** Longest wait for the metrics to show the TURN checks' figures: the collector runs every 15 s (two rounds and some). */
const METRICS_WAIT_MS = 40_000;
/** The command the metrics read key is asked for instead of its own: it must still print metrics only. */
const FORBIDDEN_COMMAND = "cat /etc/shadow";
/** The admin user the user-data creates for `coturn:ssh.publicKeys` (templates/cloud-init.yaml.hbs). */
const ADMIN_USER = "turnops";

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
  /** How to boot: a container (default, about a minute) or a qemu virtual machine (its own kernel; much slower). */
  readonly guest?: "container" | "qemu";
}

/** Durations of one boot, in milliseconds from nspawn's launch. */
export interface BootTimings {
  /** Launch to the first STUN answer at the static IP (coturn starts once the bootstrap has checked its files). */
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
  /** How it was booted. */
  readonly guest: "container" | "qemu";
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
  ["/usr/bin/curl", "curl"],
];

/** Boots the stack's user-data and checks the VM; never throws for a failed check (the row says FAIL). */
export async function bootStack(options: BootOptions): Promise<BootReport> {
  const { log } = options;
  const qemu = options.guest === "qemu";
  requireCommands([...BOOT_TEST_COMMANDS, ...(qemu ? QEMU_COMMANDS : [])]);
  const image = ensureBootImage(log, qemu ? QEMU_IMAGE_RECIPE : IMAGE_RECIPE);
  const keys = {
    host: generateSshKeyPair("boot-host"),
    deploy: generateSshKeyPair("boot-deploy"),
    tls: generateSshKeyPair("boot-tls-deploy"),
    metrics: generateSshKeyPair("boot-metrics-read"),
    ops: generateSshKeyPair("boot-ops-deploy"),
  };
  const access: VmAccess = {
    hostKey: keys.host,
    deployPublicKey: keys.deploy.publicKey,
    tlsDeployPublicKey: keys.tls.publicKey,
    metricsReadPublicKey: keys.metrics.publicKey,
    opsDeployPublicKey: keys.ops.publicKey,
  };
  // Under qemu the harness has no nsenter: it logs in as the stack's admin user, with a key added for this boot.
  const admin = qemu ? generateSshKeyPair("boot-admin") : undefined;
  const config: ServerConfig = admin
    ? { ...options.config, ssh: { ...options.config.ssh, publicKeys: [...options.config.ssh.publicKeys, admin.publicKey.trim()] } }
    : options.config;
  const cloudInitTimeoutMs = qemu ? QEMU_CLOUD_INIT_TIMEOUT_MS : CLOUD_INIT_TIMEOUT_MS;
  const bind = bindAddressFor(config.cloud);
  log(`network: building the ${config.cloud} lab (${bind.kind === "nat" ? "1:1 NAT to the private address" : "Reserved IP on the anchor address, metadata stand-in"})`);
  const bootLab = await buildBootLab(bind);
  const workDir = mkdtempSync(join(tmpdir(), "coturn-boot-"));
  const knownHostsFile = join(workDir, "known_hosts");
  writeFileSync(knownHostsFile, `${bootLab.publicIp} ${keys.host.publicKey.trim()}\n`);
  const keyFiles = (name: string, privateKey: string): SshFiles => {
    const keyFile = join(workDir, name);
    writeFileSync(keyFile, privateKey, { mode: 0o600 });
    return { keyFile, knownHostsFile };
  };
  const sshFiles = keyFiles("deploy-key", keys.deploy.privateKey);
  const opsSsh = keyFiles("ops-deploy-key", keys.ops.privateKey);
  const metricsSsh = keyFiles("metrics-read-key", keys.metrics.privateKey);
  let guest: BootedGuest | undefined;
  let consoleLog = "";
  let metricsPage = "";
  const results: CheckResult[] = [];
  const timings: { firstStunMs?: number; cloudInitMs?: number; stopMs?: number } = {};
  try {
    const vm = renderVm(config, { publicIp: bootLab.publicIp, bind }, access);
    const userData = options.editUserData ? options.editUserData(vm.userData) : vm.userData;
    const { lab, hosts } = bootLab;
    lab.start(hosts.peer, "turnutils_peer", ["-L", bootLab.peerIp, "-p", String(ECHO_PORT)]);
    const seedUserData = userDataOnVm(config.cloud, userData);
    const nics = Object.keys(bootLab.guestInterfaces).map((name, i) => ({ name, mac: `52:54:00:b0:07:${String(i + 1).padStart(2, "0")}` }));
    const seed = {
      userData: seedUserData,
      metaData: metaData(`i-boot-${randomBytes(6).toString("hex")}`, config.stack),
      // A virtual machine names its NICs itself: match them by MAC address.
      networkConfig: networkConfig(bootLab.guestInterfaces, qemu ? Object.fromEntries(nics.map((n) => [n.name, n.mac])) : {}),
    };
    log(
      `boot: ${config.stack}'s user-data (${seedUserData.length} bytes as ${config.cloud} hands it over) through cloud-init ` +
        (qemu ? "in a qemu virtual machine (software emulation: several minutes)" : "under systemd-nspawn"),
    );
    if (admin) {
      const adminKeyFile = join(workDir, "admin-key");
      writeFileSync(adminKeyFile, admin.privateKey, { mode: 0o600 });
      guest = await bootQemu({
        rootfs: image.rootfs,
        seed,
        netns: hosts.vm,
        workDir: join(workDir, "qemu"),
        nics,
        ssh: { ns: hosts.client, host: bootLab.publicIp, user: ADMIN_USER, keyFile: adminKeyFile, knownHostsFile },
      });
    } else {
      guest = await bootContainer({
        rootfs: image.rootfs,
        seed,
        netns: hosts.vm,
        workDir: join(workDir, "container"),
        machineName: `boot-${randomBytes(4).toString("hex")}`,
      });
    }
    const booted = guest;
    const stunServer = { host: bootLab.publicIp, port: LISTENER_PORTS.plain };
    const firstStun = runLabJobAsync(lab, hosts.client, { job: "stun", server: stunServer, waitMs: cloudInitTimeoutMs }, cloudInitTimeoutMs + 30_000);

    log("boot: waiting for cloud-init to finish (it installs coturn from the image's apt cache)");
    const cloudInitDone = await waitForCloudInit(booted, cloudInitTimeoutMs, options.signal);
    timings.cloudInitMs = cloudInitDone - booted.launchedAt;
    // coturn answers long before cloud-init ends; past this grace it is not going to (lab.destroy() stops the client).
    const stun = (await Promise.race([
      firstStun,
      sleep(30_000, undefined, { ref: false }).then(() => ({ ok: false, error: "no STUN answer at the static IP within 30 s of cloud-init's end" })),
    ])) as { ok: boolean; answeredAt?: number; mapped?: { host: string }; error?: string };
    if (stun.ok && stun.answeredAt) timings.firstStunMs = stun.answeredAt - booted.launchedAt;
    log(`boot: cloud-init finished ${(timings.cloudInitMs / 1000).toFixed(1)} s after launch; checking the VM`);

    results.push(cloudInitCheck(booted.run("cloud-init", ["status", "--long"]).stdout, guestFile(booted, "/var/log/cloud-init.log")));
    const expected = expectedFiles(vm);
    results.push(filesCheck(expected, booted.run("stat", ["-c", "%n %U %G %a", ...expected.map((f) => f.path)]).stdout));
    results.push(failedUnitsCheck(booted.run("systemctl", ["--failed", "--plain", "--no-legend"]).stdout, booted.console()));
    results.push(serviceCheck(booted.run("systemctl", ["is-active", "coturn"]).stdout, booted.run("systemctl", ["is-enabled", "coturn"]).stdout));
    const dropIn = vmFile(vm, DROP_IN_PATH);
    results.push(dropInCheck(DROP_IN_PATH, dropIn, booted.run("systemctl", ["show", "coturn", ...dropInProperties(dropIn).map((p) => `--property=${p}`)]).stdout));
    results.push(openFilesRow(booted, dropIn));
    results.push(...networkRows(booted, bootLab, config));
    results.push(
      ...kernelSettingRows(
        sysctlFile(vmFile(vm, SYSCTL_PATH)).map(({ key, value }) => {
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
    results.push(await deliverSecret(bootLab, sshFiles, secret));

    // What pulumi up does next (src/components/opsDelivery.ts), before any TURN traffic: the kernel counters and mtail
    // must see the TURN checks below.
    log("delivery: the operations files (TLS manager, monitoring) over SSH as pulumi up sends them (operations deploy key)");
    // Between the package's install and this delivery node-exporter runs with the package's own settings.
    results.push(await metricsFromTheWorldRow(bootLab, "metrics closed to the world before the operations delivery"));
    const consoleBeforeOps = booted.console().length;
    results.push(await deliverOps(bootLab, opsSsh, booted, vm, "operations files delivered over SSH (pinned host key)", vm.opsFiles.length));
    const opsExpected = expectedOpsFiles(vm);
    results.push(
      filesCheck(
        opsExpected,
        booted.run("stat", ["-c", "%n %U %G %a", ...opsExpected.map((f) => f.path)]).stdout,
        "operations files: owner, group and mode",
        `${opsExpected.length} files root-owned with their rendered group and mode`,
      ),
    );
    results.push(await opsUnitsRow(booted));
    results.push(...(await metricsPortRows(booted, bootLab)));
    results.push(await deliverOps(bootLab, opsSsh, booted, vm, "operations files: a second delivery changes nothing", 0));
    const countersBefore = accountingListing(booted);
    results.push(
      stun.ok && stun.mapped?.host === bootLab.clientIp
        ? { check: "STUN binding at the static IP", status: "ok", detail: `reflexive address ${stun.mapped.host}, as the client sees itself` }
        : { check: "STUN binding at the static IP", status: "FAIL", detail: stun.ok ? `reflexive address ${stun.mapped?.host}, not ${bootLab.clientIp}` : String(stun.error) },
    );
    results.push(...(await turnRows(bootLab, secret, wrongSecret)));

    log("monitoring: the kernel counters, and the metrics over SSH (read key) until they show the TURN checks");
    const counterNames = accountingCounters(config.relayPorts).map((c) => `${c.name}_in`);
    results.push(accountingCheck(countersBefore, accountingListing(booted), counterNames, { packets: TURN_ROWS_LOAD.echoDatagrams, payloadBytes: TURN_ROWS_LOAD.echoBytes }));
    results.push(rateLimitsCheck(booted.run("nft", ["list", "table", "inet", "coturn_limits"]).stdout, config.rateLimits));
    const figures: ExpectedFigure[] = [
      { name: "coturn_up", value: 1, why: "coturn runs" },
      { name: "coturn_log_metrics_up", value: 1, why: "mtail reads coturn's journal" },
      { name: "coturn_allocations_created_total", labels: { transport: "plain" }, value: TURN_ROWS_LOAD.plainAllocations, why: "the TURN checks made one UDP allocation" },
      { name: "coturn_requests_refused_total", labels: { code: "401" }, value: TURN_ROWS_LOAD.wrongSecretAttempts, why: "the TURN checks made one attempt with a wrong secret" },
    ];
    const read = await readMetricsUntil(bootLab, metricsSsh, figures, METRICS_WAIT_MS);
    metricsPage = read.run.stdout;
    results.push(metricsReadCheck(read.run, figures, read.waitedMs));
    results.push(forcedCommandCheck(FORBIDDEN_COMMAND, await sshToDeployUser(bootLab, metricsSsh, { remoteCommand: FORBIDDEN_COMMAND.split(" "), timeoutMs: 30_000 })));
    results.push(
      journaldCheck(
        dropIn,
        booted.run("systemctl", ["show", "coturn", "-p", "LogRateLimitIntervalUSec", "-p", "LogRateLimitBurst"]).stdout,
        MONITORING_PATHS.journaldLimits,
        vmFile(vm, MONITORING_PATHS.journaldLimits),
        booted.run("systemd-analyze", ["cat-config", "systemd/journald.conf"]).stdout,
      ),
    );
    results.push(
      failedUnitsCheck(
        booted.run("systemctl", ["--failed", "--plain", "--no-legend"]).stdout,
        booted.console().slice(consoleBeforeOps),
        "no unit failed after the operations delivery",
      ),
    );

    options.signal?.throwIfAborted();
    log("restart policy: SIGHUP and SIGKILL to coturn");
    for (const signal of ["HUP", "KILL"] as const) results.push(await restartRow(booted, bootLab, signal));
    results.push(configReadCheck(booted.run("journalctl", ["--boot", "--unit=coturn", "--no-pager", "--output=short"]).stdout, listeningIps(vm, bootLab)));

    results.push(
      secretsCheck(
        {
          console: booted.console(),
          "/var/log/cloud-init-output.log": guestFile(booted, "/var/log/cloud-init-output.log"),
          journal: booted.run("journalctl", ["--boot", "--no-pager", "--output=cat"]).stdout,
          metrics: metricsPage,
        },
        {
          "TURN secret": [secret],
          "SSH host private key": privateKeyLines(keys.host.privateKey),
          "deploy private key": privateKeyLines(keys.deploy.privateKey),
          "TLS deploy private key": privateKeyLines(keys.tls.privateKey),
          "metrics read private key": privateKeyLines(keys.metrics.privateKey),
          "operations deploy private key": privateKeyLines(keys.ops.privateKey),
        },
      ),
    );
    log("stop: powering the VM off");
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
    await guest?.cleanup();
    consoleLog = guest?.console() ?? "";
    await bootLab.lab.destroy();
    rmSync(workDir, { recursive: true, force: true });
  }
  return { stack: config.stack, cloud: config.cloud, guest: qemu ? "qemu" : "container", stackImage: config.image, image, results, timings, passed: results.every((r) => r.status !== "FAIL"), consoleLog };
}

/** Polls `cloud-init status` until it is done or in error; returns when (epoch ms). */
async function waitForCloudInit(guest: BootedGuest, timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (!guest.running()) throw new Error(`the VM stopped during boot:\n${guest.console().slice(-2000)}`);
    const status = /^status:\s*(\S+)/m.exec(guest.run("cloud-init", ["status"]).stdout)?.[1];
    if (status === "done" || status === "error" || status === "degraded") return Date.now();
    await sleep(1000);
  }
  throw new Error(`cloud-init did not finish within ${timeoutMs / 1000} s; console tail:\n${guest.console().slice(-2000)}`);
}

/** The addresses coturn may name as its listener: the rendered ones (with DigitalOcean's placeholder) and the real one. */
function listeningIps(vm: RenderedVm, bootLab: BootLab): string[] {
  return [...[...vm.turnserverConf.matchAll(/^listening-ip=(\S+)$/gm)].map((m) => m[1]), bootLab.coturnIp];
}
