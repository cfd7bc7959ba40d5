/**
 * The example AWS stack's production turnserver.conf, running on a real coturn inside a lab that reproduces the
 * cloud's network: the VM has only its private address and an "edge" router maps the static public IP 1:1 onto it,
 * as EC2 does. Clients and peers sit on the lab internet with public addresses, so the production deny list applies
 * unchanged. The config differs from production only in the certificate paths and the log destination.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AWS_NETWORK } from "../../src/clouds/aws";
import { validateStackConfig } from "../../src/config/validate";
import { makeSelfSignedCertificate } from "../../src/local/selfSigned";
import { renderTurnserverConf, TLS_PATHS } from "../../src/render/vmFiles";
import type { LabJob } from "./labClient";
import { LAB_INTERNET, NetLab, requireCommands, waitFor, type LabProcess } from "./netlab";
import { exampleConfig, TEST_SECRET } from "./program";

/** Addresses of the cloud lab. */
export const CLOUD_LAB = {
  /** The stack's static public IP (the edge router's address on the lab internet). */
  publicIp: `${LAB_INTERNET.prefix}.10`,
  /** The VM's private address: the one AWS gets (fixed ENI address). */
  privateIp: AWS_NETWORK.privateIp,
  /** The edge router on the VM's subnet. */
  gateway: "10.77.0.1",
  /**
   * A public IPv6 relay address on the VM, so that IPv6 peers are really checked against the deny list (with an
   * IPv4-only relay they get 443, address family mismatch, before any rule applies). The AWS VPC has no IPv6 today;
   * the rules must hold the day it does.
   */
  relayIpv6: "2600:1f18:77::10",
  /** An allowed peer host on the internet, running a UDP echo server. */
  peer: `${LAB_INTERNET.prefix}.20`,
  /** A TURN client host on the internet. */
  client: `${LAB_INTERNET.prefix}.30`,
} as const;

/** The secret the lab server holds: the example stack's config with the test secret in place of its encrypted one. */
export const LAB_SECRET = TEST_SECRET;

/** A lab coturn config and the lines it changed relative to production. */
export interface LabConf {
  /** Production config with the lab's paths. */
  readonly conf: string;
  /** Production line → lab line, for every line that differs. */
  readonly changes: ReadonlyArray<readonly [string, string]>;
}

/** The production config of the example stack, as rendered for `pulumi up`, with the lab's public IP. */
export function productionConf(): string {
  const raw = exampleConfig();
  const config = validateStackConfig({ stack: raw.stack, values: raw.values, secretKeys: new Set(raw.secretKeys) });
  return renderTurnserverConf(config, { publicIp: CLOUD_LAB.publicIp, privateIp: CLOUD_LAB.privateIp });
}

/**
 * Swaps exactly the lines the lab needs: certificate paths (a temp folder instead of /etc/coturn/tls) and logging
 * (a file the test can show, since the lab has no syslog). Throws if a line to swap is missing, so a template change
 * cannot silently leave the lab testing something else.
 */
export function labConf(production: string, paths: { certificate: string; privateKey: string; logFile: string }): LabConf {
  const swaps: Array<[string, string]> = [
    [`relay-ip=${CLOUD_LAB.privateIp}`, `relay-ip=${CLOUD_LAB.privateIp}\nrelay-ip=${CLOUD_LAB.relayIpv6}`],
    [`cert=${TLS_PATHS.certificate}`, `cert=${paths.certificate}`],
    [`pkey=${TLS_PATHS.privateKey}`, `pkey=${paths.privateKey}`],
    ["syslog", `log-file=${paths.logFile}`],
    ["no-stdout-log", "simple-log"],
  ];
  const lines = production.split("\n");
  for (const [from, to] of swaps) {
    const index = lines.indexOf(from);
    if (index < 0) throw new Error(`production turnserver.conf has no line "${from}" for the lab to replace`);
    lines[index] = to;
  }
  return { conf: lines.join("\n"), changes: swaps };
}

