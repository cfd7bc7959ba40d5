/**
 * A booted VM as the boot harness sees it, whichever way it was booted: a systemd-nspawn container (container.ts,
 * the default) or a qemu virtual machine (qemu.ts, slower, with its own kernel).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** How a command run inside the guest ended. */
export interface GuestRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running guest. */
export interface BootedGuest {
  /** How it runs: a container shares this machine's kernel, a virtual machine has its own. */
  readonly kind: "container" | "qemu";
  /** When it was started (epoch ms). */
  readonly launchedAt: number;
  /** What the guest printed on its console so far (what a cloud's console log shows). */
  console(): string;
  /** Runs a command inside the guest as root and returns how it ended. */
  run(command: string, args: readonly string[], input?: string): GuestRun;
  /** True while the guest runs. */
  running(): boolean;
  /** Powers the guest off; resolves with how long it took and whether it ended on its own. */
  stop(timeoutMs?: number): Promise<PowerOff>;
  /** Stops it if needed and removes the boot's files. */
  cleanup(): Promise<void>;
}

/** How a guest's power-off went. */
export interface PowerOff {
  /** True when it ended on its own with exit status 0. */
  readonly clean: boolean;
  /** From the request to the end. */
  readonly ms: number;
  /** The exit status or signal of the process that ran it. */
  readonly exit: number | string;
}

/**
 * Makes a guest's `stop()`: asks once (`request`), waits for `exited` up to the timeout, then `kill`s it. Later calls
 * return the first outcome.
 */
export function powerOff(request: () => void, exited: Promise<number | string>, kill: () => void): (timeoutMs: number) => Promise<PowerOff> {
  let outcome: Promise<PowerOff> | undefined;
  return (timeoutMs) => {
    outcome ??= (async () => {
      const started = Date.now();
      request();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
      const ended = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (ended !== "timeout") return { clean: ended === 0, ms: Date.now() - started, exit: ended };
      kill();
      return { clean: false, ms: Date.now() - started, exit: await exited };
    })();
    return outcome;
  };
}

/** The NoCloud seed a boot gets. */
export interface NoCloudSeed {
  /** The user-data exactly as the cloud hands it to the VM (gzipped for EC2). */
  readonly userData: Buffer | string;
  /** `meta-data`: instance-id and hostname. */
  readonly metaData: string;
  /** `network-config` (version 2). */
  readonly networkConfig: string;
}

/** The seed's folder inside the guest. */
export const SEED_DIR = "/var/lib/cloud/seed/nocloud";

/** A fresh overlay of the image with the seed written in; `remove()` unmounts it and deletes its folder. */
export interface SeededOverlay {
  /** The root filesystem to boot (the image below, this boot's changes above). */
  readonly merged: string;
  remove(): void;
}

/** Mounts a fresh overlay of `rootfs` under `workDir` and writes the NoCloud seed into it. The image is never written. */
export function mountSeededOverlay(rootfs: string, seed: NoCloudSeed, workDir: string): SeededOverlay {
  const upper = join(workDir, "upper");
  const work = join(workDir, "work");
  const merged = join(workDir, "root");
  for (const dir of [upper, work, merged]) mkdirSync(dir, { recursive: true });
  const mount = spawnSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${rootfs},upperdir=${upper},workdir=${work}`, merged], { encoding: "utf8" });
  if (mount.status !== 0) throw new Error(`mounting an overlay of ${rootfs} failed: ${mount.stderr}`);
  const remove = (): void => {
    // Lazily: a process that is still going down must not keep the overlay (and the test) hanging.
    spawnSync("umount", ["--lazy", merged]);
    rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const seedDir = join(merged, SEED_DIR);
    mkdirSync(seedDir, { recursive: true });
    writeFileSync(join(seedDir, "user-data"), seed.userData, { mode: 0o600 });
    writeFileSync(join(seedDir, "meta-data"), seed.metaData, { mode: 0o600 });
    writeFileSync(join(seedDir, "network-config"), seed.networkConfig, { mode: 0o600 });
  } catch (error) {
    remove();
    throw error;
  }
  return { merged, remove };
}
