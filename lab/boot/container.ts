/**
 * One boot of the image as a VM would boot: a fresh overlay of the image with a NoCloud seed (user-data, meta-data,
 * network-config) in /var/lib/cloud/seed/nocloud, started with `systemd-nspawn --boot` inside a network namespace the
 * caller made. systemd runs as PID 1 and cloud-init as on a cloud. Commands run inside with nsenter; `stop()` powers
 * the container off as a VM shuts down (SIGTERM to nspawn, which asks systemd to power off), killing it only if that
 * does not finish in time. The image itself is never written to.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { mountSeededOverlay, powerOff, type BootedGuest, type GuestRun, type NoCloudSeed } from "./guest";

/** A running container: a guest that shares this machine's kernel. */
export interface BootedContainer extends BootedGuest {
  /** PID, on this machine, of the container's systemd. */
  readonly leaderPid: number;
}

/** Starts a container from `rootfs` with `seed`, in network namespace `netns`; resolves once its systemd runs. */
export async function bootContainer(options: {
  rootfs: string;
  seed: NoCloudSeed;
  netns: string;
  workDir: string;
  machineName: string;
}): Promise<BootedContainer> {
  const { rootfs, seed, netns, workDir, machineName } = options;
  const overlay = mountSeededOverlay(rootfs, seed, workDir);
  const { merged } = overlay;
  let nspawn: ChildProcess | undefined;
  const unmount = overlay.remove;
  try {
    const launchedAt = Date.now();
    // --register=no --keep-unit: this machine has no systemd to register with. CAP_NET_ADMIN: the guest configures
    // its own interfaces, routes and nftables rules, as on a VM.
    nspawn = spawn(
      "systemd-nspawn",
      [
        "--boot",
        "--quiet",
        `--directory=${merged}`,
        `--machine=${machineName}`,
        `--network-namespace-path=/run/netns/${netns}`,
        "--register=no",
        "--keep-unit",
        "--capability=CAP_NET_ADMIN",
        "--link-journal=no",
        "--console=read-only",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const child = nspawn;
    let consoleText = "";
    child.stdout?.on("data", (chunk: Buffer) => (consoleText += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (consoleText += chunk.toString()));
    const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
    const leaderPid = await findLeader(child, () => consoleText);

    const run = (command: string, args: readonly string[], input?: string): GuestRun => {
      const result = spawnSync("nsenter", [`--target=${leaderPid}`, "--mount", "--uts", "--ipc", "--net", "--pid", "--", command, ...args], {
        encoding: "utf8",
        input: input ?? "",
        timeout: 60_000,
        maxBuffer: 32 * 2 ** 20,
      });
      return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
    };
    const running = (): boolean => child.exitCode === null && child.signalCode === null;
    // SIGTERM makes nspawn ask the container's systemd to power off.
    const stop = powerOff(() => running() && child.kill("SIGTERM"), exited, () => child.kill("SIGKILL"));
    return {
      kind: "container",
      launchedAt,
      leaderPid,
      console: () => consoleText,
      run,
      running,
      stop: (timeoutMs = 60_000) => stop(timeoutMs),
      cleanup: async () => {
        await stop(60_000);
        unmount();
      },
    };
  } catch (error) {
    if (nspawn && nspawn.exitCode === null) nspawn.kill("SIGKILL");
    unmount();
    throw error;
  }
}

/** The container's systemd: nspawn's child, once it has become systemd (bounded wait). */
async function findLeader(nspawn: ChildProcess, consoleText: () => string): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (nspawn.exitCode !== null || nspawn.signalCode !== null) {
      throw new Error(`systemd-nspawn ended (${nspawn.exitCode ?? nspawn.signalCode}) before the container booted:\n${consoleText().slice(-3000)}`);
    }
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const status = readFileSync(`/proc/${entry}/status`, "utf8");
        if (new RegExp(`^PPid:\\s+${nspawn.pid}$`, "m").test(status) && /^Name:\s+systemd$/m.test(status)) return Number(entry);
      } catch {
        // The process ended while being read.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the container's systemd did not start within 20 s:\n${consoleText().slice(-3000)}`);
}
