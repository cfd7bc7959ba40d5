/**
 * Renders every file that lands on a TURN server VM, from the validated stack config and the VM's addresses.
 * Pure: no Pulumi or cloud SDK, so the exact output is testable and reviewable (`npm run render`).
 */
import { createHash } from "node:crypto";
import { LISTENER_PORTS, type Listener } from "../config/schema";
import type { CoturnSettings, LocalStackConfig, ServerConfig, StackConfig } from "../config/stackConfig";
import { boundIp, type VmAddresses } from "../plan/addresses";
import { deniedPeers } from "./deniedPeers";
import { certificateNames } from "../plan/dns";
import { relayLintProblems } from "./relayLint";
import {
  DEPLOY_USER,
  SECRETS_SCRIPT_PATH,
  USER_DB_PATH,
  deployAuthorizedKeys,
  deploySudoersRules,
  type VmAccess,
} from "./deployChannel";
import { readShellScript, readTemplate, renderTemplate } from "./templates";
import type { VmFile } from "./vmFile";
import { METRICS_PORT } from "../monitoring/metricCatalog";
import type { OpsFile } from "./monitoringFiles";
import { opsFiles, opsInstallerFile } from "./opsFiles";

export type { VmFile } from "./vmFile";

/** Everything rendered for one VM. */
export interface RenderedVm {
  /** coturn's configuration, also present in `files`. */
  readonly turnserverConf: string;
  /** The files cloud-init writes, in order. */
  readonly files: readonly VmFile[];
  /** The complete `#cloud-config` user-data. */
  readonly userData: string;
  /** The operations files `pulumi up` sends over SSH once the VM runs (coturn-ops install; see opsFiles.ts). */
  readonly opsFiles: readonly OpsFile[];
}

/** Where coturn reads its certificate chain and key on the VM. */
export const TLS_PATHS = {
  certificate: "/etc/coturn/tls/fullchain.pem",
  privateKey: "/etc/coturn/tls/privkey.pem",
} as const;

const TRANSPORT_OFF_OPTIONS: ReadonlyArray<{ listener: Listener; option: string }> = [
  { listener: "udp", option: "no-udp" },
  { listener: "tcp", option: "no-tcp" },
  { listener: "tls", option: "no-tls" },
  { listener: "dtls", option: "no-dtls" },
];

/** Where a local coturn (`npm run local`) listens, and the files of its run (all in the run's temp folder). */
export interface LocalRun {
  /** IPv4 address of this machine that coturn listens and relays on. */
  readonly listenIp: string;
  /** PEM certificate (self-signed, made for this run). */
  readonly certificate: string;
  /** PEM private key of the certificate (mode 0600). */
  readonly privateKey: string;
  /** coturn's log file. */
  readonly logFile: string;
  /** coturn's pid file. */
  readonly pidFile: string;
  /** coturn's user database (SQLite; REST credentials never use it, but coturn opens one). */
  readonly userDb: string;
}

/**
 * Renders turnserver.conf for a cloud stack's VM. On DigitalOcean the private address is a placeholder that the VM
 * fills in at boot (see `BindAddress`).
 */
export function renderTurnserverConf(config: StackConfig, addresses: VmAddresses): string {
  return renderConf(config, {
    publicIp: addresses.publicIp,
    privateIp: boundIp(addresses),
    anchor: addresses.bind.kind === "anchor",
    onInterface: addresses.bind.kind === "interface",
    tlsPaths: TLS_PATHS,
    local: null,
  });
}

/**
 * Renders turnserver.conf for a local stack's run: every option of a cloud stack's config, with coturn listening and
 * relaying on `run.listenIp` without NAT, a log file instead of syslog, the run's files in its temp folder, and a
 * local block that lets relays on this machine reach each other (`allowed-peer-ip`, plus `allow-loopback-peers`
 * when the address is a loopback one).
 */
export function renderLocalTurnserverConf(config: LocalStackConfig, run: LocalRun): string {
  return renderConf(config, {
    tlsPaths: { certificate: run.certificate, privateKey: run.privateKey },
    local: {
      listenIp: run.listenIp,
      loopback: isLoopbackIpv4(run.listenIp),
      logFile: run.logFile,
      pidFile: run.pidFile,
      userDb: run.userDb,
    },
  });
}

/** True for an address in 127.0.0.0/8, where coturn refuses peers unless `allow-loopback-peers` is set. */
export function isLoopbackIpv4(address: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address);
}

