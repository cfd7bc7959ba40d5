/**
 * AWS zones that exist but do not offer the instance types this project uses: a shipped, dated table, so an explicit
 * `coturn:availabilityZone` that cannot run `coturn:instanceType` is refused at validation instead of failing in
 * `pulumi up` with "Unsupported: Your requested instance type … is not supported in your requested Availability
 * Zone". Only documented cases are listed; AWS's `DescribeInstanceTypeOfferings` is the complete answer, but
 * validation makes no cloud call. When `coturn:availabilityZone` is unset, the adapter asks AWS for a zone that
 * offers the type, so this table only matters for a zone set by hand.
 */

/** When the table was last checked against its sources. */
export const AWS_ZONE_OFFERINGS_AS_OF = "2026-12-03";

/** A zone that lacks a whole class of instance types. */
export interface ZoneWithoutCurrentTypes {
  /** The zone name as most accounts see it (names are mapped per account in us-east-1 for accounts before 2025-11). */
  readonly zone: string;
  /** The AZ ID, the same in every account. */
  readonly zoneId: string;
  /** What the zone lacks, for messages. */
  readonly lacks: string;
  /** The region's other zones, for the fix. */
  readonly otherZones: readonly string[];
  /** Where this is documented. */
  readonly source: string;
}

/**
 * Zones without Nitro-based instance types. us-east-1e is the zone AWS's own "Unsupported" answers name for t3, c5,
 * m5 and r5d types across many accounts and years; its AZ ID is use1-az3, the us-east-1 zone without Nitro hardware.
 */
export const AWS_ZONES_WITHOUT_NITRO: readonly ZoneWithoutCurrentTypes[] = [
  {
    zone: "us-east-1e",
    zoneId: "use1-az3",
    lacks: "Nitro-based types (t3, t4g, and every family from generation 5 on); only older Xen-based ones such as t2 and m4 run there",
    otherZones: ["us-east-1a", "us-east-1b", "us-east-1c", "us-east-1d", "us-east-1f"],
    source:
      "AWS RunInstances 'Unsupported' answers quoted in kubernetes-sigs/provider-aws-test-infra#354 (2024-07, r5d.xlarge), " +
      "ned1313/Getting-Started-Terraform#44 (2025-05, t3.micro), compiler-explorer/infra#601 (2021-10, c5.large); " +
      "use1-az3 without Nitro: https://wolfman.dev/posts/exclude-use1-az3/ (2021-03); " +
      "https://repost.aws/knowledge-center/ec2-instance-type-not-supported-az-error",
  },
];

/** Families that run on Nitro although their generation number is below 5. */
const EARLY_NITRO_FAMILIES = /^(t3a?|t4g|a1)$/;

/** True when an EC2 instance type needs Nitro hardware (t3/t4g/a1, or any family of generation 5 and later). */
export function isNitroInstanceType(instanceType: string): boolean {
  const family = instanceType.split(".")[0];
  if (EARLY_NITRO_FAMILIES.test(family)) return true;
  const generation = /^[a-z]+(\d+)/.exec(family)?.[1];
  return generation !== undefined && Number(generation) >= 5;
}

/** Why `zone` cannot run `instanceType`, with the fix, or undefined when this table knows of no reason. */
export function awsZoneOfferingProblem(zone: string, instanceType: string): string | undefined {
  const entry = AWS_ZONES_WITHOUT_NITRO.find((z) => z.zone === zone);
  if (entry === undefined || !isNitroInstanceType(instanceType)) return undefined;
  return (
    `does not offer ${instanceType}: in most accounts ${zone} is the zone ${entry.zoneId}, which lacks ${entry.lacks}. ` +
    `Use another zone (${entry.otherZones.join(", ")}), or unset it to take the first zone that offers ${instanceType}`
  );
}
