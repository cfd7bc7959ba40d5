/**
 * The region's A records in Cloudflare DNS, when the stack names a zone: DNS only (`proxied: false`: Cloudflare's
 * proxy carries HTTP, not TURN), a short TTL, pointing at the static IP. The provider gets the stack's token
 * explicitly, so no ambient `CLOUDFLARE_API_TOKEN` can send the records to another account.
 */
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { CloudflareDns } from "../config/stackConfig";
import type { PlannedDnsRecord } from "../plan/dns";

/** A record as the stack outputs it: what exists in Cloudflare, or what to create by hand. */
export interface DnsRecordOutput {
  /** Fully qualified name. */
  readonly name: string;
  /** Record type. */
  readonly type: "A";
  /** The static IP. */
  readonly content: string;
  /** Seconds. */
  readonly ttl: number;
  /** `cloudflare` when `pulumi up` manages it, `you` when it must be created by hand. */
  readonly managedBy: "cloudflare" | "you";
}

/** Creates the planned records in Cloudflare. */
export function createCloudflareRecords(
  name: string,
  dns: CloudflareDns,
  records: readonly PlannedDnsRecord[],
  publicIp: pulumi.Output<string>,
  opts: pulumi.ComponentResourceOptions,
): cloudflare.DnsRecord[] {
  const provider = new cloudflare.Provider(`${name}-cloudflare`, { apiToken: pulumi.secret(dns.apiToken) }, opts);
  return records.map(
    (record) =>
      new cloudflare.DnsRecord(
        `${name}-dns-${record.name}`,
        {
          zoneId: dns.zoneId,
          name: record.name,
          type: record.type,
          content: publicIp,
          ttl: record.ttl,
          proxied: false,
          comment: `coturn TURN server: ${record.purpose} (managed by pulumi)`,
        },
        { ...opts, provider },
      ),
  );
}

/** The records as outputs, whoever manages them. */
export function dnsRecordOutputs(records: readonly PlannedDnsRecord[], publicIp: pulumi.Output<string>, managed: boolean): pulumi.Output<DnsRecordOutput[]> {
  return publicIp.apply((content) =>
    records.map((r) => ({ name: r.name, type: r.type, content, ttl: r.ttl, managedBy: managed ? ("cloudflare" as const) : ("you" as const) })),
  );
}
