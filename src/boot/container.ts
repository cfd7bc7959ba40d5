/**
 * One boot of the image as a VM would boot: a fresh overlay of the image with a NoCloud seed (user-data, meta-data,
 * network-config) in /var/lib/cloud/seed/nocloud, started with `systemd-nspawn --boot` inside a network namespace the
 * caller made. systemd runs as PID 1 and cloud-init as on a cloud. Commands run inside with nsenter; `stop()` powers
 * the container off as a VM shuts down (SIGTERM to nspawn, which asks systemd to power off), killing it only if that
 * does not finish in time. The image itself is never written to.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The NoCloud seed a boot gets. */
export interface NoCloudSeed {
  /** The user-data exactly as the cloud hands it to the VM (gzipped for EC2). */
  readonly userData: Buffer | string;
  /** `meta-data`: instance-id and hostname. */
  readonly metaData: string;
  /** `network-config` (version 2). */
  readonly networkConfig: string;
}

/** How a command run inside the container ended. */
export interface GuestRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running container. */
export interface BootedContainer {
  /** When nspawn was started (epoch ms). */
  readonly launchedAt: number;
  /** PID, on this machine, of the container's systemd. */
  readonly leaderPid: number;
  /** What the container printed on its console so far (what a cloud's console log shows). */
  console(): string;
  /** Runs a command inside the container (all its namespaces) and returns how it ended. */
  run(command: string, args: readonly string[], input?: string): GuestRun;
  /** Like `run`, returning stdout; throws with the output when the command fails. */
  exec(command: string, ...args: string[]): string;
  /** True while nspawn runs. */
  running(): boolean;
  /** Powers the container off; resolves with how long it took and whether it ended on its own. */
  stop(timeoutMs?: number): Promise<{ readonly clean: boolean; readonly ms: number; readonly exit: number | string }>;
  /** Stops it if needed, unmounts the overlay and removes the boot's files. */
  cleanup(): Promise<void>;
}

/** The seed's folder inside the guest. */
export const SEED_DIR = "/var/lib/cloud/seed/nocloud";

/** Starts a container from `rootfs` with `seed`, in network namespace `netns`; resolves once its systemd runs. */
export async function bootContainer(options: {
  rootfs: string;
  seed: NoCloudSeed;
  netns: string;
  workDir: string;
  machineName: string;
}): Promise<BootedContainer> {
  const { rootfs, seed, netns, workDir, machineName } = options;
  const upper = join(workDir, "upper");
  const work = join(workDir, "work");
  const merged = join(workDir, "root");
  for (const dir of [upper, work, merged]) mkdirSync(dir, { recursive: true });
  mustRun("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${rootfs},upperdir=${upper},workdir=${work}`, merged]);
  let nspawn: ChildProcess | undefined;
  const unmount = (): void => {
    // Lazily: a process of the container that is still going down must not keep the overlay (and the test) hanging.
    spawnSync("umount", ["--lazy", merged]);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const seedDir = join(merged, SEED_DIR);
    mkdirSync(seedDir, { recursive: true });
    writeFileSync(join(seedDir, "user-data"), seed.userData, { mode: 0o600 });
    writeFileSync(join(seedDir, "meta-data"), seed.metaData, { mode: 0o600 });
    writeFileSync(join(seedDir, "network-config"), seed.networkConfig, { mode: 0o600 });

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
    let stopped: { clean: boolean; ms: number; exit: number | string } | undefined;
    const stop = async (timeoutMs = 60_000): Promise<{ clean: boolean; ms: number; exit: number | string }> => {
      if (stopped) return stopped;
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      const outcome = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        child.kill("SIGKILL");
        stopped = { clean: false, ms: Date.now() - started, exit: await exited };
      } else {
        stopped = { clean: outcome === 0, ms: Date.now() - started, exit: outcome };
      }
      return stopped;
    };
    return {
      launchedAt,
      leaderPid,
      console: () => consoleText,
      run,
      exec: (command, ...args) => {
        const result = run(command, args);
        if (result.status !== 0) throw new Error(`in the container, ${command} ${args.join(" ")} exited ${result.status}: ${result.stderr || result.stdout}`);
        return result.stdout;
      },
      running: () => child.exitCode === null && child.signalCode === null,
      stop,
      cleanup: async () => {
        await stop();
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

function mustRun(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
}
