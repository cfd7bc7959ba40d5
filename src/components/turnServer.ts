/**
 * A hardened coturn TURN server for one region: validated config in, a VM with a static IP, firewall and rendered
 * coturn config out, on the stack's cloud. Users can import it into their own Pulumi programs.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CloudAdapter } from "../clouds/cloudAdapter";
import { cloudAdapter } from "../clouds/registry";
import type { ServerConfig } from "../config/stackConfig";
import { iceServersTemplate, turnUrls, type IceServerTemplate } from "../plan/endpoints";
import { plannedDnsRecords } from "../plan/dns";
import { firewallPlan } from "../plan/firewall";
import type { InstalledCertificate } from "../render/tlsDocument";
import { renderUserData } from "../render/vmFiles";
import { DEPLOY_USER } from "../render/deployChannel";
import type { MetricsReadAccess } from "../monitoring/metricsReadAccess";
import { createCloudflareRecords, dnsRecordOutputs, type DnsRecordOutput } from "./dnsRecords";
import { deliverAuthSecrets, generateVmAccess } from "./secretDelivery";
import { deliverTlsCertificate } from "./tlsDelivery";
import { deliverOpsFiles } from "./opsDelivery";
import { EPHEMERAL_TAG, EXPIRES_AT_TAG } from "../config/stackTags";

/** Inputs of `TurnServer`. */
export interface TurnServerArgs {
  /** The validated stack config (see `loadStackConfig`), with the server's own name when the region runs several. */
  readonly config: ServerConfig;
  /** Pulumi project name, tagged on every resource. */
  readonly project: string;
  /** The cloud to build on; default: the adapter of `config.cloud`. */
  readonly adapter?: CloudAdapter;
}

/** A TURN server on its cloud, with the outputs apps and operators need. */
export class TurnServer extends pulumi.ComponentResource {
  /** Static public IP. */
  readonly publicIp: pulumi.Output<string>;
  /** Cloud instance id. */
  readonly instanceId: pulumi.Output<string>;
  /** Image a new VM boots from. */
  readonly imageName: pulumi.Output<string>;
  /** Every `turn:`/`turns:` URL the server answers. */
  readonly urls: string[];
  /** `iceServers` for browsers, without credentials (apps mint them per user). */
  readonly iceServers: IceServerTemplate[];
  /** The A records of the server's names: in Cloudflare when configured, else to create by hand. */
  readonly dnsRecords: pulumi.Output<DnsRecordOutput[]>;
  /** The certificate coturn serves, as the VM reported it after installing it (no TLS listener: none). */
  readonly tlsCertificate: pulumi.Output<InstalledCertificate> | undefined;
  /** Fingerprints of the secrets the VM's coturn accepts, as the VM reported them after applying them. */
  readonly acceptedSecretFingerprints: pulumi.Output<string[]>;
  /** How `npm run status` reads the server's metrics over SSH (a secret: it holds the read key). */
  readonly metricsAccess: pulumi.Output<MetricsReadAccess>;

  /** Creates the server. */
  constructor(name: string, args: TurnServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("coturn:index:TurnServer", name, {}, opts);
    const { config } = args;
    const adapter = args.adapter ?? cloudAdapter(config.cloud);
    // Before the first resource (the keys), so that missing settings leave nothing behind.
    adapter.checkProviderSettings();
    const access = generateVmAccess(name, { parent: this });
    const host = adapter.createHost(
      name,
      {
        config,
        firewall: firewallPlan(config),
        render: (addresses) => access.vmAccess.apply((keys) => renderUserData(config, addresses, keys)),
        tags: {
          ...config.tags,
          "coturn:project": args.project,
          "coturn:stack": config.stack,
          [EPHEMERAL_TAG]: config.ephemeral?.timeToLive ?? "false",
          ...(config.ephemeral ? { [EXPIRES_AT_TAG]: config.ephemeral.expiresAt } : {}),
          ManagedBy: "pulumi",
        },
        protectStaticIp: config.ephemeral === undefined,
      },
      { parent: this },
    );
    // The operations files come first: the TLS delivery needs the certificate manager among them, and the secrets
    // wait for the per-source limits, so that coturn never accepts a credential on a VM without them.
    const ops = deliverOpsFiles(name, { host, access, config }, { parent: this });
    const delivery = deliverAuthSecrets(name, { host, access, authSecrets: config.authSecrets }, { parent: this, dependsOn: [ops] });
    this.acceptedSecretFingerprints = delivery.acceptedSecretFingerprints;
    const usesTls = config.listeners.has("tls") || config.listeners.has("dtls");
    this.tlsCertificate = usesTls ? deliverTlsCertificate(name, { host, access, config }, { parent: this, dependsOn: [ops] }).certificate : undefined;
    const records = plannedDnsRecords(config);
    if (config.cloudflare) createCloudflareRecords(name, config.cloudflare, records, host.publicIp, { parent: this });
    this.dnsRecords = dnsRecordOutputs(records, host.publicIp, config.cloudflare !== undefined);
    this.publicIp = host.publicIp;
    this.instanceId = host.instanceId;
    this.imageName = host.imageName;
    this.urls = turnUrls(config).map((u) => u.url);
    this.iceServers = iceServersTemplate(config);
    this.metricsAccess = pulumi.secret(
      pulumi
        .all([host.sshAddress, access.hostPublicKey, access.metricsReadPrivateKey])
        .apply(([address, hostPublicKey, privateKey]) => ({ server: name, address, user: DEPLOY_USER, hostPublicKey: hostPublicKey.trim(), privateKey })),
    );
    this.registerOutputs({
      publicIp: this.publicIp,
      urls: this.urls,
      instanceId: this.instanceId,
      acceptedSecretFingerprints: this.acceptedSecretFingerprints,
      dnsRecords: this.dnsRecords,
      tlsCertificate: this.tlsCertificate,
    });
  }
}
