/**
 * The Google Cloud host of a TURN server: a dedicated VPC network and subnet, a static external address mapped 1:1
 * onto a static internal one, firewall rules that apply only to instances with the TURN network tag, a service
 * account with no roles and no scopes, and an Ubuntu instance whose cloud-init user-data travels in metadata.
 *
 * Metadata updates in place, so a change of the auth secrets alone never replaces the VM. Anything else in the
 * user-data can only take effect through cloud-init on a fresh VM (it runs once), so the instance is replaced exactly
 * when the user-data with its secrets masked changes (`replacementTrigger`). Both addresses are static, so a
 * replaced VM keeps them.
 *
 * Provider settings are the usual `gcp:*` stack config (`gcp:project`, or GOOGLE_PROJECT) and Application Default
 * Credentials; the region comes from `coturn:region`.
 */
import { createHash } from "node:crypto";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { CLOUD_PROFILES } from "../config/cloudProfiles";
import type { ImageChoice } from "../config/schema";
import { NAT_NETWORK, type VmAddresses } from "../plan/addresses";
import type { FirewallRule } from "../plan/firewall";
import type { CloudAdapter, TurnHost, TurnHostArgs } from "./cloudAdapter";

/** Official image project and family per choice (`{arch}` is `amd64` or `arm64`); only images with cloud-init. */
export const GCP_IMAGES: Partial<Record<ImageChoice, { project: string; family: string }>> = {
  "ubuntu-24.04": { project: "ubuntu-os-cloud", family: "ubuntu-2404-lts-{arch}" },
};

/** The network tag every firewall rule targets: a rule never applies to an instance without it. */
export const GCP_TURN_TAG = "coturn-turn-server";

/** Environment variables the Google provider reads the project from when `gcp:project` is unset. */
const PROJECT_ENVIRONMENT = ["GOOGLE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT", "CLOUDSDK_CORE_PROJECT"];

/** Our tags as Google Cloud labels: `coturn:stack` becomes `coturn-stack`, values lowercase with `_` for the rest. */
export function gcpLabels(tags: Readonly<Record<string, string>>): Record<string, string> {
  const clean = (text: string, allowed: RegExp): string => text.toLowerCase().replace(allowed, "_").slice(0, 63);
  return Object.fromEntries(
    Object.entries(tags).map(([key, value]) => [clean(key.replace(/:/g, "-"), /[^a-z0-9_-]/g), clean(value, /[^a-z0-9_-]/g)]),
  );
}

/** A service account id (6-30 characters) that names the stack and cannot collide with another stack's. */
export function gcpServiceAccountId(project: string, stack: string): string {
  const slug = stack.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 16).replace(/-+$/, "");
  const digest = createHash("sha256").update(`${project}/${stack}`).digest("hex").slice(0, 6);
  return `turn-${slug || "stack"}-${digest}`;
}

/** A firewall rule's ports in Compute Engine's form; undefined means every port. */
function gcpPorts(rule: FirewallRule): string[] | undefined {
  if (rule.fromPort === 0 && rule.toPort === 65535) return undefined;
  return [rule.fromPort === rule.toPort ? String(rule.fromPort) : `${rule.fromPort}-${rule.toPort}`];
}

/** A Compute Engine TURN host with static addresses. */
export class GcpTurnHost extends pulumi.ComponentResource implements TurnHost {
  /** Static external IP. */
  readonly publicIp: pulumi.Output<string>;
  /** Instance id. */
  readonly instanceId: pulumi.Output<string>;
  /** Name of the image the instance family currently points to. */
  readonly imageName: pulumi.Output<string>;
  /** The static external IP, once the VM behind it exists. */
  readonly sshAddress: pulumi.Output<string>;

