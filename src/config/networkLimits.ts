/**
 * The sustained network bandwidth of the VM sizes this project suggests, per cloud: a shipped, dated table with the
 * source of each row. Sizing (`coturn:capacity`) checks the peak against it; a size missing here is a warning, not
 * an error. Sustained means what the size keeps up for hours (AWS "baseline", not the burst that runs out).
 */

/** When the table was last checked against its sources. */
export const NETWORK_LIMITS_AS_OF = "2026-11-22";

/** One size's network limit. */
export interface NetworkLimit {
  /** Bandwidth the size sustains, per direction, Gbit/s. */
  readonly sustainedGbps: number;
  /** How the provider states it, for messages ("baseline 0.128 Gbit/s, bursts to 5"). */
  readonly note: string;
  /** Where the number comes from. */
  readonly source: string;
}

const AWS_SOURCE = "https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html#gp_network";
const AWS_COMPUTE_SOURCE = "https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html#co_network";
const GCP_SOURCE = "https://cloud.google.com/compute/docs/general-purpose-machines#e2_machine_types";
const DO_SOURCE = "https://docs.digitalocean.com/products/droplets/details/limits/";

const aws = (baseline: number, burst: number, source = AWS_SOURCE): NetworkLimit => ({
  sustainedGbps: baseline,
  note: `baseline ${baseline} Gbit/s, bursts to ${burst} while credits last`,
  source,
});
const gcp = (egress: number): NetworkLimit => ({ sustainedGbps: egress, note: `egress capped at ${egress} Gbit/s`, source: GCP_SOURCE });
const digitalocean = (gbps: number): NetworkLimit => ({ sustainedGbps: gbps, note: `public bandwidth up to ${gbps} Gbit/s`, source: DO_SOURCE });

/** Network limits by cloud and size. */
export const NETWORK_LIMITS: Readonly<Record<string, Readonly<Record<string, NetworkLimit>>>> = {
  aws: {
    "t4g.micro": aws(0.064, 5),
    "t4g.small": aws(0.128, 5),
    "t4g.medium": aws(0.256, 5),
    "t4g.large": aws(0.512, 5),
    "t4g.xlarge": aws(1.024, 5),
    "t4g.2xlarge": aws(2.048, 5),
    "c7gn.medium": aws(3.125, 25, AWS_COMPUTE_SOURCE),
    "c7gn.large": aws(6.25, 30, AWS_COMPUTE_SOURCE),
  },
  gcp: {
    "e2-micro": gcp(1),
    "e2-small": gcp(1),
    "e2-medium": gcp(2),
    "e2-standard-2": gcp(4),
    "e2-standard-4": gcp(8),
  },
  digitalocean: {
    "s-1vcpu-1gb": digitalocean(2),
    "s-1vcpu-2gb": digitalocean(2),
    "s-2vcpu-2gb": digitalocean(2),
    "s-2vcpu-4gb": digitalocean(2),
  },
};

/** The network limit of a size, or undefined when the table does not know it. */
export function networkLimit(cloud: string, instanceType: string): NetworkLimit | undefined {
  return NETWORK_LIMITS[cloud]?.[instanceType];
}
