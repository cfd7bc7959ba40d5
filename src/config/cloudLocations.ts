/**
 * Which regions exist on each cloud, and the zone letters each region has: a shipped, dated table, so validation can
 * refuse a region that only looks right ("eu-central-3", "europe-west5", "fra2") without calling any cloud. Where a
 * provider SDK ships its own list (@pulumi/aws and @pulumi/digitalocean export a `Region` enum), a unit test
 * (test/cloudLocations.test.ts) holds this table to it; @pulumi/gcp has no such list, so Google's is copied from its
 * documentation. A region opened after `CLOUD_LOCATIONS_AS_OF` is refused until it is added here.
 */
import type { DeployCloud } from "./schema";

/** When the table was last checked against its sources. */
export const CLOUD_LOCATIONS_AS_OF = "2026-12-03";

/** One cloud's regions and where the list comes from. */
export interface CloudRegionTable {
  /** Where the region names (and zone letters) come from. */
  readonly source: string;
  /**
   * Every region, with the letters of its zones (`"abc"`: zones `<region>a`… on AWS, `<region>-a`… on Google Cloud),
   * or `undefined` when this table does not know them (any letter is then accepted), and `""` on a cloud without
   * zones.
   */
  readonly regions: Readonly<Record<string, string | undefined>>;
}

/**
 * AWS: the regions of @pulumi/aws 7.48's `Region` enum (commercial, GovCloud, China, the European Sovereign Cloud
 * and the isolated ones). Zone letters: every letter some account can see, from AWS's list of AZ IDs per region; in
 * the oldest regions the letters map to different zones per account (accounts created before November 2025), and a
 * few letters (ap-northeast-1b, ca-central-1c, one of us-west-1's three) exist only for older accounts.
 */
const AWS_REGIONS: CloudRegionTable = {
  source:
    "@pulumi/aws 7.48.0 types/enums Region (region names); https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html (zones), read 2026-12-03",
  regions: {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "abc",
    "us-west-2": "abcd",
    "ca-central-1": "abcd",
    "ca-west-1": "abc",
    "mx-central-1": "abc",
    "sa-east-1": "abc",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-west-3": "abc",
    "eu-central-1": "abc",
    "eu-central-2": "abc",
    "eu-south-1": "abc",
    "eu-south-2": "abc",
    "eu-north-1": "abc",
    "il-central-1": "abc",
    "me-south-1": "abc",
    "me-central-1": "abc",
    "af-south-1": "abc",
    "ap-south-1": "abc",
    "ap-south-2": "abc",
    "ap-southeast-1": "abc",
    "ap-southeast-2": "abc",
    "ap-southeast-3": "abc",
    "ap-southeast-4": "abc",
    "ap-southeast-5": "abc",
    "ap-southeast-6": "abc",
    "ap-southeast-7": "abc",
    "ap-northeast-1": "abcd",
    "ap-northeast-2": "abcd",
    "ap-northeast-3": "abc",
    "ap-east-1": "abc",
    "ap-east-2": "abc",
    "us-gov-east-1": "abc",
    "us-gov-west-1": "abc",
    // Zone letters not confirmed from a source this project could read: any letter is accepted.
    "cn-north-1": undefined,
    "cn-northwest-1": undefined,
    "eusc-de-east-1": undefined,
    "us-iso-east-1": undefined,
    "us-iso-west-1": undefined,
    "us-isob-east-1": undefined,
    "us-isob-west-1": undefined,
    "eu-isoe-west-1": undefined,
    "us-isof-east-1": undefined,
    "us-isof-south-1": undefined,
  },
};

/** Google Cloud: the public Compute Engine regions and their zones (@pulumi/gcp ships no list of them). */
const GCP_REGIONS: CloudRegionTable = {
  source: "https://cloud.google.com/compute/docs/regions-zones (Available regions and zones), read 2026-12-03",
  regions: {
    "africa-south1": "abc",
    "asia-east1": "abc",
    "asia-east2": "abc",
    "asia-northeast1": "abc",
    "asia-northeast2": "abc",
    "asia-northeast3": "abc",
    "asia-south1": "abc",
    "asia-south2": "abc",
    "asia-southeast1": "abc",
    "asia-southeast2": "abc",
    "australia-southeast1": "abc",
    "australia-southeast2": "abc",
    "europe-central2": "abc",
    "europe-north1": "abc",
    "europe-north2": "abc",
    "europe-southwest1": "abc",
    "europe-west1": "bcd",
    "europe-west2": "abc",
    "europe-west3": "abc",
    "europe-west4": "abc",
    "europe-west6": "abc",
    "europe-west8": "abc",
    "europe-west9": "abc",
    "europe-west10": "abc",
    "europe-west12": "abc",
    "me-central1": "abc",
    "me-central2": "abc",
    "me-west1": "abc",
    "northamerica-northeast1": "abc",
    "northamerica-northeast2": "abc",
    "northamerica-south1": "abc",
    "southamerica-east1": "abc",
    "southamerica-west1": "abc",
    "us-central1": "abcf",
    "us-east1": "bcd",
    "us-east4": "abc",
    "us-east5": "abc",
    "us-south1": "abc",
    "us-west1": "abc",
    "us-west2": "abc",
    "us-west3": "abc",
    "us-west4": "abc",
  },
};

/**
 * DigitalOcean: the slugs of @pulumi/digitalocean 4.80's `Region` enum, plus `atl1` (Atlanta, opened after the
 * enum was last generated). A Droplet has no zone. `ams2`, `nyc2` and `sfo1` take new Droplets only for accounts that
 * already have resources there.
 */
const DIGITALOCEAN_REGIONS: CloudRegionTable = {
  source:
    "@pulumi/digitalocean 4.80.1 types/enums Region; https://docs.digitalocean.com/platform/regional-availability/ (atl1), read 2026-12-03",
  regions: Object.fromEntries(
    ["nyc1", "nyc2", "nyc3", "sfo1", "sfo2", "sfo3", "tor1", "atl1", "lon1", "ams2", "ams3", "fra1", "sgp1", "blr1", "syd1"].map((slug) => [slug, ""]),
  ),
};

/** The regions of every cloud `pulumi up` deploys to. */
export const CLOUD_REGIONS: Readonly<Record<DeployCloud, CloudRegionTable>> = {
  aws: AWS_REGIONS,
  gcp: GCP_REGIONS,
  digitalocean: DIGITALOCEAN_REGIONS,
};

/** The region names of a cloud, in table order. */
export function regionNames(cloud: DeployCloud): readonly string[] {
  return Object.keys(CLOUD_REGIONS[cloud].regions);
}

/** True when `region` is in the cloud's table. */
export function isKnownRegion(cloud: DeployCloud, region: string): boolean {
  return Object.hasOwn(CLOUD_REGIONS[cloud].regions, region);
}

/** The zone letters of a known region (`"abc"`), or undefined when the table does not know them. */
export function zoneLetters(cloud: DeployCloud, region: string): string | undefined {
  return isKnownRegion(cloud, region) ? CLOUD_REGIONS[cloud].regions[region] : undefined;
}
