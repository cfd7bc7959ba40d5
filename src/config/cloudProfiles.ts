/**
 * What config validation knows about each cloud: region and zone name formats (which regions exist is in
 * `cloudLocations.ts`), VM size formats, defaults, which official images can boot our user-data, the CPU architecture
 * of a size, and the rules for resource tags. Pure data and small functions, no cloud SDK: validation runs before any
 * provider is loaded.
 */
import type { DeployCloud, ImageChoice } from "./schema";
import { isSecretLookingName, secretKindOf } from "./valueMasking";

/** A name format with an example that fits it, for error messages. */
export interface NameFormat {
  /** Accepted names. */
  readonly pattern: RegExp;
  /** What the name is, in the cloud's words ("an AWS region name"). */
  readonly what: string;
  /** Names that fit, shown in the error. */
  readonly examples: readonly string[];
}

/**
 * How a cloud hands the static public IP to the VM, which decides what coturn binds and advertises:
 * - `nat`: mapped 1:1 onto a private address fixed before boot (EC2 Elastic IP, Compute Engine static address);
 * - `anchor`: delivered to an address only the VM's metadata service knows, and outbound traffic must be routed
 *   through a gateway to leave from it (DigitalOcean Reserved IP);
 * - `interface`: the VM's own interface holds it, configured by the cloud's DHCP or network config, and outbound
 *   traffic leaves from it (Hetzner Primary IP, Vultr Reserved IP given as the main IP).
 */
export type StaticIpDelivery = "nat" | "anchor" | "interface";

/** The provider's API credential: a config key of the provider's namespace, or one of its environment variables. */
export interface ProviderToken {
  /** The provider config key (`digitalocean:token`), set with `pulumi config set --secret`. */
  readonly configKey: string;
  /** Environment variables the provider reads when the key is unset, the preferred first. */
  readonly environment: readonly string[];
}

/** One cloud's validation rules and defaults. */
export interface CloudProfile {
  /** The cloud's name as users know it. */
  readonly title: string;
  /** How the static IP reaches the VM. */
  readonly staticIp: StaticIpDelivery;
  /** The API token a deploy needs, for clouds whose provider takes one (AWS and Google Cloud read their own chains). */
  readonly providerToken?: ProviderToken;
  /** Region names. */
  readonly region: NameFormat;
  /** How zones are named inside a region, or `none` when the cloud has no zones to pick. */
  readonly zoneNaming: "region+letter" | "region-dash-letter" | "none";
  /** VM size names. */
  readonly instanceType: NameFormat;
  /** Size used when `coturn:instanceType` is unset: the smallest that relays a few hundred calls. */
  readonly defaultInstanceType: string;
  /** Size a test stack (`coturn:ephemeral`) gets when `coturn:instanceType` is unset: the cheapest that runs coturn. */
  readonly testInstanceType: string;
  /** Image used when `coturn:image` is unset. */
  readonly defaultImage: ImageChoice;
  /** Images that cannot run our user-data on this cloud, with the reason. */
  readonly unusableImages: Partial<Record<ImageChoice, string>>;
  /** CPU architecture of a size (it picks the image variant). */
  architecture(instanceType: string): "amd64" | "arm64";
  /** The problem with a user tag, or undefined when the cloud accepts it (after `resourceTags` mapping). */
  tagProblem(name: string, value: string): string | undefined;
}

const AWS_ARM_FAMILY = /^([a-z]+\d+g[a-z]*|a1)$/;
const GCP_ARM_FAMILY = /^(t2a|c4a|n4a)$/;
const GCP_LABEL = /^[a-z][a-z0-9_-]{0,62}$/;
const GCP_LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const DO_TAG = /^[A-Za-z0-9:_-]{1,255}$/;