/** The template fields that differ between a cloud VM and a local run. */
interface PlacementContext {
  /** The VM's static public IP (cloud only). */
  readonly publicIp?: string;
  /** The address coturn binds on the VM (cloud only). */
  readonly privateIp?: string;
  /** True when the private IP is DigitalOcean's anchor address, filled in at boot (cloud only). */
  readonly anchor?: boolean;
  /** True when the static IP is on the VM's interface, so the private IP is the static IP itself (cloud only). */
  readonly onInterface?: boolean;
  /** Where coturn reads its certificate and key. */
  readonly tlsPaths: { readonly certificate: string; readonly privateKey: string };
  /** The local run's settings; null for a cloud VM (Handlebars' strict mode needs the field to exist). */
  readonly local: {
    readonly listenIp: string;
    readonly loopback: boolean;
    readonly logFile: string;
    readonly pidFile: string;
    readonly userDb: string;
  } | null;
}

function renderConf(config: CoturnSettings, placement: PlacementContext): string {
  const [active, ...previous] = config.authSecrets;
  return renderTemplate("turnserver.conf.hbs", {
    userDb: USER_DB_PATH,
    stack: config.stack,
    realm: config.realm,
    domain: config.domain,
    ...placement,
    ports: LISTENER_PORTS,
    tls443: config.listeners.has("tls-443"),
    disabledTransports: TRANSPORT_OFF_OPTIONS.filter((t) => !config.listeners.has(t.listener)),
    relayPorts: config.relayPorts,
    // Only a local run puts secrets in the file (one made fresh for the run); a VM's are in its user database.
    authSecrets: placement.local
      ? [
          { label: "Active secret: apps mint credentials with this one.", value: active },
          ...previous.map((value, i) => ({ label: `Previous secret ${i + 1}, still accepted during a rotation.`, value })),
        ]
      : [],
    quotas: config.quotas,
    deniedPeers,
  });
}

/** Where coturn's systemd drop-in lands. */
export const DROP_IN_PATH = "/etc/systemd/system/coturn.service.d/10-coturn-pulumi.conf";

/** Where the relay's kernel settings land. */
export const SYSCTL_PATH = "/etc/sysctl.d/60-coturn-relay.conf";

/** The rendered files would hurt the relay under load (see relayLint.ts); nothing is deployed. */
export class RelayLintError extends Error {
  /** Builds the error from the lint's problems. */
  constructor(readonly problems: readonly string[]) {
    super(`The rendered files would hurt the relay under load; nothing was deployed:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "RelayLintError";
  }
}

/**
 * Renders every VM file and the cloud-init user-data that writes them. The user-data holds no TURN secret, TLS key
 * or DNS token (those arrive over SSH, see deployChannel.ts and tlsDocument.ts); its one secret is the VM's SSH host
 * key.
 */
export function renderVm(config: ServerConfig, addresses: VmAddresses, access: VmAccess): RenderedVm {
  const context = { stack: config.stack, relayPorts: config.relayPorts, privateIp: boundIp(addresses), ports: LISTENER_PORTS };
  const anchor = addresses.bind.kind === "anchor";
  const turnserverConf = renderTurnserverConf(config, addresses);
  const tls443 = config.listeners.has("tls-443");
  const files: VmFile[] = [
    { path: "/etc/turnserver.conf", mode: "0640", purpose: "coturn configuration (no secrets: those are in its user database)", content: turnserverConf },
    {
      path: SECRETS_SCRIPT_PATH,
      mode: "0755",
      purpose: "puts the TURN secret set that pulumi up sends over SSH into coturn's user database, live",
      content: readShellScript("coturn-secrets.sh"),
    },
    {
      path: `/etc/sudoers.d/${DEPLOY_USER}`,
      mode: "0440",
      purpose: `lets ${DEPLOY_USER} run the three delivery commands as root, nothing else`,
      content:
        `# pulumi up delivers the TURN secrets, the TLS material and the operations files as ${DEPLOY_USER}; each of its SSH keys is forced to run one of these.\n` +
        deploySudoersRules().map((rule) => `${rule}\n`).join(""),
    },
    {
      path: DROP_IN_PATH,
      mode: "0644",
      purpose: "restart coturn on any exit, raise its file limit, reload TLS with SIGUSR2",
      content: renderTemplate("coturn-override.conf.hbs", context),
    },
    {
      path: SYSCTL_PATH,
      mode: "0644",
      purpose: "socket buffers sized for a relay; relay ports reserved",
      content: renderTemplate("sysctl-relay.conf.hbs", context),
    },
    {
      path: "/etc/apt/apt.conf.d/20auto-upgrades",
      mode: "0644",
      purpose: "daily unattended security updates",
      content: readTemplate("auto-upgrades.conf"),
    },
    ...(tls443
      ? [
          {
            path: "/etc/coturn/nftables-tls443.conf",
            mode: "0644",
            purpose: "redirect TCP 443 to the TLS listener",
            content: renderTemplate("nftables-tls443.conf.hbs", context),
          },
          {
            path: "/etc/systemd/system/coturn-tls443.service",
            mode: "0644",
            purpose: "load the 443 redirect at every boot, before coturn",
            content: readTemplate("coturn-tls443.service"),
          },
        ]
      : []),
    ...(anchor
      ? [
          {
            path: "/usr/local/sbin/coturn-anchor-network",
            mode: "0755",
            purpose: "route traffic from the anchor address through the anchor gateway; fill it into turnserver.conf",
            content: readShellScript("coturn-anchor-network.sh"),
          },
          {
            path: "/etc/systemd/system/coturn-anchor-network.service",
            mode: "0644",
            purpose: "run that at every boot, before coturn, which cannot start without it",
            content: readTemplate("coturn-anchor-network.service"),
          },
        ]
      : []),
    {
      path: NODE_EXPORTER_DEFAULTS_PATH,
      mode: "0644",
      purpose: "node-exporter on loopback from its install until pulumi up delivers the monitoring (the package listens on every address)",
      content:
        "# Until pulumi up delivers the monitoring (coturn-ops), whose drop-in replaces this command line: loopback only.\n" +
        `ARGS="--web.listen-address=127.0.0.1:${METRICS_PORT}"\n`,
    },
    opsInstallerFile(),
    {
      path: "/usr/local/sbin/coturn-bootstrap",
      mode: "0755",
      purpose: "first-boot script: permissions, checks, restart",
      content: readShellScript("coturn-bootstrap.sh"),
    },
  ];
  const packages = vmPackages({ acme: config.tls.mode === "acme" });
  const sysctl = files.find((f) => f.path === SYSCTL_PATH)?.content ?? "";
  const lint = relayLintProblems(turnserverConf, sysctl, config.sizing);
  if (lint.length > 0) throw new RelayLintError(lint);
  const userData = renderTemplate("cloud-init.yaml.hbs", {
    stack: config.stack,
    packages,
    files,
    sshPublicKeys: config.ssh.publicKeys,
    deployUser: DEPLOY_USER,
    deployAuthorizedKeys: deployAuthorizedKeys(access),
    hostKey: { privateKey: withNewline(access.hostKey.privateKey), publicKey: access.hostKey.publicKey.trim() },
    certificateNames: certificateNames(config).join(","),
  });
  return { turnserverConf, files, userData, opsFiles: opsFiles(config, TLS_PATHS) };
}

