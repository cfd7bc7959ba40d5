/**
 * Builds the boot test's Debian image (see imageRecipe.ts) once and keeps it outside the git tree, under a folder
 * named by the recipe's name and hash: a changed recipe or builder builds a new one and removes the old ones. A build goes into
 * a folder of its own and is renamed into place only when complete, so an interrupted build is never used.
 *
 * Needs root, debootstrap, systemd-nspawn (systemd-container) and apt-ftparchive (apt-utils), and the Debian mirror
 * apt uses here; the packages are then in the image and booting needs no network.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE_REPOSITORY, IMAGE_RECIPE, mirrorFromAptSources, recipeHash, type ImageRecipe } from "./imageRecipe";

/** Where images are kept unless COTURN_BOOT_IMAGE_DIR says otherwise. */
export const DEFAULT_IMAGE_CACHE = "/var/cache/coturn-pulumi/boot-image";

/** A built image. */
export interface BootImage {
  /** The root filesystem (never booted itself: every boot gets an overlay). */
  readonly rootfs: string;
  /** The recipe hash naming it. */
  readonly hash: string;
  /** How long its build took, in seconds. */
  readonly buildSeconds: number;
  /** Its size on disk, in bytes. */
  readonly sizeBytes: number;
  /** How many package files wait in its apt cache. */
  readonly cachedDebs: number;
  /** The mirror it was built from. */
  readonly mirror: string;
  /** True when this call built it (false: it was in the cache). */
  readonly builtNow: boolean;
}

/** What image.ts records next to a finished image. */
type Manifest = Omit<BootImage, "rootfs" | "builtNow">;

/** The programs the build needs, with the Debian package of each. */
export const IMAGE_BUILD_COMMANDS: ReadonlyArray<readonly [string, string]> = [
  ["/usr/sbin/debootstrap", "debootstrap"],
  ["/usr/bin/systemd-nspawn", "systemd-container"],
  ["/usr/bin/apt-ftparchive", "apt-utils"],
];

/** The image cache folder. */
export function imageCacheDir(): string {
  return process.env.COTURN_BOOT_IMAGE_DIR ?? DEFAULT_IMAGE_CACHE;
}