  /** Creates the network, addresses, firewall, service account and instance. */
  constructor(name: string, args: TurnHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:gcp:TurnHost", name, {}, opts);
    const { config } = args;
    const project = gcpProject();
    const images = GCP_IMAGES[config.image];
    if (!images) throw new Error(`unreachable: coturn:image ${config.image} was validated for gcp`);
    const child = { parent: this };
    const region = config.region;
    const labels = gcpLabels(args.tags);
    const description = `coturn TURN server of stack ${config.stack}`;

    const zone =
      config.availabilityZone !== undefined
        ? pulumi.output(config.availabilityZone)
        : gcp.compute.getZonesOutput({ project, region, status: "UP" }, child).names.apply((zones) => {
            const first = [...zones].sort()[0];
            if (!first) throw new Error(`coturn:region ${region} has no zone that is up`);
            return first;
          });

    // A network of its own: nothing else lives in it, and it starts with no firewall rules but GCP's implied ones
    // (deny all in, allow all out), which the rules below narrow.
    const network = new gcp.compute.Network(`${name}-vpc`, { project, autoCreateSubnetworks: false, description }, child);
    const subnet = new gcp.compute.Subnetwork(
      `${name}-subnet`,
      { project, region, network: network.id, ipCidrRange: NAT_NETWORK.cidr, privateIpGoogleAccess: false, description },
      child,
    );
    const internalIp = new gcp.compute.Address(
      `${name}-internal-ip`,
      { project, region, addressType: "INTERNAL", subnetwork: subnet.id, address: NAT_NETWORK.privateIp, description, labels },
      child,
    );
    const staticIp = new gcp.compute.Address(
      `${name}-ip`,
      { project, region, addressType: "EXTERNAL", networkTier: "PREMIUM", description, labels },
      { ...child, protect: args.protectStaticIp },
    );

    const firewall = (rule: FirewallRule, direction: "INGRESS" | "EGRESS"): gcp.compute.Firewall =>
      new gcp.compute.Firewall(
        `${name}-${direction === "INGRESS" ? "in" : "out"}-${rule.name}`,
        {
          project,
          network: network.id,
          direction,
          priority: 1000,
          targetTags: [GCP_TURN_TAG],
          ...(direction === "INGRESS" ? { sourceRanges: [...rule.cidrs] } : { destinationRanges: [...rule.cidrs] }),
          allows: [{ protocol: rule.protocol, ports: gcpPorts(rule) }],
          description: rule.description,
        },
        child,
      );
    const rules = [
      ...args.firewall.ingress.map((rule) => firewall(rule, "INGRESS")),
      ...args.firewall.egress.map((rule) => firewall(rule, "EGRESS")),
      // GCP allows all egress unless told otherwise: deny the rest, below the allow rules.
      new gcp.compute.Firewall(
        `${name}-out-deny-rest`,
        {
          project,
          network: network.id,
          direction: "EGRESS",
          priority: 65534,
          targetTags: [GCP_TURN_TAG],
          destinationRanges: ["0.0.0.0/0"],
          denies: [{ protocol: "all" }],
          description: "nothing else leaves the TURN server",
        },
        child,
      ),
    ];

    // coturn calls no Google API: an identity with no roles, and no OAuth scopes for its tokens.
    const account = new gcp.serviceaccount.Account(
      `${name}-sa`,
      { project, accountId: gcpServiceAccountId(project, config.stack), displayName: `coturn ${config.stack}`, description },
      child,
    );

    const architecture = CLOUD_PROFILES.gcp.architecture(config.instanceType);
    const family = images.family.replace("{arch}", architecture);
    const image = gcp.compute.getImageOutput({ project: images.project, family }, child);
    const bind = { kind: "nat", privateIp: NAT_NETWORK.privateIp } as const;
    const rendered = staticIp.address.apply((publicIp) => args.render({ publicIp, bind } satisfies VmAddresses));
    const instance = new gcp.compute.Instance(
      `${name}-vm`,
      {
        project,
        zone,
        machineType: config.instanceType,
        description,
        // The family, not today's image, so that a new image in the family need not replace a running VM (the
        // provider suppresses that diff for images of the family; terraform-provider-google#948 describes the
        // matching by name, not verified here for Ubuntu's names). unattended-upgrades keeps the VM patched.
        bootDisk: { initializeParams: { image: `projects/${images.project}/global/images/family/${family}`, size: 10, type: "pd-balanced", labels } },
        networkInterfaces: [
          { subnetwork: subnet.id, networkIp: internalIp.address, accessConfigs: [{ natIp: staticIp.address, networkTier: "PREMIUM" }] },
        ],
        metadata: pulumi.secret(
          rendered.apply((r) => ({
            "user-data": r.userData,
            // Only the keys in user-data open SSH (and only when the firewall does): no project-wide keys.
            "block-project-ssh-keys": "TRUE",
            "serial-port-enable": "FALSE",
          })),
        ),
        tags: [GCP_TURN_TAG],
        labels,
        serviceAccount: { email: account.email, scopes: [] },
        ...(architecture === "amd64"
          ? { shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true } }
          : {}),
        canIpForward: false,
        // A size change stops and starts the VM (coturn comes back with the same config and addresses).
        allowStoppingForUpdate: true,
      },
      {
        ...child,
        // The static internal address can be on one VM at a time, so the old one goes first.
        deleteBeforeReplace: true,
        replacementTrigger: rendered.apply((r) => r.revision),
        dependsOn: rules,
      },
    );

    this.publicIp = staticIp.address;
    this.instanceId = instance.instanceId;
    this.imageName = image.name;
    this.sshAddress = pulumi.all([staticIp.address, instance.id]).apply(([address]) => address);
    this.registerOutputs({ publicIp: this.publicIp, instanceId: this.instanceId });
  }
}

/** The Google Cloud project from `gcp:project` or the environment; a RunError naming the fix when there is none. */
function gcpProject(): string {
  const project = new pulumi.Config("gcp").get("project") ?? PROJECT_ENVIRONMENT.map((v) => process.env[v]).find(Boolean);
  if (!project) {
    throw new pulumi.RunError(
      "gcp: no Google Cloud project is set. Set it: pulumi config set gcp:project <your-project-id> (or export GOOGLE_PROJECT)",
    );
  }
  return project;
}

/** Google Cloud: a static external address mapped 1:1 onto a static internal one. */
export const gcpAdapter: CloudAdapter = {
  checkProviderSettings: () => void gcpProject(),
  createHost: (name, args, opts) => new GcpTurnHost(name, args, opts),
};