/**
 * The package's settings file for node-exporter, written before the package installs (cloud-init keeps it: apt runs
 * with --force-confold), so that it never serves on every address, as the package does by default.
 */
export const NODE_EXPORTER_DEFAULTS_PATH = "/etc/default/prometheus-node-exporter";

/** What decides which packages a VM installs at first boot. */
export interface PackageNeeds {
  /** TLS certificates from an ACME CA through certbot's Cloudflare DNS plugin. */
  readonly acme: boolean;
}

/** The Debian packages cloud-init installs on a VM at first boot. */
export function vmPackages(needs: PackageNeeds): string[] {
  return [
    "coturn",
    "sqlite3",
    "openssl",
    "jq",
    "unattended-upgrades",
    // Monitoring: the exporter, mtail for coturn's log, nftables for the per-listener counters, curl to read them.
    "prometheus-node-exporter",
    // …without what it recommends: prometheus-node-exporter-collectors brings nvme-cli, smartmontools, ipmitool and
    // perl with timers of their own that write into the same textfile folder (nvme-cli's nvmf-autoconnect.service
    // fails at first boot). apt's trailing "-" keeps a package out of the transaction.
    "prometheus-node-exporter-collectors-",
    "mtail",
    "nftables",
    "curl",
    ...(needs.acme ? ["certbot", "python3-certbot-dns-cloudflare"] : []),
  ];
}

/** Every package any stack's VM may install (every need switched on). */
export function everyVmPackage(): string[] {
  return vmPackages({ acme: true });
}

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** The content of one rendered VM file (from the user-data or the operations files); throws when there is none. */
export function vmFile(vm: RenderedVm, path: string): string {
  const file = [...vm.files, ...vm.opsFiles].find((f) => f.path === path);
  if (!file) throw new Error(`the rendered VM has no ${path}`);
  return file.content;
}

/** The user-data for one VM and what must replace the VM when it changes. */
export interface RenderedUserData {
  /** The complete `#cloud-config` user-data (holds the SSH host key). */
  readonly userData: string;
  /**
   * SHA-256 of the user-data rendered with the host's private key masked: it changes exactly when something other
   * than that changes, which cloud-init (it runs once) can only apply on a fresh VM. It reveals no secret.
   */
  readonly revision: string;
}

/** Renders a VM's user-data and its revision. */
export function renderUserData(config: ServerConfig, addresses: VmAddresses, access: VmAccess): RenderedUserData {
  const maskedAccess: VmAccess = { ...access, hostKey: { ...access.hostKey, privateKey: "<ssh host private key>" } };
  const revision = createHash("sha256").update(renderVm(config, addresses, maskedAccess).userData).digest("hex");
  return { userData: renderVm(config, addresses, access).userData, revision };
}