/** Returns the cached image for the current recipe, building it first when there is none. */
export function ensureBootImage(log: (line: string) => void, recipe: ImageRecipe = IMAGE_RECIPE): BootImage {
  const cache = join(imageCacheDir(), recipe.name);
  const hash = recipeHash(recipe);
  const done = join(cache, hash);
  if (existsSync(join(done, "manifest.json"))) {
    const manifest = JSON.parse(readFileSync(join(done, "manifest.json"), "utf8")) as Manifest;
    return { ...manifest, rootfs: join(done, "rootfs"), builtNow: false };
  }
  mkdirSync(cache, { recursive: true });
  const partial = join(cache, `${hash}.partial-${process.pid}`);
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial);
  try {
    const manifest = build(recipe, hash, partial, log);
    writeFileSync(join(partial, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(done)) {
      // Another process finished the same image first; keep theirs.
      rmSync(partial, { recursive: true, force: true });
    } else {
      renameSync(partial, done);
    }
    for (const entry of readdirSync(cache)) {
      if (entry !== hash && !entry.includes(".partial-")) rmSync(join(cache, entry), { recursive: true, force: true });
    }
    log(`boot image: ${hash} ready (${manifest.buildSeconds} s, ${(manifest.sizeBytes / 2 ** 20).toFixed(0)} MiB) in ${done}`);
    return { ...manifest, rootfs: join(done, "rootfs"), builtNow: true };
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
}

function build(recipe: ImageRecipe, hash: string, dir: string, log: (line: string) => void): Manifest {
  const started = Date.now();
  const rootfs = join(dir, "rootfs");
  const buildLog = join(dir, "build.log");
  const mirror = process.env.COTURN_BOOT_MIRROR ?? mirrorFromAptSources(aptSources());
  const step = (what: string, command: string, args: readonly string[], cwd?: string): string => {
    log(`boot image: ${what} …`);
    const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 2 ** 20, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" } });
    writeFileSync(buildLog, `$ ${command} ${args.join(" ")}\n${result.stdout}${result.stderr}\n`, { flag: "a" });
    if (result.status !== 0) {
      const tail = `${result.stdout}${result.stderr}`.trim().split("\n").slice(-15).join("\n");
      throw new Error(`building the boot image failed at "${what}" (${command} exited ${result.status ?? result.signal}):\n${tail}`);
    }
    return result.stdout;
  };
  // A command inside the image, as a container sharing this machine's network (for apt's downloads).
  const inImage = (what: string, args: readonly string[]): string =>
    step(what, "systemd-nspawn", ["--quiet", "--register=no", "--keep-unit", "--resolv-conf=replace-host", "-D", rootfs, "--setenv=DEBIAN_FRONTEND=noninteractive", ...args]);

  log(`boot image: building ${hash} from ${mirror} (debootstrap and apt; a few minutes, once)`);
  step(`debootstrap ${recipe.suite} (minbase)`, "debootstrap", [
    "--variant=minbase",
    `--include=${recipe.bootstrapPackages.join(",")}`,
    recipe.suite,
    rootfs,
    mirror,
  ]);
  inImage("apt-get update", ["apt-get", "update", "-q"]);
  inImage(`installing ${recipe.imagePackages.join(", ")}`, ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...recipe.imagePackages]);
  // cloud-init installs with apt's defaults (Recommends included): download exactly what it will ask for.
  inImage(`downloading ${recipe.cachedPackages.join(", ")} into the apt cache`, ["apt-get", "install", "-y", "-q", "--download-only", ...recipe.cachedPackages]);
  writeFileSync(join(rootfs, "etc/locale.gen"), `${recipe.locale} UTF-8\n`);
  inImage(`generating the ${recipe.locale} locale`, ["locale-gen"]);

  // The cache becomes the image's only apt source, so first-boot installs run offline and for real.
  const archives = join(rootfs, CACHE_REPOSITORY);
  writeFileSync(join(archives, "Packages"), step("indexing the apt cache", "apt-ftparchive", ["packages", "."], archives));
  writeFileSync(join(archives, "Release"), step("writing the cache's Release file", "apt-ftparchive", ["release", "."], archives));
  rmSync(join(rootfs, "etc/apt/sources.list"), { force: true });
  rmSync(join(rootfs, "etc/apt/sources.list.d"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "etc/apt/sources.list.d"));
  writeFileSync(
    join(rootfs, "etc/apt/sources.list.d/boot-test-cache.list"),
    `# The boot test's offline repository: the packages user-data installs, downloaded when the image was built.\n` +
      `deb [trusted=yes] file:${CACHE_REPOSITORY} ./\n`,
  );
  rmSync(join(rootfs, "var/lib/apt/lists"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "var/lib/apt/lists/partial"), { recursive: true });

  // As a cloud image ships: no machine identity, no host keys, no cloud-init state; NoCloud is the only datasource.
  writeFileSync(join(rootfs, "etc/machine-id"), "");
  for (const entry of readdirSync(join(rootfs, "etc/ssh"))) {
    if (entry.startsWith("ssh_host_")) rmSync(join(rootfs, "etc/ssh", entry));
  }
  rmSync(join(rootfs, "var/lib/cloud"), { recursive: true, force: true });
  rmSync(join(rootfs, "etc/resolv.conf"), { force: true });
  writeFileSync(join(rootfs, "etc/resolv.conf"), "");
  writeFileSync(join(rootfs, "etc/cloud/cloud.cfg.d/90-boot-test.cfg"), "# The boot test seeds user-data through NoCloud.\ndatasource_list: [ NoCloud, None ]\n");

  const cachedDebs = readdirSync(archives).filter((f) => f.endsWith(".deb")).length;
  const sizeBytes = Number(step("measuring the image", "du", ["-sb", rootfs]).split(/\s+/)[0]);
  return { hash, buildSeconds: Math.round((Date.now() - started) / 1000), sizeBytes, cachedDebs, mirror };
}

/** The text of this machine's apt source files. */
function aptSources(): string[] {
  const files = ["/etc/apt/sources.list"];
  if (existsSync("/etc/apt/sources.list.d")) {
    for (const entry of readdirSync("/etc/apt/sources.list.d")) {
      if (entry.endsWith(".sources") || entry.endsWith(".list")) files.push(join("/etc/apt/sources.list.d", entry));
    }
  }
  return files.filter((f) => existsSync(f)).map((f) => readFileSync(f, "utf8"));
}
