/**
 * The VM files of monitoring (see docs/monitoring.md): mtail reads coturn's session log from the journal, a timer
 * collects what the kernel and the VM's files say, and prometheus-node-exporter serves both with its own host
 * figures. node-exporter listens on loopback unless `coturn:monitoring.allowedCidrs` lists scrapers (then TLS and
 * basic auth); `npm run status` reads it over SSH with a key whose forced command prints the metrics and nothing else.
 * Also the journal's caps and the kernel's per-listener counters.
 *
 * These files are not in the user-data: they are operations files (opsFiles.ts), which `pulumi up` sends over SSH
 * once the VM runs. Pure: strings only.
 */
import { createHmac } from "node:crypto";
import bcrypt from "bcryptjs";
import { LISTENER_PORTS } from "../config/schema";
import type { ServerConfig } from "../config/stackConfig";
import { networkLimit } from "../config/networkLimits";
import { METRIC_CATALOG, METRICS_PORT } from "../monitoring/metricCatalog";
import { readShellScript, readTemplate, renderTemplate } from "./templates";
import type { VmFile } from "./vmFile";
import { METRICS_READ_COMMAND } from "./deployChannel";


/** Where each monitoring file lands on the VM (besides the metrics read command and the web config). */
export const MONITORING_PATHS = {
  mtailProgram: "/etc/coturn/mtail/coturn.mtail",
  logMetricsScript: "/usr/local/sbin/coturn-log-metrics",
  logMetricsUnit: "/etc/systemd/system/coturn-log-metrics.service",
  collectScript: "/usr/local/sbin/coturn-metrics-collect",
  collectSettings: "/etc/default/coturn-metrics",
  helpTexts: "/etc/coturn/metrics-help.txt",
  collectUnit: "/etc/systemd/system/coturn-metrics-collect.service",
  collectTimer: "/etc/systemd/system/coturn-metrics-collect.timer",
  accountingRules: "/etc/coturn/nftables-accounting.conf",
  accountingUnit: "/etc/systemd/system/coturn-accounting.service",
  nodeExporterDropIn: "/etc/systemd/system/prometheus-node-exporter.service.d/10-coturn-pulumi.conf",
  journaldLimits: "/etc/systemd/journald.conf.d/60-coturn-pulumi.conf",
} as const;

/** Where the web config of node-exporter lands when scrapers are allowed (its presence switches TLS and auth on). */
export const METRICS_WEB_CONFIG_PATH = "/etc/coturn/metrics-web.yml";

/** The basic-auth user scrapers log in as. */
export const METRICS_USER = "prometheus";

/** The monitoring units coturn-ops enables and restarts, in start order (node-exporter is the package's own). */
export const MONITORING_UNITS = ["coturn-accounting.service", "coturn-log-metrics.service", "coturn-metrics-collect.timer"] as const;

/** bcrypt cost of the scrapers' password hash (node-exporter checks it once per password and caches the result). */
const BCRYPT_COST = 10;

/** One kernel counter pair of the accounting table: traffic to and from one listener or the relay range. */
export interface AccountingCounter {
  /** The `transport` label value (LISTENER_TRANSPORTS), and the counter's name prefix. */
  readonly name: string;
  /** nftables protocol match. */
  readonly protocol: "udp" | "tcp";
  /** Port or range, nftables syntax. */
  readonly ports: string;
}

/** The counters of the nftables accounting table: each listener, and the relay range (media to and from peers). */
export function accountingCounters(relayPorts: { readonly min: number; readonly max: number }): AccountingCounter[] {
  const { plain, tls } = LISTENER_PORTS;
  return [
    { name: "relay", protocol: "udp", ports: `${relayPorts.min}-${relayPorts.max}` },
    { name: "udp", protocol: "udp", ports: String(plain) },
    { name: "tcp", protocol: "tcp", ports: String(plain) },
    { name: "tls", protocol: "tcp", ports: String(tls) },
    { name: "dtls", protocol: "udp", ports: String(tls) },
  ];
}

/** The catalog's help texts, one `name text` line per family, for the collector's HELP lines. */
export function metricsHelpText(): string {
  return METRIC_CATALOG.map((m) => `${m.name} ${m.help}\n`).join("");
}

const hashes = new Map<string, string>();

/**
 * The bcrypt hash of the scrapers' password, with a salt derived from the password and the stack: the same password
 * renders the same user-data (a random salt would replace the VM on every `pulumi up`), and the salt differs per
 * stack, so equal hashes on two stacks do not show that they share a password.
 */
export function metricsPasswordHash(stack: string, password: string): string {
  const key = `${stack}\n${password}`;
  let hash = hashes.get(key);
  if (hash === undefined) {
    const saltBytes = createHmac("sha256", password).update(`coturn-pulumi metrics password salt for stack ${stack}`).digest().subarray(0, 16);
    hash = bcrypt.hashSync(password, `$2b$${BCRYPT_COST}$${bcrypt.encodeBase64(saltBytes, 16)}`);
    hashes.set(key, hash);
  }
  return hash;
}