/** Runs a labClient.ts job inside a lab host and returns its JSON answer. */
export function runLabJob<T = Record<string, unknown>>(lab: NetLab, ns: string, job: LabJob): T {
  const out = lab.exec(ns, process.execPath, "--import", "tsx", join(__dirname, "labClient.ts"), JSON.stringify(job));
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as T;
}

/** The running cloud lab. */
export interface CloudLab {
  /** The lab (destroy it in `after`). */
  readonly lab: NetLab;
  /** Namespace names of the hosts. */
  readonly hosts: { readonly turn: string; readonly edge: string; readonly peer: string; readonly client: string };
  /** coturn inside `turn`. */
  readonly coturn: LabProcess;
  /** The config coturn runs and its differences from production. */
  readonly conf: LabConf;
  /** The certificate coturn serves. */
  readonly certificatePath: string;
  /** coturn's log so far. */
  log(): string;
  /** Stops everything and removes the temp folder. */
  destroy(): Promise<void>;
}

/** Builds the lab and starts coturn with the production config; resolves once coturn listens on every port. */
export async function startCloudLab(tag?: string): Promise<CloudLab> {
  requireCommands([
    ["/usr/bin/turnserver", "coturn"],
    ["/usr/bin/turnutils_peer", "coturn"],
    ["/usr/bin/openssl", "openssl"],
  ]);
  const lab = new NetLab(tag);
  const dir = mkdtempSync(join(tmpdir(), "coturn-lab-"));
  const destroy = async (): Promise<void> => {
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const turn = lab.addHost("turn");
    const edge = lab.addHost("edge");
    const peer = lab.addHost("peer");
    const client = lab.addHost("client");
    lab.attachToInternet(edge, "eth0", CLOUD_LAB.publicIp);
    lab.link(edge, "eth1", CLOUD_LAB.gateway, turn, "eth0", CLOUD_LAB.privateIp);
    lab.ip(turn, "route", "add", "default", "via", CLOUD_LAB.gateway);
    lab.ip(turn, "addr", "add", `${CLOUD_LAB.relayIpv6}/64`, "dev", "eth0", "nodad");
    lab.attachToInternet(peer, "eth0", CLOUD_LAB.peer);
    lab.attachToInternet(client, "eth0", CLOUD_LAB.client);
    // EC2's 1:1 NAT: the public IP is translated to the VM's private address and back, nothing else.
    lab.router(
      edge,
      `table ip edge {
  chain prerouting { type nat hook prerouting priority dstnat; ip daddr ${CLOUD_LAB.publicIp} dnat to ${CLOUD_LAB.privateIp}; }
  chain postrouting { type nat hook postrouting priority srcnat; ip saddr ${CLOUD_LAB.privateIp} snat to ${CLOUD_LAB.publicIp}; }
}
`,
    );

    const tls = makeSelfSignedCertificate(dir, CLOUD_LAB.publicIp, "turn.example.com");
    const logFile = join(dir, "turnserver.log");
    const conf = labConf(productionConf(), { ...tls, logFile });
    const confPath = join(dir, "turnserver.conf");
    writeFileSync(confPath, conf.conf, { mode: 0o600 });
    const coturn = lab.start(turn, "turnserver", ["-c", confPath, "--pidfile", join(dir, "turnserver.pid")]);
    const readLog = (): string => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
    await waitFor("coturn to listen on 3478 and 5349", () => {
      if (coturn.child.exitCode !== null) throw new Error(`coturn exited: ${coturn.output()}\n${readLog()}`);
      const sockets = lab.exec(turn, "ss", "-Hlntu");
      return [":3478", ":5349"].every((port) => sockets.includes(`${CLOUD_LAB.privateIp}${port}`));
    });
    return { lab, hosts: { turn, edge, peer, client }, coturn, conf, certificatePath: tls.certificate, log: readLog, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}