/** Validation rules per cloud that `pulumi up` deploys to. */
export const CLOUD_PROFILES: Record<DeployCloud, CloudProfile> = {
  aws: {
    title: "AWS",
    staticIp: "nat",
    region: { pattern: /^[a-z]{2,4}(-[a-z]+)?-[a-z]+-\d{1,2}$/, what: "an AWS region name", examples: ["eu-central-1", "us-east-1"] },
    zoneNaming: "region+letter",
    instanceType: { pattern: /^[a-z][a-z0-9-]*\.[a-z0-9-]+$/, what: "an EC2 instance type", examples: ["t4g.small", "c7gn.medium"] },
    defaultInstanceType: "t4g.small",
    testInstanceType: "t4g.micro",
    defaultImage: "debian-12",
    unusableImages: {},
    architecture: (type) => (AWS_ARM_FAMILY.test(type.split(".")[0]) ? "arm64" : "amd64"),
    tagProblem: (name, value) =>
      name.length > 128
        ? "is longer than 128 characters, AWS's limit for tag names"
        : /^aws:/i.test(name)
          ? 'starts with "aws:", which AWS reserves. Choose another prefix'
          : value.length > 256
            ? "has a value longer than 256 characters, AWS's limit"
            : undefined,
  },
  gcp: {
    title: "Google Cloud",
    staticIp: "nat",
    region: { pattern: /^[a-z]+-[a-z]+\d{1,2}$/, what: "a Google Cloud region name", examples: ["europe-west3", "us-central1"] },
    zoneNaming: "region-dash-letter",
    instanceType: {
      pattern: /^[a-z]\d+[a-z]?-[a-z]+(-[a-z0-9]+)*$/,
      what: "a Compute Engine machine type",
      examples: ["e2-small", "n2-standard-2", "t2a-standard-1"],
    },
    defaultInstanceType: "e2-small",
    testInstanceType: "e2-micro",
    defaultImage: "ubuntu-24.04",
    unusableImages: {
      "debian-12":
        "Debian's official Compute Engine images ship without cloud-init (Google's guest agent runs instead), so the " +
        'user-data would never run. Use "ubuntu-24.04" (the default for gcp), or unset it',
    },
    architecture: (type) => (GCP_ARM_FAMILY.test(type.split("-")[0]) ? "arm64" : "amd64"),
    tagProblem: (name, value) =>
      !GCP_LABEL.test(name)
        ? "is not a Google Cloud label name: lowercase letters, digits, _ and - only, starting with a letter, at most 63 characters"
        : !GCP_LABEL_VALUE.test(value)
          ? "has a value Google Cloud labels do not accept: lowercase letters, digits, _ and - only, at most 63 characters"
          : undefined,
  },
  digitalocean: {
    title: "DigitalOcean",
    staticIp: "anchor",
    providerToken: { configKey: "digitalocean:token", environment: ["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"] },
    region: { pattern: /^[a-z]{3}\d$/, what: "a DigitalOcean region slug", examples: ["fra1", "nyc3", "sgp1"] },
    zoneNaming: "none",
    instanceType: {
      pattern: /^[a-z][a-z0-9_]*-(\d+vcpu-\d+(gb|mb)|\d+)(-[a-z0-9]+)*$/,
      what: "a DigitalOcean Droplet size slug",
      examples: ["s-1vcpu-2gb", "s-2vcpu-4gb", "c-2"],
    },
    defaultInstanceType: "s-1vcpu-2gb",
    testInstanceType: "s-1vcpu-1gb",
    defaultImage: "debian-12",
    unusableImages: {},
    architecture: () => "amd64",
    // Droplet tags have no values: a tag becomes one "name:value" tag.
    tagProblem: (name, value) =>
      !DO_TAG.test(`${name}:${value}`)
        ? `becomes the Droplet tag ${isSecretLookingName(name) || secretKindOf(value) !== undefined ? "<name>:<value>" : `"${name}:${value}"`}, but DigitalOcean tags allow only letters, digits, :, _ and - (at most 255 characters)`
        : undefined,
  },
};

/** True when `zone` names a zone of `region` on a cloud with that zone naming. */
export function isZoneOfRegion(naming: CloudProfile["zoneNaming"], region: string, zone: string): boolean {
  if (naming === "region+letter") return new RegExp(`^${region}[a-z]$`).test(zone);
  if (naming === "region-dash-letter") return new RegExp(`^${region}-[a-z]$`).test(zone);
  return false;
}

/** The zone of `region` with letter `letter` (default `a`), for error messages. */
export function exampleZone(naming: CloudProfile["zoneNaming"], region: string, letter = "a"): string {
  return naming === "region-dash-letter" ? `${region}-${letter}` : `${region}${letter}`;
}
