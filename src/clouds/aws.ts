/**
 * The AWS host of a TURN server: a dedicated VPC, an Elastic IP on a fixed network interface, a security group with
 * exactly the planned rules, and an EC2 instance booted from user-data.
 *
 * The Elastic IP is associated with a network interface that outlives the instance, so replacing the VM (a user-data
 * change, a new image) keeps both the public and the private address; the private address is fixed here, so the whole
 * coturn config is rendered at deploy time.
 */
import { gzipSync } from "node:zlib";
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { ImageChoice } from "../config/schema";
import type { FirewallPlan, FirewallRule } from "../plan/firewall";
import type { VmAddresses } from "../render/vmFiles";

/** Address plan of the dedicated VPC: nothing else lives in it, so the relay has nothing private to reach. */
export const AWS_NETWORK = { vpcCidr: "10.77.0.0/24", subnetCidr: "10.77.0.0/24", privateIp: "10.77.0.10" } as const;

/** Official image owners and name patterns (`{arch}` is `amd64` or `arm64`). */
export const AWS_IMAGES: Record<ImageChoice, { owner: string; namePattern: string }> = {
  "debian-12": { owner: "136693071363", namePattern: "debian-12-{arch}-*" },
  "ubuntu-24.04": { owner: "099720109477", namePattern: "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-{arch}-server-*" },
};

/** EC2's limit on user-data, before base64. */
export const AWS_USER_DATA_LIMIT = 16_384;

/**
 * Gzips user-data for EC2 (cloud-init recognises gzip): the commented coturn config alone is several KiB, and a TLS
 * chain would push plain text past the 16 KiB limit. Gzip output here has no timestamp, so it is deterministic.
 */
export function encodeAwsUserData(userData: string): string {
  const packed = gzipSync(Buffer.from(userData, "utf8"), { level: 9 });
  if (packed.length > AWS_USER_DATA_LIMIT) {
    throw new Error(`user-data is ${packed.length} bytes gzipped; EC2 accepts at most ${AWS_USER_DATA_LIMIT}`);
  }
  return packed.toString("base64");
}

/** `arm64` for Graviton instance families (t4g, c7gn, m8g, a1, …), else `amd64`. */
export function awsArchitecture(instanceType: string): "arm64" | "amd64" {
  const family = instanceType.split(".")[0];
  return family === "a1" || /^[a-z]+\d+g[a-z]*$/.test(family) ? "arm64" : "amd64";
}

/** Inputs of `AwsTurnHost`. */
export interface AwsTurnHostArgs {
  /** AWS region. */
  readonly region: string;
  /** Zone; default: the first zone (by name) offering `instanceType`. */
  readonly availabilityZone?: string;
  /** EC2 instance type. */
  readonly instanceType: string;
  /** Official image to boot. */
  readonly image: ImageChoice;
  /** Firewall rules. */
  readonly firewall: FirewallPlan;
  /** Renders the cloud-init user-data once the addresses are known. */
  readonly userData: (addresses: VmAddresses) => string;
  /** Tags added to every resource (through the provider's default tags). */
  readonly tags: Readonly<Record<string, string>>;
  /** Protect the Elastic IP from `pulumi destroy` (off for ephemeral test stacks). */
  readonly protectStaticIp: boolean;
  /** Optional AWS CLI profile for the provider. */
  readonly profile?: string;
}

/** An EC2 TURN host with a static IP. */
export class AwsTurnHost extends pulumi.ComponentResource {
  /** Static public IP. */
  readonly publicIp: pulumi.Output<string>;
  /** Fixed private IP coturn binds. */
  readonly privateIp: pulumi.Output<string>;
  /** EC2 instance id. */
  readonly instanceId: pulumi.Output<string>;
  /** AMI the instance booted from. */
  readonly imageId: pulumi.Output<string>;
  /** Name of that AMI. */
  readonly imageName: pulumi.Output<string>;

  /** Creates the VPC, address, firewall and instance. */
  constructor(name: string, args: AwsTurnHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:aws:TurnHost", name, {}, opts);
    const provider = new aws.Provider(
      `${name}-aws`,
      { region: args.region as aws.Region, profile: args.profile, defaultTags: { tags: { ...args.tags } } },
      { parent: this },
    );
    const child = { parent: this, provider };
    const nameTag = (suffix: string): { Name: string } => ({ Name: `${name}-${suffix}` });

    const zone =
      args.availabilityZone !== undefined
        ? pulumi.output(args.availabilityZone)
        : aws.ec2
            .getInstanceTypeOfferingsOutput(
              { locationType: "availability-zone", filters: [{ name: "instance-type", values: [args.instanceType] }] },
              child,
            )
            .locations.apply((zones) => {
              const first = [...zones].sort()[0];
              if (!first) throw new Error(`instance type ${args.instanceType} is not offered in ${args.region}`);
              return first;
            });

    const vpc = new aws.ec2.Vpc(
      `${name}-vpc`,
      { cidrBlock: AWS_NETWORK.vpcCidr, enableDnsSupport: true, enableDnsHostnames: true, tags: nameTag("vpc") },
      child,
    );
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: nameTag("igw") }, child);
    const subnet = new aws.ec2.Subnet(
      `${name}-subnet`,
      {
        vpcId: vpc.id,
        cidrBlock: AWS_NETWORK.subnetCidr,
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
        privateIps: [AWS_NETWORK.privateIp],
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

    const architecture = awsArchitecture(args.instanceType);
    const image = aws.ec2.getAmiOutput(
      {
        owners: [AWS_IMAGES[args.image].owner],
        mostRecent: true,
        filters: [
          { name: "name", values: [AWS_IMAGES[args.image].namePattern.replace("{arch}", architecture)] },
          { name: "architecture", values: [architecture === "arm64" ? "arm64" : "x86_64"] },
          { name: "virtualization-type", values: ["hvm"] },
          { name: "root-device-type", values: ["ebs"] },
        ],
      },
      child,
    );

    const userData = pulumi.secret(
      staticIp.publicIp.apply((publicIp) => encodeAwsUserData(args.userData({ publicIp, privateIp: AWS_NETWORK.privateIp }))),
    );
    const instance = new aws.ec2.Instance(
      `${name}-vm`,
      {
        ami: image.id,
        instanceType: args.instanceType,
        primaryNetworkInterface: { networkInterfaceId: networkInterface.id },
        userDataBase64: userData,
        // cloud-init runs once: a changed config only takes effect on a fresh instance (the addresses stay).
        userDataReplaceOnChange: true,
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          httpPutResponseHopLimit: 1,
          instanceMetadataTags: "disabled",
        },
        rootBlockDevice: { encrypted: true, volumeType: "gp3", deleteOnTermination: true },
        tags: nameTag("vm"),
      },
      // The network interface can hold one instance at a time, so the old one goes first.
      { ...child, deleteBeforeReplace: true, dependsOn: [association, routes] },
    );

    this.publicIp = staticIp.publicIp;
    this.privateIp = networkInterface.privateIp;
    this.instanceId = instance.id;
    this.imageId = image.id;
    this.imageName = image.name;
    this.registerOutputs({ publicIp: this.publicIp, privateIp: this.privateIp, instanceId: this.instanceId });
  }
}
