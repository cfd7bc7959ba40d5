/**
 * What the global stack needs from a region stack, read from its outputs (a StackReference): a region that was never
 * deployed, was destroyed, or was deployed by a version of this project older than the global layer is named with
 * the fix, instead of failing later inside Cloudflare.
 */
import { isIPv4 } from "node:net";
import { z } from "zod";
import { LISTENERS } from "../config/schema";

const regionOutputsSchema = z.object({
  cloud: z.string().min(1),
  region: z.string().min(1),
  domain: z.string().min(1),
  regionDomain: z.string().min(1),
  servers: z
    .array(
      z.object({
        name: z.string().min(1),
        domain: z.string().min(1),
        publicIp: z.string().refine(isIPv4, { error: "is not an IPv4 address" }),
      }),
    )
    .min(1),
  listeners: z.array(z.enum(LISTENERS)),
  acceptedSecretFingerprints: z.array(z.string()),
  dnsRecords: z.array(z.object({ name: z.string(), managedBy: z.enum(["cloudflare", "you"]) })),
});

/** A region stack as the global stack sees it. */
export type RegionFacts = z.output<typeof regionOutputsSchema> & {
  /** The region stack's name, as listed in `coturn:regions`. */
  readonly stack: string;
};

/** Reads one region's outputs, or says what is wrong with them and what to do. */
export function regionFacts(stack: string, outputs: Readonly<Record<string, unknown>>): RegionFacts | { problem: string } {
  if (Object.keys(outputs).length === 0) {
    return {
      problem:
        "has no outputs: it was never deployed, or it was destroyed. Run `pulumi up` on it first, or remove it from coturn:regions",
    };
  }
  const parsed = regionOutputsSchema.safeParse(outputs);
  if (parsed.success) return { ...parsed.data, stack };
  const missing = [...new Set(parsed.error.issues.filter((i) => i.path.length === 1 && outputs[String(i.path[0])] === undefined).map((i) => String(i.path[0])))];
  if (missing.length > 0) {
    return {
      problem:
        `lacks the output${missing.length === 1 ? "" : "s"} ${missing.join(", ")} (deployed by an older version of this project?). ` +
        "Run `pulumi up` on it with this version, then on the global stack",
    };
  }
  const issue = parsed.error.issues[0];
  return { problem: `has an unreadable output ${issue.path.join(".")}: ${issue.message}. Run \`pulumi up\` on it again` };
}
