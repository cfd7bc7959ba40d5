/**
 * The AWS host of a TURN server: a dedicated VPC, an Elastic IP on a fixed network interface, a security group with
 * exactly the planned rules, and an EC2 instance booted from user-data.
 *
 * The Elastic IP is associated with a network interface that outlives the instance, so replacing the VM (a user-data
 * change, a new image) keeps both the public and the private address; the private address is fixed here, so the whole
 * coturn config is rendered at deploy time.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { CLOUD_PROFILES } from "../config/cloudProfiles";
import type { ImageChoice } from "../config/schema";
import { NAT_NETWORK, type VmAddresses } from "../plan/addresses";
import type { FirewallRule } from "../plan/firewall";
import { encodeUserData } from "./userData";
import type { CloudAdapter, TurnHost, TurnHostArgs } from "./cloudAdapter";

/** Official image owners and name patterns (`{arch}` is `amd64` or `arm64`). */
export const AWS_IMAGES: Record<ImageChoice, { owner: string; namePattern: string }> = {
  "debian-12": { owner: "136693071363", namePattern: "debian-12-{arch}-*" },
  "ubuntu-24.04": { owner: "099720109477", namePattern: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*" },
};

/**
 * An EC2 TURN host with a static IP. The provider takes `coturn:region` and `aws:profile`; credentials come from the
 * usual AWS environment (AWS_PROFILE, AWS_ACCESS_KEY_ID, SSO, …).
 */
export class AwsTurnHost extends pulumi.ComponentResource implements TurnHost {
  /** Static public IP. */
  readonly publicIp: pulumi.Output<string>;
  /** EC2 instance id. */
  readonly instanceId: pulumi.Output<string>;
  /** AMI the instance booted from. */
  readonly imageId: pulumi.Output<string>;
  /** Name of that AMI. */
  readonly imageName: pulumi.Output<string>;
  /** The Elastic IP, once the instance behind it exists. */
  readonly sshAddress: pulumi.Output<string>;

  /** Creates the VPC, address, firewall and instance. */
  constructor(name: string, args: TurnHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:aws:TurnHost", name, {}, opts);
    const { config } = args;
    const provider = new aws.Provider(
      `${name}-aws`,
      {
        region: config.region as aws.Region,
        profile: new pulumi.Config("aws").get("profile"),
        defaultTags: { tags: { ...args.tags } },
      },
      { parent: this },
    );
    const child = { parent: this, provider };
    const nameTag = (suffix: string): { Name: string } => ({ Name: `${name}-${suffix}` });

    const zone =
      config.availabilityZone !== undefined
        ? pulumi.output(config.availabilityZone)
        : aws.ec2
            .getInstanceTypeOfferingsOutput(
              { locationType: "availability-zone", filters: [{ name: "instance-type", values: [config.instanceType] }] },
              child,
            )
            .locations.apply((zones) => {
              const first = [...zones].sort()[0];
              if (!first) throw new Error(`coturn:instanceType ${config.instanceType} is not offered in ${config.region}`);
              return first;
            });

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      { cidrBlock: NAT_NETWORK.cidr, enableDnsSupport: true, enableDnsHostnames: true, tags: nameTag("vpc") },
      child,
    );
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: nameTag("igw") }, child);
    const subnet = new aws.ec2.Subnet(
      `${name}-subnet`,
      {
        vpcId: vpc.id,
        cidrBlock: NAT_NETWORK.cidr,
        availabilityZone: zone,
        mapPublicIpOnLaunch: false,
        tags: nameTag("subnet"),
      },
      child,
    );
    const routes = new aws.ec2.RouteTable(
      `${name}-routes`,
      { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }], tags: nameTag("routes") },
      child,
    );
    new aws.ec2.RouteTableAssociation(`${name}-routes`, { subnetId: subnet.id, routeTableId: routes.id }, child);

    const securityGroup = new aws.ec2.SecurityGroup(
      `${name}-sg`,
      { vpcId: vpc.id, description: "coturn TURN server: listeners, relay range, optional SSH", tags: nameTag("sg") },
      child,
    );
    const ruleArgs = (rule: FirewallRule, cidr: string): aws.vpc.SecurityGroupIngressRuleArgs => ({
      securityGroupId: securityGroup.id,
      ipProtocol: rule.protocol,
      fromPort: rule.fromPort,
      toPort: rule.toPort,
      cidrIpv4: cidr,
      description: rule.description,
    });
    args.firewall.ingress.forEach((rule) =>
      rule.cidrs.forEach((cidr, i) => new aws.vpc.SecurityGroupIngressRule(`${name}-in-${rule.name}-${i}`, ruleArgs(rule, cidr), child)),
    );
    args.firewall.egress.forEach((rule) =>
      rule.cidrs.forEach((cidr, i) => new aws.vpc.SecurityGroupEgressRule(`${name}-out-${rule.name}-${i}`, ruleArgs(rule, cidr), child)),
    );

    const networkInterface = new aws.ec2.NetworkInterface(
      `${name}-eni`,
      {
        subnetId: subnet.id,
        privateIps: [NAT_NETWORK.privateIp],
        securityGroups: [securityGroup.id],
        description: "coturn TURN server: keeps its addresses across instance replacement",
        tags: nameTag("eni"),
      },
      child,
    );
    const staticIp = new aws.ec2.Eip(
      `${name}-ip`,
      { domain: "vpc", tags: nameTag("ip") },
      { ...child, protect: args.protectStaticIp, dependsOn: [gateway] },
    );
    const association = new aws.ec2.EipAssociation(
      `${name}-ip`,
      { allocationId: staticIp.allocationId, networkInterfaceId: networkInterface.id },
      child,
    );

    const architecture = CLOUD_PROFILES.aws.architecture(config.instanceType);
    const image = aws.ec2.getAmiOutput(
      {
        owners: [AWS_IMAGES[config.image].owner],
        mostRecent: true,
        filters: [
          { name: "name", values: [AWS_IMAGES[config.image].namePattern.replace("{arch}", architecture)] },
          { name: "architecture", values: [architecture === "arm64" ? "arm64" : "x86_64"] },
          { name: "virtualization-type", values: ["hvm"] },
          { name: "root-device-type", values: ["ebs"] },
        ],
      },
      child,
    );

    const bind = { kind: "nat", privateIp: NAT_NETWORK.privateIp } as const;
    const userData = pulumi.secret(
      staticIp.publicIp.apply((publicIp) => args.render({ publicIp, bind } satisfies VmAddresses).apply((r) => encodeUserData("aws", r.userData))),
    );
    const instance = new aws.ec2.Instance(
      `${name}-vm`,
      {
        ami: image.id,
        instanceType: config.instanceType,
        primaryNetworkInterface: { networkInterfaceId: networkInterface.id },
        userDataBase64: userData,
        // cloud-init runs once: a changed config only takes effect on a fresh instance (the addresses stay). Updating
        // user-data in place would stop and start the instance, dropping calls without applying anything.
        userDataReplaceOnChange: true,
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          httpPutResponseHopLimit: 1,
          instanceMetadataTags: "disabled",
        },
        // The provider's default tags do not reach the root volume: without these a leaked disk names no stack.
        rootBlockDevice: { encrypted: true, volumeType: "gp3", deleteOnTermination: true, tags: { ...args.tags, ...nameTag("disk") } },
        tags: nameTag("vm"),
      },
      // The network interface can hold one instance at a time, so the old one goes first.
      { ...child, deleteBeforeReplace: true, dependsOn: [association, routes] },
    );

    this.publicIp = staticIp.publicIp;
    this.instanceId = instance.id;
    this.imageId = image.id;
    this.imageName = image.name;
    this.sshAddress = pulumi.all([staticIp.publicIp, instance.id]).apply(([publicIp]) => publicIp);
    this.registerOutputs({ publicIp: this.publicIp, instanceId: this.instanceId });
  }
}

/** AWS: an Elastic IP on a network interface with a fixed private address (1:1 NAT). */
export const awsAdapter: CloudAdapter = {
  // Credentials come from the usual AWS chain, which the provider reads; the region is stack config.
  checkProviderSettings: () => undefined,
  createHost: (name, args, opts) => new AwsTurnHost(name, args, opts),
};
