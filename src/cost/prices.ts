/**
 * List prices the cost estimate uses: VMs, static IPv4, internet egress per cloud, and managed TURN services, each
 * with its source and how the source was read. Shipped and dated: prices change, so `npm run cost` prints the date,
 * and a stale file is a documented fact, not a silent error. Update by reading each source again.
 *
 * Reading legend (`read`): "provider" = the provider's own page or docs; "price-feed" = a dated copy of the provider's
 * price API kept in a public repository (karpenter for AWS, the Cloud Billing Catalog export for GCP); "secondary" =
 * third-party write-ups citing the official page, to check before relying on them.
 */
import type { DeployCloud } from "../config/schema";

/** When this file was last compiled from its sources. */
export const PRICES_AS_OF = "2026-11-22";

/** How a price was read (see the file comment). */
export type PriceReading = "provider" | "price-feed" | "secondary";

/** A source. */
export interface PriceSource {
  /** Where. */
  readonly url: string;
  /** How it was read. */
  readonly read: PriceReading;
  /** The source's own date, when it states one. */
  readonly asOf?: string;
}

/** A VM size's price in one region. */
export interface VmPrice {
  /** On-demand Linux price, USD per hour (DigitalOcean: its monthly price / 730 h). */
  readonly usdPerHour: number;
  /** Outbound transfer included per VM per month, GB (DigitalOcean pools it across the team). */
  readonly includedEgressGb: number;
  readonly source: PriceSource;
}

/** One cloud's prices. */
export interface CloudPrices {
  /** VM prices by `<region>/<size>`; region `*` when the price is the same everywhere. */
  readonly vms: Readonly<Record<string, VmPrice>>;
  /** Static public IPv4 attached to a running VM, USD per hour. */
  readonly staticIpUsdPerHour: number;
  readonly staticIpSource: PriceSource;
  /** Internet egress beyond what is free, USD per GB (first tier). */
  readonly egressUsdPerGb: number;
  /** Egress free per month per account, GB. */
  readonly freeEgressGb: number;
  readonly egressSource: PriceSource;
}

const AWS_FEED: PriceSource = {
  url: "https://aws.amazon.com/ec2/pricing/on-demand/ (via karpenter-provider-aws zz_generated.pricing_aws.go, us-east-1)",
  read: "price-feed",
  asOf: "2026-07-20",
};
const GCP_FEED: PriceSource = {
  url: "https://cloud.google.com/products/compute/pricing/general-purpose (via Cyclenerd/google-cloud-pricing-cost-calculator pricing.yml)",
  read: "price-feed",
  asOf: "2025-03-06",
};
const DO_SIZES: PriceSource = { url: "https://www.digitalocean.com/pricing/droplets", read: "secondary", asOf: "2026" };

const monthly = (usd: number): number => usd / 730;

