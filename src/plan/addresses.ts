/**
 * How a cloud hands the static public IP to the VM, and so which address coturn binds and which it advertises.
 */
import { CLOUD_PROFILES } from "../config/cloudProfiles";
import type { DeployCloud } from "../config/schema";

/** The private network of a VM on a 1:1 NAT cloud: a dedicated VPC/subnet with nothing else in it. */
export const NAT_NETWORK = { cidr: "10.77.0.0/24", privateIp: "10.77.0.10" } as const;

/**
 * Stands for DigitalOcean's anchor address in a rendered turnserver.conf (and the 443 redirect rules) until the VM
 * learns it at boot. An address from TEST-NET-1 that is on no host: a coturn started on it binds nothing and retries
 * (checked on 4.6.1), so a config that was never filled in serves nothing rather than the wrong address. (An
 * unparseable token is worse: coturn drops the line and listens on every address.)
 */
export const ANCHOR_ADDRESS_PLACEHOLDER = "192.0.2.1";

/** Where coturn binds. */
export type BindAddress =
  /** The cloud maps the static IP 1:1 onto a private address fixed before boot (EC2, Compute Engine). */
  | { readonly kind: "nat"; readonly privateIp: string }
  /**
   * A DigitalOcean Reserved IP reaches the Droplet on its anchor address, which only the Droplet's metadata
   * service knows; outbound traffic must be routed back through the anchor gateway (templates/coturn-anchor-network.sh).
   */
  | { readonly kind: "anchor" }
  /**
   * The static IP is on the VM's own interface (Hetzner Primary IP, Vultr Reserved IP as the main IP): coturn
   * listens, relays and is reached on it directly, with nothing to map.
   */
  | { readonly kind: "interface" };

/** The addresses coturn binds and advertises on a VM. */
export interface VmAddresses {
  /** Static public IP clients are given (advertised in relayed and reflexive addresses). */
  readonly publicIp: string;
  /** The address coturn listens and relays on. */
  readonly bind: BindAddress;
}

/** How each cloud delivers its static IP (its profile says). */
export function bindAddressFor(cloud: DeployCloud): BindAddress {
  const delivery = CLOUD_PROFILES[cloud].staticIp;
  return delivery === "nat" ? { kind: "nat", privateIp: NAT_NETWORK.privateIp } : { kind: delivery };
}

/**
 * The address coturn binds, as written into turnserver.conf: the fixed private one, the placeholder the VM fills at
 * boot, or the static IP itself when the interface holds it.
 */
export function boundIp(addresses: VmAddresses): string {
  const { bind } = addresses;
  return bind.kind === "nat" ? bind.privateIp : bind.kind === "anchor" ? ANCHOR_ADDRESS_PLACEHOLDER : addresses.publicIp;
}
