/**
 * The DigitalOcean host of a TURN server: a Droplet from an official image in a VPC of its own, a Reserved IP as the
 * static address, and a cloud firewall that applies to the Droplet by tag from the moment it exists.
 *
 * A Reserved IP is not a 1:1 NAT onto an address fixed before boot: it reaches the Droplet on its anchor address,
 * which only the Droplet's metadata service knows, and outbound traffic leaves from the Droplet's own public IP unless
 * it is routed through the anchor gateway. So the rendered turnserver.conf carries a placeholder for the anchor
 * address, and the boot unit coturn-anchor-network (templates/) fills it in and routes everything sent from it
 * through the anchor gateway: coturn listens and relays on the anchor address and advertises the Reserved IP, and
 * relayed packets leave from the address clients were given.
 *
 * A `userData` change replaces the Droplet (DigitalOcean cannot update it); the Reserved IP stays and follows the
 * new Droplet. Provider settings: `digitalocean:token` (secret) or DIGITALOCEAN_TOKEN.
 */
import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { ImageChoice } from "../config/schema";
import type { VmAddresses } from "../plan/addresses";
import type { FirewallRule } from "../plan/firewall";
import { requireProviderToken } from "./providerToken";
import { encodeUserData } from "./userData";
import type { CloudAdapter, TurnHost, TurnHostArgs } from "./cloudAdapter";

/** Official image slugs. A slug always boots the newest image of that release, and stays the same string. */
export const DIGITALOCEAN_IMAGES: Record<ImageChoice, string> = {
  "debian-12": "debian-12-x64",
  "ubuntu-24.04": "ubuntu-24-04-x64",
};

/** Our tags as Droplet tags, which have no values: `coturn:stack` = `x` becomes `coturn:stack:x`. */
export function dropletTags(tags: Readonly<Record<string, string>>): string[] {
  return Object.entries(tags).map(([key, value]) => `${key}:${value}`.replace(/[^A-Za-z0-9:_-]/g, "_").slice(0, 255));
}

/** A firewall rule's ports in DigitalOcean's form (it has no port 0). */
function portRange(rule: FirewallRule): string {
  const from = Math.max(rule.fromPort, 1);
  return from === rule.toPort ? String(from) : `${from}-${rule.toPort}`;
}

/** A Droplet TURN host with a Reserved IP. */
export class DigitalOceanTurnHost extends pulumi.ComponentResource implements TurnHost {
  /** The Reserved IP. */
  readonly publicIp: pulumi.Output<string>;
  /** Droplet id. */
  readonly instanceId: pulumi.Output<string>;
  /** Name of the image the slug currently points to. */
  readonly imageName: pulumi.Output<string>;
  /** The Droplet's own public IP. */
  readonly sshAddress: pulumi.Output<string>;

  /** Creates the VPC, Reserved IP, firewall and Droplet. */
  constructor(name: string, args: TurnHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:digitalocean:TurnHost", name, {}, opts);
    const { config } = args;
    requireProviderToken("digitalocean");
    const child = { parent: this };
    const region = config.region;
    const description = `coturn TURN server of stack ${config.stack}`;

    // The firewall finds the Droplet by this tag, so it applies from the Droplet's first packet, also to a replacement.
    const firewallTag = new digitalocean.Tag(`${name}-turn`, {}, child);
    const firewall = new digitalocean.Firewall(
      `${name}-fw`,
      {
        tags: [firewallTag.name],
        inboundRules: args.firewall.ingress.map((rule) => ({
          protocol: rule.protocol,
          portRange: portRange(rule),
          sourceAddresses: [...rule.cidrs],
        })),
        outboundRules: args.firewall.egress.map((rule) => ({
          protocol: rule.protocol,
          portRange: portRange(rule),
          destinationAddresses: [...rule.cidrs],
        })),
      },
      child,
    );
    // A VPC of its own: the Droplet's private interface reaches none of the account's other Droplets.
    const vpc = new digitalocean.Vpc(`${name}-vpc`, { region, description }, child);
    const reservedIp = new digitalocean.ReservedIp(`${name}-ip`, { region }, { ...child, protect: args.protectStaticIp });

    const slug = DIGITALOCEAN_IMAGES[config.image];
    const image = digitalocean.getImageOutput({ slug }, child);
    const bind = { kind: "anchor" } as const;
    const droplet = new digitalocean.Droplet(
      `${name}-vm`,
      {
        image: slug,
        region,
        size: config.instanceType,
        vpcUuid: vpc.id,
        userData: pulumi.secret(
          reservedIp.ipAddress.apply((publicIp) =>
            args.render({ publicIp, bind } satisfies VmAddresses).apply((r) => encodeUserData("digitalocean", r.userData)),
          ),
        ),
        tags: [firewallTag.name, ...dropletTags(args.tags)],
        ipv6: false,
        backups: false,
        // Neither the metrics agent nor the web-console agent: nothing listens or phones home but coturn.
        monitoring: false,
        dropletAgent: false,
      },
      { ...child, dependsOn: [firewall] },
    );
    new digitalocean.ReservedIpAssignment(
      `${name}-ip`,
      { ipAddress: reservedIp.ipAddress, dropletId: droplet.id.apply(Number) },
      // Deleting an assignment unassigns the IP: the old one must go before the new Droplet gets it.
      { ...child, deleteBeforeReplace: true },
    );

    this.publicIp = reservedIp.ipAddress;
    this.instanceId = droplet.id;
    this.imageName = image.name;
    this.sshAddress = droplet.ipv4Address;
    this.registerOutputs({ publicIp: this.publicIp, instanceId: this.instanceId });
  }
}

/** DigitalOcean: a Reserved IP delivered to the Droplet's anchor address. */
export const digitalOceanAdapter: CloudAdapter = {
  checkProviderSettings: () => requireProviderToken("digitalocean"),
  createHost: (name, args, opts) => new DigitalOceanTurnHost(name, args, opts),
};
