/**
 * The network a booted VM sits in, built from the cloud labs' pieces (lab/cloudLab.ts): the lab internet with
 * a client and a peer host, and the cloud's way of delivering the static IP. EC2 and Compute Engine: a 1:1 NAT in front
 * of the VM's private address. DigitalOcean: the Droplet on the internet with its own IP and an anchor address, the
 * anchor gateway mapping the Reserved IP onto it, and a stand-in for the metadata service that tells the Droplet its
 * anchor address. The VM's interfaces are left unconfigured: the guest configures them from its network-config, as a
 * VM does. No namespace has a route out of the lab.
 */
import { randomBytes } from "node:crypto";
import { ANCHOR_LAB, CLOUD_LAB, startAnchorGateway, startMetadataStandIn, startOneToOneNat } from "../cloudLab";
import { NetLab } from "../netlab";
import { NAT_NETWORK, type BindAddress } from "../../src/plan/addresses";
import type { GuestInterface } from "./seed";

/** The lab around one boot. */
export interface BootLab {
  /** The namespaces (destroy it when done). */
  readonly lab: NetLab;
  /** Namespace names: the VM's, the client's (also where `pulumi up`'s SSH comes from) and the echo peer's. */
  readonly hosts: { readonly vm: string; readonly client: string; readonly peer: string };
  /** The static public IP clients use. */
  readonly publicIp: string;
  /** Where coturn listens inside the VM (private address, or the anchor address). */
  readonly coturnIp: string;
  /** The client's address (what STUN must reflect). */
  readonly clientIp: string;
  /** The echo peer's address. */
  readonly peerIp: string;
  /** What the guest's network-config gives each interface. */
  readonly guestInterfaces: Readonly<Record<string, GuestInterface>>;
}

/** Builds the lab for a VM whose static IP arrives as `bind` describes. */
export async function buildBootLab(bind: BindAddress): Promise<BootLab> {
  // Short and unique: namespace names end up in interface-free paths only, but several boots may run at once.
  const lab = new NetLab(`bt${randomBytes(3).toString("hex")}`);
  try {
    const vm = lab.addHost("vm");
    const edge = lab.addHost("edge");
    const client = lab.addHost("client");
    const peer = lab.addHost("peer");
    lab.attachToInternet(client, "eth0", CLOUD_LAB.client);
    lab.attachToInternet(peer, "eth0", CLOUD_LAB.peer);
    const common = { lab, hosts: { vm, client, peer }, publicIp: CLOUD_LAB.publicIp, clientIp: CLOUD_LAB.client, peerIp: CLOUD_LAB.peer };
    if (bind.kind === "nat") {
      startOneToOneNat(lab, edge);
      lab.ip(edge, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0", "netns", vm);
      lab.ip(edge, "addr", "add", `${CLOUD_LAB.gateway}/24`, "dev", "eth1");
      lab.ip(edge, "link", "set", "eth1", "up");
      const prefix = NAT_NETWORK.cidr.split("/")[1];
      return { ...common, coturnIp: bind.privateIp, guestInterfaces: { eth0: { addresses: [`${bind.privateIp}/${prefix}`], gateway: CLOUD_LAB.gateway } } };
    }
    startAnchorGateway(lab, edge);
    lab.attachToInternet(vm, "eth0", null);
    await startMetadataStandIn(lab, vm);
    return {
      ...common,
      coturnIp: ANCHOR_LAB.anchorIp,
      guestInterfaces: {
        // The Droplet's own public IP and, on the same interface, the anchor address (as DigitalOcean configures it).
        eth0: { addresses: [`${ANCHOR_LAB.dropletIp}/24`, `${ANCHOR_LAB.anchorIp}/16`] },
        meta0: { addresses: [`${ANCHOR_LAB.dropletMetadataIp}/16`] },
      },
    };
  } catch (error) {
    await lab.destroy();
    throw error;
  }
}
