/**
 * An example stack's production turnserver.conf, running on a real coturn inside a lab that reproduces its cloud's
 * network. EC2 and Compute Engine: the VM has only its private address and an "edge" router maps the static public
 * IP 1:1 onto it. DigitalOcean: the Droplet has its own public IP and an anchor address on one interface, an "anchor"
 * gateway maps the Reserved IP onto the anchor address, and a stand-in metadata service tells the VM its anchor
 * address, so the rendered boot script (coturn-anchor-network) routes and fills in the config for real. Clients and
 * peers sit on the lab internet with public addresses, so the production deny list applies unchanged. The config
 * differs from production only in the certificate paths, the user database path, the log destination and one IPv6
 * relay address. The secrets reach coturn's user database through the rendered coturn-secrets script, as on a VM.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeSelfSignedCertificate } from "../src/local/selfSigned";
import { ANCHOR_ADDRESS_PLACEHOLDER, bindAddressFor, NAT_NETWORK } from "../src/plan/addresses";
import { SECRETS_SCRIPT_PATH, TLS_SCRIPT_PATH, USER_DB_PATH, parseAppliedSecretSet, secretSetDocument, type AppliedSecretSet } from "../src/render/deployChannel";
import { renderVm, TLS_PATHS, vmFile, type RenderedVm } from "../src/render/vmFiles";
import { RATE_LIMIT_PATHS, RATE_LIMIT_TABLE } from "../src/render/rateLimitFiles";
import { exampleStackConfig, PLACEHOLDER_ACCESS } from "./exampleStack";
import type { LabJob } from "./labClient";
import { LAB_INTERNET, NetLab, requireCommands, waitFor, type LabProcess } from "./netlab";

/** Addresses of the cloud lab. */
export const CLOUD_LAB = {
  /** The stack's static public IP (the edge router's address on the lab internet). */
  publicIp: `${LAB_INTERNET.prefix}.10`,
  /** The VM's private address on EC2 and Compute Engine (fixed before boot). */
  privateIp: NAT_NETWORK.privateIp,
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

/** Addresses of the DigitalOcean lab (a Reserved IP delivered to the Droplet's anchor address). */
export const ANCHOR_LAB = {
  /** The Droplet's own public IP: coturn must never send from it. */
  dropletIp: `${LAB_INTERNET.prefix}.40`,
  /** The anchor address, on the same interface; the metadata service gives it. */
  anchorIp: "10.19.0.5",
  /** The anchor gateway, which maps the Reserved IP (CLOUD_LAB.publicIp) onto the anchor address. */
  anchorGateway: "10.19.0.1",
  /** DigitalOcean's metadata service address. */
  metadataIp: "169.254.169.254",
  /** The Droplet's link-local address towards the metadata service. */
  dropletMetadataIp: "169.254.0.2",
} as const;

/** The secret the lab server holds (delivered as `pulumi up` does): the example stack's lab secret. */
export { LAB_SECRET } from "./exampleStack";

/** A lab coturn config and the lines it changed relative to production. */
export interface LabConf {
  /** Production config with the lab's paths. */
  readonly conf: string;
  /** Production line → lab line, for every line that differs. */
  readonly changes: ReadonlyArray<readonly [string, string]>;
}

/** Every file an example stack puts on its VM, as rendered for `pulumi up`, with the lab's public IP. */
export function productionVm(stack = "aws-example"): RenderedVm {
  const config = exampleStackConfig(stack);
  return renderVm(config, { publicIp: CLOUD_LAB.publicIp, bind: bindAddressFor(config.cloud) }, PLACEHOLDER_ACCESS);
}

/** An example stack's production turnserver.conf (on DigitalOcean with the anchor placeholder, as rendered). */
export function productionConf(stack = "aws-example"): string {
  return productionVm(stack).turnserverConf;
}

/**
 * What coturn-anchor-network does to the rendered files, written independently: the placeholder becomes the anchor
 * address in the lines that name coturn's own address, and nowhere else.
 */
export function fillAnchorAddress(text: string, anchorIp: string): string {
  const placeholder = ANCHOR_ADDRESS_PLACEHOLDER.replace(/\./g, "\\.");
  return text
    .replace(new RegExp(`^(listening-ip|relay-ip)=${placeholder}$`, "gm"), `$1=${anchorIp}`)
    .replace(new RegExp(`^(external-ip=[0-9.]+)/${placeholder}$`, "gm"), `$1/${anchorIp}`)
    .replace(new RegExp(`ip daddr ${placeholder} tcp dport 443 dnat to ${placeholder}:`, "g"), `ip daddr ${anchorIp} tcp dport 443 dnat to ${anchorIp}:`);
}

export { vmFile } from "../src/render/vmFiles";

/**
 * Swaps exactly the lines the lab needs: certificate paths (a temp folder instead of /etc/coturn/tls) and logging
 * (a file the test can show, since the lab has no syslog). Throws if a line to swap is missing, so a template change
 * cannot silently leave the lab testing something else.
 */
export function labConf(
  production: string,
  paths: { certificate: string; privateKey: string; logFile: string; userDb: string },
  privateIp: string = CLOUD_LAB.privateIp,
): LabConf {
  const swaps: Array<[string, string]> = [
    [`relay-ip=${privateIp}`, `relay-ip=${privateIp}\nrelay-ip=${CLOUD_LAB.relayIpv6}`],
    [`userdb=${USER_DB_PATH}`, `userdb=${paths.userDb}`],
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

/** Creates an empty coturn user database the way the Debian package's postinst does (sqlite3 < schema.sql). */
export function createUserDb(path: string): void {
  execFileSync("sqlite3", [path], { input: readFileSync("/usr/share/coturn/schema.sql") });
}

/**
 * Applies a secret set exactly as `pulumi up` makes the VM do it: the rendered coturn-secrets script, action `apply`,
 * the set on stdin in the form the Pulumi resource sends. Only the config path differs from the VM (the lab's copy).
 */
export function applySecretSet(lab: NetLab, ns: string, script: string, confPath: string, secrets: readonly string[]): AppliedSecretSet {
  return parseAppliedSecretSet(lab.execWithInput(ns, secretSetDocument(secrets), script, "apply", "--config", confPath));
}

/** Runs a labClient.ts job inside a lab host and returns its JSON answer. */
export function runLabJob<T = Record<string, unknown>>(lab: NetLab, ns: string, job: LabJob): T {
  const out = lab.exec(ns, process.execPath, ...labClientArgs(job));
  return JSON.parse(out.trim().split("\n").at(-1) ?? "{}") as T;
}

/**
 * Like `runLabJob`, without blocking this process (output it reads meanwhile, a container's console say, keeps
 * flowing); a job that prints no JSON answer gives `{ ok: false, error }` instead of throwing.
 */
export async function runLabJobAsync(lab: NetLab, ns: string, job: LabJob, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const run = await lab.run(ns, process.execPath, labClientArgs(job), { timeoutMs });
  const last = run.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    return { ok: false, error: `the client printed no result (exit ${run.status}): ${run.stderr.trim().slice(-300)}` };
  }
}

function labClientArgs(job: LabJob): string[] {
  return ["--import", "tsx", join(__dirname, "labClient.ts"), JSON.stringify(job)];
}

/** The running cloud lab. */
export interface CloudLab {
  /** The lab (destroy it in `after`). */
  readonly lab: NetLab;
  /** The example stack whose config runs. */
  readonly stack: string;
  /** Namespace names of the hosts (`edge` is the NAT or the anchor gateway). */
  readonly hosts: { readonly turn: string; readonly edge: string; readonly peer: string; readonly client: string };
  /** The address coturn listens and relays on (the fixed private address, or the anchor address). */
  readonly privateIp: string;
  /** coturn inside `turn`. */
  readonly coturn: LabProcess;
  /** The production config after the VM's boot steps, and the lab's changes to it. */
  readonly production: string;
  /** The config coturn runs and its differences from `production`. */
  readonly conf: LabConf;
  /** What the boot script coturn-anchor-network printed (DigitalOcean only). */
  readonly anchorNetworkLog?: string;
  /** The certificate coturn serves. */
  readonly certificatePath: string;
  /** Its private key. */
  readonly privateKeyPath: string;
  /** The folder holding both (its own folder with `runAsTurnserver`). */
  readonly tlsDir: string;
  /** coturn's pid file. */
  readonly pidFile: string;
  /** The VM's coturn-tls script, as rendered (root 0755, as on the VM). */
  readonly tlsScript: string;
  /** The config file coturn runs with. */
  readonly confPath: string;
  /** The VM's coturn-secrets script, as rendered. */
  readonly secretsScript: string;
  /** Replaces the accepted secret set the way `pulumi up` does (see `applySecretSet`). */
  applySecrets(secrets: readonly string[]): AppliedSecretSet;
  /** coturn's log so far. */
  log(): string;
  /** The file coturn logs to (what mtail reads in the lab; on a VM it reads the journal). */
  readonly logFile: string;
  /** The rendered VM files of the stack (user-data files and operations files). */
  readonly vm: RenderedVm;
  /** The temp folder of this lab's files. */
  readonly dir: string;
  /** Stops everything and removes the temp folder. */
  destroy(): Promise<void>;
}

/** Serves DigitalOcean's metadata paths for the anchor address on port 80 (a stand-in for the real service). */
const METADATA_SERVER = `
const http = require("node:http");
const answers = JSON.parse(process.argv[1]);
http.createServer((req, res) => {
  const answer = answers[req.url];
  res.writeHead(answer === undefined ? 404 : 200, { "content-type": "text/plain" });
  res.end(answer ?? "not found");
}).listen(80, process.argv[2]);
`;

/**
 * Makes `edge` the cloud's 1:1 NAT of EC2 and Compute Engine, on the lab internet with the static public IP: that IP
 * is translated to the VM's private address and back, nothing else. The caller links the VM to it (`eth1`, gateway
 * `CLOUD_LAB.gateway`).
 */
export function startOneToOneNat(lab: NetLab, edge: string): void {
  lab.attachToInternet(edge, "eth0", CLOUD_LAB.publicIp);
  lab.router(
    edge,
    `table ip edge {
  chain prerouting { type nat hook prerouting priority dstnat; ip daddr ${CLOUD_LAB.publicIp} dnat to ${CLOUD_LAB.privateIp}; }
  chain postrouting { type nat hook postrouting priority srcnat; ip saddr ${CLOUD_LAB.privateIp} snat to ${CLOUD_LAB.publicIp}; }
}
`,
  );
}

/**
 * Makes `edge` DigitalOcean's anchor gateway: on the Droplet's network, it maps the Reserved IP (the static public
 * IP) onto the anchor address and back.
 */
export function startAnchorGateway(lab: NetLab, edge: string): void {
  lab.attachToInternet(edge, "eth0", CLOUD_LAB.publicIp);
  lab.ip(edge, "addr", "add", `${ANCHOR_LAB.anchorGateway}/16`, "dev", "eth0");
  lab.exec(edge, "sysctl", "-q", "-w", "net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.eth0.send_redirects=0");
  lab.router(
    edge,
    `table ip anchor {
  chain prerouting { type nat hook prerouting priority dstnat; ip daddr ${CLOUD_LAB.publicIp} dnat to ${ANCHOR_LAB.anchorIp}; }
  chain postrouting { type nat hook postrouting priority srcnat; ip saddr ${ANCHOR_LAB.anchorIp} snat to ${CLOUD_LAB.publicIp}; }
}
`,
  );
}

/**
 * Starts the stand-in for DigitalOcean's metadata service in a host of its own, reachable from `droplet` only, over a
 * link that is `meta0` on the Droplet's side (left unconfigured: the caller or the booted Droplet configures it with
 * `ANCHOR_LAB.dropletMetadataIp`). It answers the anchor address and gateway paths coturn-anchor-network reads.
 */
export async function startMetadataStandIn(lab: NetLab, droplet: string): Promise<void> {
  const metadata = lab.addHost("meta");
  lab.ip(droplet, "link", "add", "meta0", "type", "veth", "peer", "name", "eth0", "netns", metadata);
  lab.ip(metadata, "addr", "add", `${ANCHOR_LAB.metadataIp}/16`, "dev", "eth0");
  lab.ip(metadata, "link", "set", "eth0", "up");
  const base = "/metadata/v1/interfaces/public/0/anchor_ipv4";
  const answers = { [`${base}/address`]: ANCHOR_LAB.anchorIp, [`${base}/gateway`]: ANCHOR_LAB.anchorGateway };
  const server = lab.start(metadata, process.execPath, ["-e", METADATA_SERVER, JSON.stringify(answers), ANCHOR_LAB.metadataIp]);
  await waitFor("the metadata stand-in to listen", () => {
    if (server.child.exitCode !== null) throw new Error(`metadata stand-in exited: ${server.output()}`);
    return lab.exec(metadata, "ss", "-Hltn").includes(`${ANCHOR_LAB.metadataIp}:80`);
  });
}

/**
 * Builds the lab for an example stack's cloud and starts coturn with that stack's production config; resolves once
 * coturn listens on every port. On DigitalOcean the rendered coturn-anchor-network runs first, as at boot, and fills
 * in the config; `routeAnchor: false` leaves out its routing (the config is filled in by hand) to show what breaks.
 * The rendered per-source limits are loaded in the server's namespace before coturn starts, as coturn-limits.service
 * loads them on a VM; `rateLimits: false` leaves them out (a control run).
 */
export async function startCloudLab(
  options: {
    stack?: string;
    tag?: string;
    routeAnchor?: boolean;
    deliverSecrets?: boolean;
    rateLimits?: boolean;
    /**
     * Runs coturn as the VM's systemd unit does, as user and group `turnserver` (never root), so that it re-reads its
     * certificate on SIGUSR2 with that user's rights. Its files are then root:turnserver 0640 in root:turnserver 0750
     * folders, and the certificate and key get a folder of their own (`tlsDir`), as /etc/coturn/tls on the VM.
     */
    runAsTurnserver?: boolean;
  } = {},
): Promise<CloudLab> {
  const stack = options.stack ?? "aws-example";
  requireCommands([
    ["/usr/bin/turnserver", "coturn"],
    ["/usr/bin/turnutils_peer", "coturn"],
    ["/usr/bin/openssl", "openssl"],
    ["/usr/bin/curl", "curl"],
    ["/usr/bin/sqlite3", "sqlite3"],
    ...(options.runAsTurnserver ? ([["/usr/bin/setpriv", "util-linux"]] as const) : []),
  ]);
  const vm = productionVm(stack);
  const anchor = bindAddressFor(exampleStackConfig(stack).cloud).kind === "anchor";
  const lab = new NetLab(options.tag);
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
    lab.attachToInternet(peer, "eth0", CLOUD_LAB.peer);
    lab.attachToInternet(client, "eth0", CLOUD_LAB.client);
    const confPath = join(dir, "turnserver.conf");
    writeFileSync(confPath, vm.turnserverConf, { mode: 0o600 });
    const redirectPath = join(dir, "nftables-tls443.conf");
    const redirect = vm.files.find((f) => f.path === "/etc/coturn/nftables-tls443.conf");
    if (redirect) writeFileSync(redirectPath, redirect.content, { mode: 0o600 });
    let privateIp: string = CLOUD_LAB.privateIp;
    let anchorNetworkLog: string | undefined;

    if (!anchor) {
      startOneToOneNat(lab, edge);
      lab.link(edge, "eth1", CLOUD_LAB.gateway, turn, "eth0", CLOUD_LAB.privateIp);
      lab.ip(turn, "route", "add", "default", "via", CLOUD_LAB.gateway);
    } else {
      privateIp = ANCHOR_LAB.anchorIp;
      // One interface with the Droplet's own IP and the anchor address, as DigitalOcean configures it. The lab
      // internet is on-link, so without the boot script's routing coturn would answer from the anchor address directly.
      lab.attachToInternet(turn, "eth0", ANCHOR_LAB.dropletIp);
      lab.ip(turn, "addr", "add", `${ANCHOR_LAB.anchorIp}/16`, "dev", "eth0");
      startAnchorGateway(lab, edge);
      await startMetadataStandIn(lab, turn);
      lab.ip(turn, "addr", "add", `${ANCHOR_LAB.dropletMetadataIp}/16`, "dev", "meta0");
      lab.ip(turn, "link", "set", "meta0", "up");
      if (options.routeAnchor === false) {
        writeFileSync(confPath, fillAnchorAddress(vm.turnserverConf, ANCHOR_LAB.anchorIp));
        if (redirect) writeFileSync(redirectPath, fillAnchorAddress(redirect.content, ANCHOR_LAB.anchorIp));
      } else {
        // The script exactly as rendered onto the VM, on copies of the files it edits there.
        const script = join(dir, "coturn-anchor-network");
        writeFileSync(script, vmFile(vm, "/usr/local/sbin/coturn-anchor-network"));
        chmodSync(script, 0o700);
        anchorNetworkLog = lab.exec(turn, script, "--config", confPath, "--redirect-rules", redirectPath);
      }
    }
    lab.ip(turn, "addr", "add", `${CLOUD_LAB.relayIpv6}/64`, "dev", "eth0", "nodad");
    // TURN over TLS on 443: the VM's own nftables rules, as coturn-tls443.service loads them.
    if (redirect) lab.exec(turn, "nft", "-f", redirectPath);
    if (options.rateLimits !== false) loadRateLimits({ lab, hosts: { turn }, vm, dir });

    const asTurnserver = options.runAsTurnserver === true;
    /** root:turnserver with `mode`: what coturn's user must read (only when coturn runs as that user). */
    const forTurnserver = (path: string, mode: number): void => {
      if (!asTurnserver) return;
      execFileSync("chown", ["root:turnserver", path]);
      chmodSync(path, mode);
    };
    forTurnserver(dir, 0o750);
    const tlsDir = asTurnserver ? join(dir, "tls") : dir;
    if (asTurnserver) mkdirSync(tlsDir);
    forTurnserver(tlsDir, 0o750);
    const tls = makeSelfSignedCertificate(tlsDir, CLOUD_LAB.publicIp, vmConfDomain(vm.turnserverConf));
    forTurnserver(tls.certificate, 0o640);
    forTurnserver(tls.privateKey, 0o640);
    const logFile = join(dir, "turnserver.log");
    const production = readFileSync(confPath, "utf8");
    const userDb = join(dir, "turndb");
    createUserDb(userDb);
    const conf = labConf(production, { ...tls, logFile, userDb }, privateIp);
    writeFileSync(confPath, conf.conf, { mode: 0o600 });
    forTurnserver(confPath, 0o640);
    forTurnserver(userDb, 0o640);
    const pidFile = join(dir, "turnserver.pid");
    if (asTurnserver) {
      // coturn opens these after it starts, as turnserver.
      for (const file of [logFile, pidFile]) {
        writeFileSync(file, "", { mode: 0o640 });
        execFileSync("chown", ["turnserver:turnserver", file]);
      }
    }
    const tlsScript = join(dir, "coturn-tls");
    writeFileSync(tlsScript, vmFile(vm, TLS_SCRIPT_PATH), { mode: 0o755 });
    const secretsScript = join(dir, "coturn-secrets");
    writeFileSync(secretsScript, vmFile(vm, SECRETS_SCRIPT_PATH), { mode: 0o700 });
    const applySecrets = (secrets: readonly string[]): AppliedSecretSet => applySecretSet(lab, turn, secretsScript, confPath, secrets);
    const coturnArgs = ["-c", confPath, "--pidfile", pidFile];
    // setpriv changes user and execs, so the process the lab started is coturn itself (as with `ip netns exec`).
    const coturn = asTurnserver
      ? lab.start(turn, "setpriv", ["--reuid=turnserver", "--regid=turnserver", "--init-groups", "turnserver", ...coturnArgs])
      : lab.start(turn, "turnserver", coturnArgs);
    const readLog = (): string => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
    await waitFor("coturn to listen on 3478 and 5349", () => {
      if (coturn.child.exitCode !== null) throw new Error(`coturn exited: ${coturn.output()}\n${readLog()}`);
      const sockets = lab.exec(turn, "ss", "-Hlntu");
      return [":3478", ":5349"].every((port) => sockets.includes(`${privateIp}${port}`));
    });
    // As on a VM: coturn starts with an empty secret table, then `pulumi up` delivers the stack's secrets.
    if (options.deliverSecrets !== false) applySecrets(exampleStackConfig(stack).authSecrets);
    return {
      lab,
      stack,
      hosts: { turn, edge, peer, client },
      privateIp,
      coturn,
      production,
      conf,
      ...(anchorNetworkLog === undefined ? {} : { anchorNetworkLog }),
      certificatePath: tls.certificate,
      privateKeyPath: tls.privateKey,
      tlsDir,
      pidFile,
      tlsScript,
      confPath,
      secretsScript,
      applySecrets,
      log: readLog,
      logFile,
      vm,
      dir,
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}

/** Where the lab keeps its copy of the rendered limits. */
const limitsPath = (dir: string): string => join(dir, "nftables-limits.conf");

/**
 * Loads per-source limits in the server's namespace (`nft -f`, as coturn-limits.service does): the VM's rendered
 * ones, or `rules` rendered from another config (the file replaces the table in one transaction).
 */
export function loadRateLimits(
  cloud: { readonly lab: NetLab; readonly hosts: { readonly turn: string }; readonly vm: RenderedVm; readonly dir: string },
  rules: string = vmFile(cloud.vm, RATE_LIMIT_PATHS.rules),
): void {
  writeFileSync(limitsPath(cloud.dir), rules, { mode: 0o600 });
  cloud.lab.exec(cloud.hosts.turn, "nft", "-f", limitsPath(cloud.dir));
}

/** Removes them (as coturn-limits.service's stop does); nothing when they are not loaded. */
export function unloadRateLimits(cloud: Pick<CloudLab, "lab" | "hosts">): void {
  if (rateLimitsLoaded(cloud)) cloud.lab.exec(cloud.hosts.turn, "nft", "delete", "table", "inet", RATE_LIMIT_TABLE);
}

/** True when the limits' table is loaded in the server's namespace. */
export function rateLimitsLoaded(cloud: Pick<CloudLab, "lab" | "hosts">): boolean {
  return cloud.lab.execResult(cloud.hosts.turn, "nft", ["list", "table", "inet", RATE_LIMIT_TABLE]).status === 0;
}

/** The `server-name` of a rendered config (the domain its certificate must name). */
function vmConfDomain(conf: string): string {
  const match = /^server-name=(.+)$/m.exec(conf);
  if (!match) throw new Error("the rendered turnserver.conf has no server-name");
  return match[1];
}
