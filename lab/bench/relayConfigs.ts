/**
 * The two coturn configurations the bench compares. Production: the aws-example stack's rendered turnserver.conf as
 * the namespaced lab runs it (only certificate and database paths, logging and an extra IPv6 relay address differ
 * from the VM's file; see lab/cloudLab.ts). Minimal: the production file cut down to what coturn needs to
 * relay for the same clients — the same addresses, ports, relay range, realm and TURN REST authentication against
 * the same user database, the same certificate and key (TURN over TLS needs them), and the same log file — with every
 * hardening option left out (TLS versions, cipher list and curve included: minimal takes coturn's TLS defaults). Monitored: production's
 * file unchanged, with the VM's monitoring running next to coturn (lab/bench/benchMonitoring.ts). Production and
 * monitored run behind the VM's per-source limits (templates/coturn-limits.nft.hbs), minimal without them.
 */

/** One coturn configuration under test. */
export interface BenchConfig {
  /** "production", "minimal" or "monitored". */
  readonly name: ConfigName;
  /** The turnserver.conf text. */
  readonly conf: string;
  /** Whether the VM's monitoring runs next to it (kernel counters, mtail, node-exporter, the collector). */
  readonly monitoring: boolean;
  /** Whether the VM's per-source limits (coturn-limits.nft) are loaded in the server's namespace. */
  readonly rateLimits: boolean;
}

/** The configurations the bench compares. */
export type ConfigName = "production" | "minimal" | "monitored";

/** Every configuration, in the order the reports list them. */
export const CONFIG_NAMES: readonly ConfigName[] = ["production", "minimal", "monitored"];

/** A comparison the bench makes at saturation: `subject` / `baseline`, measured head to head. */
export interface Comparison {
  readonly name: "hardening" | "monitoring";
  readonly subject: ConfigName;
  readonly baseline: ConfigName;
  /** subject/baseline at saturation must be at least this. */
  readonly target: number;
}

/** What the bench compares: what the hardening costs, and what the monitoring costs on top of it. */
export const COMPARISONS: readonly Comparison[] = [
  { name: "hardening", subject: "production", baseline: "minimal", target: 0.95 },
  { name: "monitoring", subject: "monitored", baseline: "production", target: 0.98 },
];

/**
 * The options the minimal config keeps (with production's values): addresses and ports, the relay range, the realm,
 * TURN REST authentication against the same user database, the certificate and key (without them coturn serves no
 * TLS), and the log destination. coturn's defaults apply to everything else.
 */
export const MINIMAL_OPTIONS: readonly string[] = [
  "realm",
  "listening-ip",
  "relay-ip",
  "external-ip",
  "listening-port",
  "tls-listening-port",
  "min-port",
  "max-port",
  "use-auth-secret",
  "userdb",
  "cert",
  "pkey",
  "log-file",
  "simple-log",
];

/** Options that must be in the production config for the comparison to mean anything. */
const REQUIRED_OPTIONS = ["realm", "listening-ip", "relay-ip", "external-ip", "min-port", "max-port", "use-auth-secret", "userdb", "cert", "pkey", "log-file"];

/** The option name of a config line (`name` of `name=value` or of a bare flag), or undefined for comments and blanks. */
export function optionName(line: string): string | undefined {
  const trimmed = line.trim();
  if (trimmed === "" || trimmed.startsWith("#")) return undefined;
  return trimmed.split("=")[0].trim();
}

/** The option lines of a config (no comments, no blanks). */
export function optionLines(conf: string): string[] {
  return conf.split("\n").filter((line) => optionName(line) !== undefined).map((line) => line.trim());
}

/**
 * The minimal config derived from the lab's production config: only the lines of MINIMAL_OPTIONS, unchanged.
 * Throws when production lacks one of them, so that a template change cannot silently compare something else.
 */
export function minimalConf(productionConf: string): string {
  const lines = optionLines(productionConf);
  const names = new Set(lines.map((line) => optionName(line)));
  const missing = REQUIRED_OPTIONS.filter((name) => !names.has(name));
  if (missing.length > 0) throw new Error(`the production config has no ${missing.join(", ")}: the minimal config cannot be derived from it`);
  const kept = lines.filter((line) => MINIMAL_OPTIONS.includes(optionName(line) ?? ""));
  return [
    "# Minimal coturn config for the relay benchmark: production's addresses, ports, relay range, realm,",
    "# TURN REST authentication (same user database), certificate and key, and log file; coturn's defaults for",
    "# everything else.",
    ...kept,
    "",
  ].join("\n");
}

/** The production option lines the minimal config leaves out, in file order. */
export function productionOnlyLines(productionConf: string): string[] {
  return optionLines(productionConf).filter((line) => !MINIMAL_OPTIONS.includes(optionName(line) ?? ""));
}

/** A short account of what production adds: each left-out option once, with how many lines it has when several. */
export function productionOnlySummary(productionConf: string): string {
  const counts = new Map<string, number>();
  for (const line of productionOnlyLines(productionConf)) {
    const name = optionName(line) ?? "";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([name, count]) => (count > 1 ? `${name} ×${count}` : name)).join(", ");
}

/** Production's per-allocation bandwidth cap (`max-bps`, bytes per second and direction), or 0 for none. */
export function maxBytesPerSecond(conf: string): number {
  const line = optionLines(conf).find((l) => optionName(l) === "max-bps");
  const value = line === undefined ? 0 : Number(line.split("=")[1]);
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/** Every configuration, from the lab's production config. */
export function benchConfigs(productionConf: string): Record<ConfigName, BenchConfig> {
  return {
    production: { name: "production", conf: productionConf, monitoring: false, rateLimits: true },
    minimal: { name: "minimal", conf: minimalConf(productionConf), monitoring: false, rateLimits: false },
    monitored: { name: "monitored", conf: productionConf, monitoring: true, rateLimits: true },
  };
}
