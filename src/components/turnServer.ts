/**
 * A hardened coturn TURN server for one region: validated config in, a VM with a static IP, firewall and rendered
 * coturn config out. Users can import it into their own Pulumi programs.
 */
import * as pulumi from "@pulumi/pulumi";
import { AwsTurnHost } from "../clouds/aws";
import type { StackConfig } from "../config/stackConfig";
import { iceServersTemplate, turnUrls, type IceServerTemplate } from "../plan/endpoints";
import { firewallPlan } from "../plan/firewall";
import { renderVm } from "../render/vmFiles";

/** Inputs of `TurnServer`. */
export interface TurnServerArgs {
  /** The validated stack config (see `loadStackConfig`). */
  readonly config: StackConfig;
  /** Pulumi project name, tagged on every resource. */
  readonly project: string;
  /** AWS CLI profile for the provider, if the user set `aws:profile`. */
  readonly awsProfile?: string;
}

/** A TURN server on its cloud, with the outputs apps and operators need. */
export class TurnServer extends pulumi.ComponentResource {
  /** Static public IP. */
  readonly publicIp: pulumi.Output<string>;
  /** Private IP coturn listens and relays on. */
  readonly privateIp: pulumi.Output<string>;
  /** Cloud instance id. */
  readonly instanceId: pulumi.Output<string>;
  /** Image the VM runs. */
  readonly imageName: pulumi.Output<string>;
  /** Every `turn:`/`turns:` URL the server answers. */
  readonly urls: string[];
  /** `iceServers` for browsers, without credentials (apps mint them per user). */
  readonly iceServers: IceServerTemplate[];
  /** The DNS record to create for `domain`. */
  readonly dnsRecord: pulumi.Output<string>;

  /** Creates the server. */
  constructor(name: string, args: TurnServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:index:TurnServer", name, {}, opts);
    const { config } = args;
    const host = new AwsTurnHost(
      name,
      {
        region: config.region,
        ...(config.availabilityZone === undefined ? {} : { availabilityZone: config.availabilityZone }),
        instanceType: config.instanceType,
        image: config.image,
        firewall: firewallPlan(config),
        userData: (addresses) => renderVm(config, addresses).userData,
        tags: {
          ...config.tags,
          "coturn:project": args.project,
          "coturn:stack": config.stack,
          "coturn:ephemeral": String(config.ephemeral),
          ManagedBy: "pulumi",
        },
        protectStaticIp: !config.ephemeral,
        ...(args.awsProfile === undefined ? {} : { profile: args.awsProfile }),
      },
      { parent: this },
    );
    this.publicIp = host.publicIp;
    this.privateIp = host.privateIp;
    this.instanceId = host.instanceId;
    this.imageName = host.imageName;
    this.urls = turnUrls(config).map((u) => u.url);
    this.iceServers = iceServersTemplate(config);
    this.dnsRecord = pulumi.interpolate`${config.domain}. A ${host.publicIp}`;
    this.registerOutputs({ publicIp: this.publicIp, urls: this.urls, instanceId: this.instanceId });
  }
}
