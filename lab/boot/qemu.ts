/**
 * The slower boot: the same image with Debian's cloud kernel, as a qemu virtual machine (software emulation: this
 * machine's KVM device does not boot a stock kernel), for what a container cannot show because it shares this
 * machine's kernel: the relay's sysctls and coturn's real open-files limit. Direct kernel boot of a disk made from a
 * fresh overlay of the image with the NoCloud seed in it; each guest interface is a tap device bridged, inside the
 * lab's VM namespace, to the lab interface of the same name. Commands run over SSH as the stack's admin user
 * (`turnops`, sudo), whose key the harness adds to the stack's `coturn:ssh.publicKeys`; the host key is the pinned one.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { mountSeededOverlay, powerOff, type BootedGuest, type GuestRun, type NoCloudSeed } from "./guest";

/** The programs a qemu boot needs, with the Debian package of each. */
export const QEMU_COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ["/usr/bin/qemu-system-x86_64", "qemu-system-x86"],
  ["/usr/sbin/mkfs.ext4", "e2fsprogs"],
];

/** One guest network interface: its name in the guest, the lab interface it is bridged to, its MAC address. */
export interface QemuNic {
  readonly name: string;
  readonly mac: string;
}

/** How the harness reaches the guest's shell: SSH from a lab host, as the admin user, with the pinned host key. */
export interface GuestSsh {
  /** The lab namespace ssh runs in. */
  readonly ns: string;
  readonly host: string;
  readonly user: string;
  readonly keyFile: string;
  readonly knownHostsFile: string;
}

/** Quotes one argument for the remote shell ssh hands the command to. */
function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Boots the image as a virtual machine in network namespace `netns`; resolves once qemu runs. */
export async function bootQemu(options: {
  rootfs: string;
  seed: NoCloudSeed;
  netns: string;
  workDir: string;
  nics: readonly QemuNic[];
  ssh: GuestSsh;
}): Promise<BootedGuest> {
  const { rootfs, seed, netns, workDir, nics, ssh } = options;
  const boot = join(rootfs, "boot");
  const kernel = readdirSync(boot).find((f) => f.startsWith("vmlinuz-"));
  const initrd = readdirSync(boot).find((f) => f.startsWith("initrd.img-"));
  if (!kernel || !initrd) throw new Error(`the qemu image has no kernel or initramfs in ${boot}: rebuild it (remove ${rootfs})`);
  const disk = join(workDir, "disk.img");
  const overlay = mountSeededOverlay(rootfs, seed, join(workDir, "overlay"));
  try {
    // mkfs.ext4 -d copies the tree with its owners and modes: the disk is the image plus this boot's seed.
    must("mkfs.ext4", ["-q", "-F", "-L", "root", "-d", overlay.merged, disk, "4G"]);
  } finally {
    overlay.remove();
  }
  nics.forEach((nic, i) => {
    must("ip", ["-n", netns, "tuntap", "add", `tap${i}`, "mode", "tap"]);
    must("ip", ["-n", netns, "link", "add", `br${i}`, "type", "bridge"]);
    must("ip", ["-n", netns, "link", "set", nic.name, "master", `br${i}`, "up"]);
    must("ip", ["-n", netns, "link", "set", `tap${i}`, "master", `br${i}`, "up"]);
    must("ip", ["-n", netns, "link", "set", `br${i}`, "up"]);
  });

  const launchedAt = Date.now();
  const qemu: ChildProcess = spawn(
    "ip",
    [
      "netns", "exec", netns,
      "qemu-system-x86_64",
      "-machine", "pc", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "2048",
      "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot",
      "-kernel", join(boot, kernel), "-initrd", join(boot, initrd),
      "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1",
      "-drive", `file=${disk},format=raw,if=virtio`,
      ...nics.flatMap((nic, i) => ["-netdev", `tap,id=n${i},ifname=tap${i},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=n${i},mac=${nic.mac}`]),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let consoleText = "";
  qemu.stdout?.on("data", (chunk: Buffer) => (consoleText += chunk.toString()));
  qemu.stderr?.on("data", (chunk: Buffer) => (consoleText += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => qemu.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  const running = (): boolean => qemu.exitCode === null && qemu.signalCode === null;

  const run = (command: string, args: readonly string[], input?: string): GuestRun => {
    const remote = ["sudo", "-n", "--", command, ...args].map(shellQuote).join(" ");
    const result = spawnSync(
      "ip",
      [
        "netns", "exec", ssh.ns, "ssh",
        "-i", ssh.keyFile,
        "-o", `UserKnownHostsFile=${ssh.knownHostsFile}`,
        "-o", "StrictHostKeyChecking=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=5",
        "-o", "LogLevel=ERROR",
        `${ssh.user}@${ssh.host}`,
        remote,
      ],
      { encoding: "utf8", input: input ?? "", timeout: 120_000, maxBuffer: 32 * 2 ** 20 },
    );
    // sudo warns when the hostname does not resolve (no DNS in the lab); that line is not the command's.
    const stderr = (result.stderr ?? "").split("\n").filter((l) => !l.startsWith("sudo: unable to resolve host")).join("\n");
    return { status: result.status, stdout: result.stdout ?? "", stderr };
  };

  const stop = powerOff(
    () => {
      if (running()) run("systemctl", ["poweroff", "--no-block"]);
    },
    exited,
    () => qemu.kill("SIGKILL"),
  );
  return {
    kind: "qemu",
    launchedAt,
    console: () => consoleText,
    run,
    running,
    stop: (timeoutMs = 180_000) => stop(timeoutMs),
    cleanup: async () => {
      await stop(180_000);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

function must(command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${result.stderr}`);
}
