/**
 * A region stack: `serverCount` hardened coturn servers on one cloud region, and the outputs apps, operators and the
 * global stack read. Server 1 is named after the stack (the resource names of a one-server region never change);
 * server k is `<stack>-<k>`.
 */
import * as pulumi from "@pulumi/pulumi";
import { TurnServer } from "../components/turnServer";
import type { DnsRecordOutput } from "../components/dnsRecords";
import type { Listener } from "../config/schema";
import type { StackConfig } from "../config/stackConfig";
import type { IceServerTemplate } from "../plan/endpoints";
import { serverIdentity } from "../plan/dns";
import type { InstalledCertificate } from "../render/tlsDocument";
import type { MetricsReadAccess } from "../monitoring/metricsReadAccess";

/** One server of a region, as the region stack outputs it. */
export interface RegionServerOutput {
  /** Resource name of the server (`<stack>` for server 1, `<stack>-<k>` after it). */
  readonly name: string;
  /** The server's own DNS name (`regionDomain` in a region of one server). */
  readonly domain: string;
  /** Its static public IP. */
  readonly publicIp: string;
  /** The cloud's id of its VM. */
  readonly instanceId: string;
}

/** The outputs of a region stack: what `pulumi stack output` shows and what the global stack reads. */
export interface RegionStackOutputs {
  /** Cloud of the region (`aws`, `gcp`, `digitalocean`). */
  readonly cloud: pulumi.Input<string>;
  /** Cloud region name. */
  readonly region: pulumi.Input<string>;
  /** Static public IP of server 1 (every server: `servers`). */
  readonly publicIp: pulumi.Input<string>;
  /** The shared DNS name clients connect to. */
  readonly domain: pulumi.Input<string>;
  /** The region's own DNS name (one A record per server). */
  readonly regionDomain: pulumi.Input<string>;
  /** Every server of the region. */
  readonly servers: pulumi.Input<RegionServerOutput[]>;
  /** Listeners that are on (the global stack monitors the TLS one). */
  readonly listeners: pulumi.Input<Listener[]>;
  /** The A records of the servers' names: managed in Cloudflare (`managedBy: cloudflare`) or to create by hand. */
  readonly dnsRecords: pulumi.Input<DnsRecordOutput[]>;
  /** The certificate server 1 serves (names, expiry, issuer), as its VM reported it after installing it. */
  readonly tlsCertificate: pulumi.Input<InstalledCertificate> | undefined;
  /** Every turn:/turns: URL the servers answer. */
  readonly urls: pulumi.Input<string[]>;
  /** iceServers for browsers, without credentials: apps add the username/credential they mint. */
  readonly iceServers: pulumi.Input<IceServerTemplate[]>;
  /** Fingerprints of the secrets that every server accepts, as the VMs reported them (`npm run mint`/`rotate` check them). */
  readonly acceptedSecretFingerprints: pulumi.Input<string[]>;
  /** The cloud's id of server 1's VM. */
  readonly instanceId: pulumi.Input<string>;
  /** Official image a new VM boots from (on AWS, a newer image shows up in `pulumi preview` as a VM replacement). */
  readonly imageName: pulumi.Input<string>;
  /** How `npm run status` reads each server's metrics over SSH (a secret: it holds the read keys). */
  readonly metricsAccess: pulumi.Input<MetricsReadAccess[]>;
}

/** Resource name of server `index` (1-based) of a region stack. */
export function serverName(stack: string, index: number): string {
  return index === 1 ? stack : `${stack}-${index}`;
}

/** Builds the region's servers and returns the stack outputs. */
export function regionStack(config: StackConfig, project: string): RegionStackOutputs {
  for (const warning of config.sizing?.warnings ?? []) void pulumi.log.warn(`coturn:capacity: ${warning}`);
  const servers = Array.from({ length: config.serverCount }, (_, i) => {
    const index = i + 1;
    return new TurnServer(serverName(config.stack, index), { config: { ...config, ...serverIdentity(config, index) }, project });
  });
  const first = servers[0];
  const serverOutputs = servers.map((server, i) =>
    pulumi.all([server.publicIp, server.instanceId]).apply(([publicIp, instanceId]) => ({
      name: serverName(config.stack, i + 1),
      domain: serverIdentity(config, i + 1).serverDomain ?? config.regionDomain,
      publicIp,
      instanceId,
    })),
  );
  return {
    cloud: config.cloud,
    region: config.region,
    publicIp: first.publicIp,
    domain: config.domain,
    regionDomain: config.regionDomain,
    servers: pulumi.all(serverOutputs),
    listeners: [...config.listeners],
    dnsRecords: pulumi.all(servers.map((s) => s.dnsRecords)).apply((lists) => lists.flat()),
    tlsCertificate: first.tlsCertificate,
    urls: first.urls,
    iceServers: first.iceServers,
    acceptedSecretFingerprints: pulumi
      .all(servers.map((s) => s.acceptedSecretFingerprints))
      .apply((lists) => lists[0].filter((fingerprint) => lists.every((list) => list.includes(fingerprint)))),
    instanceId: first.instanceId,
    imageName: first.imageName,
    metricsAccess: pulumi.secret(pulumi.all(servers.map((s) => s.metricsAccess))),
  };
}
