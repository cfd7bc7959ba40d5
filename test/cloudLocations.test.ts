/**
 * The shipped region tables (src/config/cloudLocations.ts) against the provider SDKs' own lists, the name formats of
 * src/config/cloudProfiles.ts, and the coordinates the global stack steers by (src/global/locations.ts), plus the
 * AWS zone-offerings table and the edit distance behind every "did you mean".
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Region as AwsRegion } from "@pulumi/aws/types/enums";
import { Region as DigitalOceanRegion } from "@pulumi/digitalocean/types/enums";
import { CLOUD_LOCATIONS_AS_OF, CLOUD_REGIONS, isKnownRegion, regionNames, zoneLetters } from "../src/config/cloudLocations";
import { AWS_ZONES_WITHOUT_NITRO, AWS_ZONE_OFFERINGS_AS_OF, awsZoneOfferingProblem, isNitroInstanceType } from "../src/config/awsZoneOfferings";
import { CLOUD_PROFILES, isZoneOfRegion } from "../src/config/cloudProfiles";
import { closestName, editDistance } from "../src/config/closestName";
import { CLOUD_REGION_LOCATIONS, cloudRegionLocation } from "../src/global/locations";
import type { DeployCloud } from "../src/config/schema";

const CLOUDS = Object.keys(CLOUD_REGIONS) as DeployCloud[];
const sorted = (names: Iterable<string>): string[] => [...names].sort();

test("the AWS table holds exactly the regions of @pulumi/aws's Region enum", () => {
  assert.deepEqual(sorted(regionNames("aws")), sorted(Object.values(AwsRegion)), "update src/config/cloudLocations.ts from the SDK's enum");
});

test("the DigitalOcean table holds the regions of @pulumi/digitalocean's Region enum, plus atl1, which the enum lacks", () => {
  const enumSlugs = new Set<string>(Object.values(DigitalOceanRegion));
  for (const slug of enumSlugs) assert.ok(isKnownRegion("digitalocean", slug), `${slug} is in the SDK's enum but not in the table`);
  assert.deepEqual(regionNames("digitalocean").filter((slug) => !enumSlugs.has(slug)), ["atl1"]);
});

test("every region and zone in the tables fits its cloud's name format, and each table is dated and sourced", () => {
  assert.match(CLOUD_LOCATIONS_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
  for (const cloud of CLOUDS) {
    const profile = CLOUD_PROFILES[cloud];
    assert.match(CLOUD_REGIONS[cloud].source, /https:\/\/|@pulumi\//, `${cloud}: the table names its source`);
    for (const region of regionNames(cloud)) {
      assert.match(region, profile.region.pattern, `${cloud} region ${region} does not fit ${profile.region.what}`);
      const letters = zoneLetters(cloud, region);
      if (profile.zoneNaming === "none") {
        assert.equal(letters, "", `${cloud} ${region} has no zones`);
        continue;
      }
      if (letters === undefined) continue;
      assert.match(letters, /^[a-z]{3,6}$/, `${cloud} ${region}: at least three zones, letters in order`);
      assert.equal([...letters].sort().join(""), letters, `${cloud} ${region}: letters in order`);
      for (const letter of letters) {
        const zone = profile.zoneNaming === "region-dash-letter" ? `${region}-${letter}` : `${region}${letter}`;
        assert.ok(isZoneOfRegion(profile.zoneNaming, region, zone), `${zone} is not a zone of ${region} by its cloud's naming`);
      }
    }
  }
});

test("each example region of the error messages exists", () => {
  for (const cloud of CLOUDS) {
    for (const example of CLOUD_PROFILES[cloud].region.examples) assert.ok(isKnownRegion(cloud, example), `${cloud} example ${example}`);
  }
});

test("every region validation accepts has coordinates for the global stack, except AWS's isolated regions", () => {
  const withoutLocation = CLOUDS.flatMap((cloud) => regionNames(cloud).filter((r) => cloudRegionLocation(cloud, r) === undefined).map((r) => `${cloud}/${r}`));
  // Their sites are not public: a global stack in front of one sets coturn:regions[].latitude/longitude, and the
  // plan says so (test/globalStack.test.ts: "a cloud region without known coordinates needs them in config").
  assert.deepEqual(
    withoutLocation.sort(),
    ["aws/eu-isoe-west-1", "aws/us-iso-east-1", "aws/us-iso-west-1", "aws/us-isob-east-1", "aws/us-isob-west-1", "aws/us-isof-east-1", "aws/us-isof-south-1"],
  );
  for (const place of Object.keys(CLOUD_REGION_LOCATIONS)) {
    const [cloud, region] = place.split("/") as [DeployCloud, string];
    assert.ok(isKnownRegion(cloud, region), `${place} has coordinates but validation refuses it`);
  }
});

test("the AWS zone-offerings table: us-east-1e refuses Nitro types (the default among them) and takes older ones", () => {
  assert.match(AWS_ZONE_OFFERINGS_AS_OF, /^\d{4}-\d{2}-\d{2}$/);
  for (const entry of AWS_ZONES_WITHOUT_NITRO) {
    assert.ok(entry.zone.startsWith("us-east-1") && (zoneLetters("aws", "us-east-1") ?? "").includes(entry.zone.at(-1) ?? ""), entry.zone);
    assert.ok(!entry.otherZones.includes(entry.zone));
    assert.match(entry.source, /https:\/\//);
  }
  for (const type of [CLOUD_PROFILES.aws.defaultInstanceType, CLOUD_PROFILES.aws.testInstanceType, "t3.micro", "c5.large", "m5.xlarge", "r5d.xlarge", "c7gn.medium", "m6i.large", "a1.medium"]) {
    assert.ok(isNitroInstanceType(type), type);
    assert.match(awsZoneOfferingProblem("us-east-1e", type) ?? "", new RegExp(`^does not offer ${type.replace(".", "\\.")}: .*use1-az3`));
    assert.equal(awsZoneOfferingProblem("us-east-1a", type), undefined, `${type} in us-east-1a`);
  }
  for (const type of ["t2.micro", "m4.large", "c4.xlarge", "r4.large"]) {
    assert.ok(!isNitroInstanceType(type), type);
    assert.equal(awsZoneOfferingProblem("us-east-1e", type), undefined, type);
  }
});

test("edit distance and the closest name", () => {
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(editDistance("", "abc"), 3);
  assert.equal(editDistance("eu-central-1", "eu-central-1"), 0);
  assert.equal(editDistance("tsl", "tls"), 1, "two swapped neighbours are one edit");
  assert.equal(closestName("eu-centrl-1", regionNames("aws")), "eu-central-1");
  assert.equal(closestName("EU-CENTRAL-1", regionNames("aws")), "eu-central-1", "a case difference is the nearest");
  assert.equal(closestName("europe-west5", regionNames("gcp")), "europe-west1", "of several names one edit away, the first in the table");
  assert.equal(closestName("mars", regionNames("digitalocean")), undefined, "too far from every name to be a typo");
  assert.equal(closestName("gcp", ["aws", "gcp"]), undefined, "the name itself is no suggestion");
  assert.equal(closestName("4k", ["audio", "sd", "hd"]), undefined, "two edits rewrite a two-letter name: no typo of it");
  assert.equal(closestName("gpc", ["aws", "gcp", "digitalocean"]), "gcp", "a short name with one swap is still a typo");
  assert.equal(closestName("ud", ["udp", "tcp"]), "udp");
});
