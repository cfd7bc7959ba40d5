/**
 * What the boot test's image is made of: a Debian 12 root filesystem like a cloud's Debian image (systemd,
 * cloud-init, OpenSSH, sudo), with every package a stack's user-data may install waiting in its apt cache as a local
 * repository, so that cloud-init's first-boot `apt-get update` and `apt-get install` run for real with no network.
 * Pure; image.ts builds it. The recipe's hash names the cached image, so any change here or in the builder makes a
 * new one.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { everyVmPackage } from "../../src/render/vmFiles";

/** The image's ingredients. */
export interface ImageRecipe {
  /** Which image: each has its own cache folder. */
  readonly name: "container" | "qemu";
  /** Debian release. */
  readonly suite: string;
  /** debootstrap's `--include`: what a minimal system needs to boot under systemd and configure its network. */
  readonly bootstrapPackages: readonly string[];
  /** Installed afterwards with apt, as Debian's cloud images have them (cloud-init cannot go in `--include`). */
  readonly imagePackages: readonly string[];
  /** Downloaded only, with their dependencies, into the apt cache: what user-data installs at first boot. */
  readonly cachedPackages: readonly string[];
  /** The locale cloud-init's locale step sets (it fails when the locale is not generated). */
  readonly locale: string;
}

/** The boot test's image recipe (booted as a container). */
export const IMAGE_RECIPE: ImageRecipe = {
  name: "container",
  suite: "bookworm",
  bootstrapPackages: ["systemd-sysv", "dbus", "iproute2", "ifupdown", "procps", "netbase", "locales"],
  imagePackages: ["cloud-init", "openssh-server", "sudo", "ca-certificates"],
  cachedPackages: everyVmPackage(),
  locale: "en_US.UTF-8",
};

/** The same image with Debian's cloud kernel and its initramfs, for booting under qemu (see qemu.ts). */
export const QEMU_IMAGE_RECIPE: ImageRecipe = {
  ...IMAGE_RECIPE,
  name: "qemu",
  imagePackages: [...IMAGE_RECIPE.imagePackages, "linux-image-cloud-amd64"],
};

/** The local apt repository the image's sources list names: the apt cache itself. */
export const CACHE_REPOSITORY = "/var/cache/apt/archives";

/**
 * The recipe's identity: its ingredients and the builder's own source, so a change to either builds a new image.
 * (The mirror is left out: the same packages from another mirror are the same image.)
 */
export function recipeHash(recipe: ImageRecipe = IMAGE_RECIPE, builderSource: string = readFileSync(require.resolve("./image"), "utf8")): string {
  return createHash("sha256").update(JSON.stringify(recipe)).update(builderSource).digest("hex").slice(0, 16);
}

/**
 * The Debian mirror apt uses on this machine, from its sources (deb822 `.sources` or one-line `sources.list`), for
 * the image's suite; Debian's CDN when none names it.
 */
export function mirrorFromAptSources(sources: readonly string[], suite: string = IMAGE_RECIPE.suite): string {
  for (const text of sources) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (name: string): string | undefined => new RegExp(`^${name}:\\s*(.+)$`, "mi").exec(stanza)?.[1].trim();
      const uris = field("URIs");
      const suites = field("Suites")?.split(/\s+/) ?? [];
      const types = field("Types")?.split(/\s+/) ?? [];
      if (uris && types.includes("deb") && suites.includes(suite)) return uris.split(/\s+/)[0];
    }
    for (const line of text.split("\n")) {
      const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
      if (match && match[2] === suite) return match[1];
    }
  }
  return "http://deb.debian.org/debian";
}