/** Paths of the TLS files node-exporter serves with when scrapers are allowed (coturn's own). */
export interface MonitoringTlsPaths {
  /** Certificate chain. */
  readonly certificate: string;
  /** Private key. */
  readonly privateKey: string;
}

/** A file `pulumi up` sends over SSH, with the group that owns it on the VM (root unless a service must read it). */
export interface OpsFile extends VmFile {
  /** Owning group. */
  readonly group: "root" | "prometheus";
}

/** The monitoring files of one VM. */
export function monitoringFiles(config: ServerConfig, tlsPaths: MonitoringTlsPaths): OpsFile[] {
  const limit = networkLimit(config.cloud, config.instanceType);
  const scrapers = config.metrics.scraperCidrs.length > 0;
  const context = {
    stack: config.stack,
    relayPorts: config.relayPorts,
    ports: LISTENER_PORTS,
    port: METRICS_PORT,
    scrapers,
    certificate: tlsPaths.certificate,
    privateKey: tlsPaths.privateKey,
    sustainedBandwidthBits: limit ? String(Math.round(limit.sustainedGbps * 1e9)) : "",
    counters: accountingCounters(config.relayPorts),
  };
  const files: Omit<OpsFile, "group">[] = [
    { path: MONITORING_PATHS.mtailProgram, mode: "0644", purpose: "mtail program: metrics from coturn's session log", content: readTemplate("monitoring/coturn.mtail") },
    { path: MONITORING_PATHS.logMetricsScript, mode: "0755", purpose: "follows coturn's journal into mtail (loopback only)", content: readShellScript("monitoring/coturn-log-metrics.sh") },
    { path: MONITORING_PATHS.logMetricsUnit, mode: "0644", purpose: "runs that, unprivileged", content: readTemplate("monitoring/coturn-log-metrics.service") },
    { path: MONITORING_PATHS.collectScript, mode: "0755", purpose: "writes coturn's and the kernel's figures for node-exporter", content: readShellScript("monitoring/coturn-metrics-collect.sh") },
    { path: MONITORING_PATHS.collectSettings, mode: "0644", purpose: "its settings: relay range, ports, certificate, the VM's sustained bandwidth", content: renderTemplate("monitoring/metrics.env.hbs", context) },
    { path: MONITORING_PATHS.helpTexts, mode: "0644", purpose: "the help text of every metric", content: metricsHelpText() },
    { path: MONITORING_PATHS.collectUnit, mode: "0644", purpose: "one collection", content: readTemplate("monitoring/coturn-metrics-collect.service") },
    { path: MONITORING_PATHS.collectTimer, mode: "0644", purpose: "every 15 s", content: readTemplate("monitoring/coturn-metrics-collect.timer") },
    { path: MONITORING_PATHS.accountingRules, mode: "0644", purpose: "kernel counters per listener and for the relay range (count only)", content: renderTemplate("monitoring/nftables-accounting.conf.hbs", context) },
    { path: MONITORING_PATHS.accountingUnit, mode: "0644", purpose: "loads them at every boot, before coturn", content: readTemplate("monitoring/coturn-accounting.service") },
    {
      path: MONITORING_PATHS.nodeExporterDropIn,
      mode: "0644",
      purpose: scrapers ? "node-exporter: relay-health collectors, TLS and basic auth for the allowed scrapers" : "node-exporter: relay-health collectors, loopback only",
      content: renderTemplate("monitoring/node-exporter.conf.hbs", context),
    },
    { path: METRICS_READ_COMMAND, mode: "0755", purpose: "the metrics read key's one command: prints the metrics", content: readShellScript("monitoring/coturn-metrics.sh") },
    { path: MONITORING_PATHS.journaldLimits, mode: "0644", purpose: "journal size caps", content: readTemplate("monitoring/journald.conf") },
  ];
  const owned: OpsFile[] = files.map((file) => ({ ...file, group: "root" }));
  if (scrapers) {
    if (config.metrics.password === undefined) throw new Error("unreachable: validation requires coturn:metricsPassword with scrapers");
    owned.push({
      path: METRICS_WEB_CONFIG_PATH,
      mode: "0640",
      group: "prometheus",
      purpose: "node-exporter's TLS and the bcrypt hash of the scrapers' password",
      content: renderTemplate("monitoring/metrics-web.yml.hbs", { ...context, passwordHash: metricsPasswordHash(config.stack, config.metrics.password) }),
    });
  }
  return owned;
}

/** Every path a monitoring file may have. */
export function monitoringPaths(): string[] {
  return [...Object.values(MONITORING_PATHS), METRICS_READ_COMMAND, METRICS_WEB_CONFIG_PATH];
}