/** Cloud prices. AWS is priced at us-east-1 (the only region the feed copy covered); other regions cost a little more. */
export const CLOUD_PRICES: Readonly<Record<DeployCloud, CloudPrices>> = {
  aws: {
    vms: {
      "us-east-1/t4g.micro": { usdPerHour: 0.0084, includedEgressGb: 0, source: AWS_FEED },
      "us-east-1/t4g.small": { usdPerHour: 0.0168, includedEgressGb: 0, source: AWS_FEED },
      "us-east-1/t4g.medium": { usdPerHour: 0.0336, includedEgressGb: 0, source: AWS_FEED },
      "us-east-1/c7gn.medium": { usdPerHour: 0.0624, includedEgressGb: 0, source: AWS_FEED },
    },
    staticIpUsdPerHour: 0.005,
    staticIpSource: { url: "https://aws.amazon.com/vpc/pricing/ (public IPv4, every address since 2024-02-01)", read: "secondary" },
    egressUsdPerGb: 0.09,
    freeEgressGb: 100,
    egressSource: { url: "https://aws.amazon.com/ec2/pricing/on-demand/ (data transfer out, first 10 TB; 100 GB/month free across services)", read: "secondary" },
  },
  gcp: {
    vms: {
      "us-central1/e2-micro": { usdPerHour: 0.0083764, includedEgressGb: 0, source: GCP_FEED },
      "us-central1/e2-small": { usdPerHour: 0.0167529, includedEgressGb: 0, source: GCP_FEED },
      "us-central1/e2-medium": { usdPerHour: 0.0335057, includedEgressGb: 0, source: GCP_FEED },
      "europe-west3/e2-micro": { usdPerHour: 0.0107919, includedEgressGb: 0, source: GCP_FEED },
      "europe-west3/e2-small": { usdPerHour: 0.0215839, includedEgressGb: 0, source: GCP_FEED },
      "europe-west3/e2-medium": { usdPerHour: 0.0431678, includedEgressGb: 0, source: GCP_FEED },
    },
    staticIpUsdPerHour: 0.005,
    staticIpSource: { url: "https://cloud.google.com/vpc/network-pricing (external IPv4 in use, standard VM)", read: "secondary", asOf: "2026-10-16" },
    egressUsdPerGb: 0.12,
    freeEgressGb: 1,
    egressSource: { url: "https://cloud.google.com/vpc/network-pricing (Premium Tier, first TiB)", read: "price-feed", asOf: "2026-09-20" },
  },
  digitalocean: {
    vms: {
      "*/s-1vcpu-1gb": { usdPerHour: monthly(6), includedEgressGb: 1000, source: DO_SIZES },
      "*/s-1vcpu-2gb": { usdPerHour: monthly(12), includedEgressGb: 2000, source: DO_SIZES },
      "*/s-2vcpu-4gb": { usdPerHour: monthly(24), includedEgressGb: 4000, source: DO_SIZES },
    },
    staticIpUsdPerHour: 0,
    staticIpSource: { url: "https://docs.digitalocean.com/products/networking/reserved-ips/how-to/modify/ (free while assigned)", read: "provider", asOf: "2025-06-17" },
    egressUsdPerGb: 0.01,
    freeEgressGb: 0,
    egressSource: { url: "https://docs.digitalocean.com/products/droplets/details/pricing/ (beyond the pooled allowance)", read: "provider", asOf: "2026-05-28" },
  },
};

/** How a managed TURN service counts billed bytes. */
export type ManagedTurnBilling = "sent-and-received" | "server-to-client";

/** A managed TURN service's list price. */
export interface ManagedTurnPrice {
  readonly name: string;
  /** USD per GB beyond the free allowance. */
  readonly usdPerGb: number;
  /** Free GB per month. */
  readonly freeGb: number;
  /** Which bytes are billed. */
  readonly billing: ManagedTurnBilling;
  readonly source: PriceSource;
}

/** Managed TURN services with per-GB list prices. */
export const MANAGED_TURN_PRICES: readonly ManagedTurnPrice[] = [
  {
    name: "Twilio NTS (US/EU)",
    usdPerGb: 0.4,
    freeGb: 0,
    billing: "sent-and-received",
    source: { url: "https://www.twilio.com/en-us/stun-turn/pricing (billing: https://www.twilio.com/docs/stun-turn/faq)", read: "secondary", asOf: "2026-09" },
  },
  {
    name: "Cloudflare Realtime TURN",
    usdPerGb: 0.05,
    freeGb: 1000,
    billing: "server-to-client",
    source: { url: "https://developers.cloudflare.com/realtime/turn/faq/", read: "provider", asOf: "2026-08-13" },
  },
];

/** Bitrates of the media profiles and the usual share of calls that need a relay, with sources. */
export const TRAFFIC_ASSUMPTION_SOURCES = {
  bitrates:
    "LiveKit client presets (github.com/livekit/client-sdk-js src/room/track/options.ts, 2026-07): speech 24 kbit/s, 540p 800, 720p 1700; " +
    "plus RTP/UDP/IP overhead (Opus 30 kbit/s is about 55 on the wire: doc.quobis.com/wac/media_quality.html)",
  relayedShare:
    "about 15% of calls: Twilio (twilio.com/blog/introducing-network-traversal-service-nt-html, 2014) and the Xirsys FAQ; " +
    "15-25% in later estimates, up to 30-45% on mobile carrier NAT",
} as const;
