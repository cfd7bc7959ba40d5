/**
 * The monitoring of a cloud lab's coturn, from the stack's rendered operations files: the kernel counters
 * (nftables-accounting.conf) loaded in the server's namespace, mtail with the rendered program reading coturn's log
 * file from its first line (on a VM it reads the journal the same way: the boot test shows that path), node-exporter with the rendered drop-in's
 * arguments, and the rendered collector script, run on demand so a test knows when its figures were taken. With
 * `scrapers`, node-exporter serves TLS with basic auth on every address, as on a VM with coturn:monitoring.allowedCidrs.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { METRICS_PORT } from "../src/monitoring/metricCatalog";
import { MONITORING_PATHS, metricsPasswordHash } from "../src/render/monitoringFiles";
import { METRICS_READ_COMMAND } from "../src/render/deployChannel";
import { renderTemplate } from "../src/render/templates";
import { vmFile } from "../src/render/vmFiles";
import type { CloudLab } from "./cloudLab";
import { requireCommands, waitFor, type LabProcess } from "./netlab";

/** Where mtail serves on loopback, as on the VM. */
const MTAIL_PORT = 3903;

/** The Debian packages of the VM's monitoring, as the lab needs them. */
export const MONITORING_COMMANDS = [
  ["/usr/bin/mtail", "mtail"],
  ["/usr/bin/prometheus-node-exporter", "prometheus-node-exporter"],
  ["/usr/sbin/nft", "nftables"],
  ["/usr/bin/jq", "jq"],
  ["/usr/bin/curl", "curl"],
] as const;

/** Options of `startMonitoring`. */
export interface MonitoringOptions {
  /** Serve TLS and basic auth with this password on every address (scrapers allowed); default loopback, plain. */
  readonly scraperPassword?: string;
  /** A command in front of every process it starts and runs, e.g. `taskset -c 1` (the relay bench pins them); default none. */
  readonly commandPrefix?: readonly string[];
}

/** The running monitoring of one lab server. */
export interface MonitoringLab {
  /** Runs the rendered collector once in the server's namespace (the VM's timer does this every 15 s). */
  collect(): void;
  /** node-exporter's page, read inside the server's namespace through the rendered SSH read command. */
  metrics(): string;
  /** The rendered metrics read command's path in the lab (what the SSH key's forced command runs on a VM). */
  readonly readCommand: string;
  /** The environment the read command needs in the lab (its web config is at a lab path). */
  readonly readCommandEnv: NodeJS.ProcessEnv;
  /** mtail and node-exporter. */
  readonly processes: readonly LabProcess[];
}

/** The ExecStart arguments of the rendered node-exporter drop-in. */
export function nodeExporterArgs(dropIn: string): string[] {
  const line = dropIn.split("\n").find((l) => l.startsWith("ExecStart=/"));
  if (!line) throw new Error("the rendered node-exporter drop-in has no ExecStart");
  return line.replace(/^ExecStart=\S+\s+/, "").split(/\s+/);
}

/** Starts the monitoring of `cloud`'s coturn, from its rendered operations files. */
export async function startMonitoring(cloud: CloudLab, options: MonitoringOptions = {}): Promise<MonitoringLab> {
  requireCommands(MONITORING_COMMANDS);
  const { lab, vm } = cloud;
  const turn = cloud.hosts.turn;
  const prefix = options.commandPrefix ?? [];
  const prefixed = (command: string, args: readonly string[]): [string, string[]] => {
    const [first, ...rest] = [...prefix, command, ...args];
    return [first, rest];
  };
  const dir = join(cloud.dir, "monitoring");
  const textfileDir = join(dir, "textfile");
  const mtailDir = join(dir, "mtail");
  mkdirSync(textfileDir, { recursive: true });
  mkdirSync(mtailDir, { recursive: true });
  const file = (path: string, name: string, mode = 0o644): string => {
    const target = join(dir, name);
    writeFileSync(target, vmFile(vm, path), { mode });
    return target;
  };
  file(MONITORING_PATHS.mtailProgram, "mtail/coturn.mtail");
  const accounting = file(MONITORING_PATHS.accountingRules, "nftables-accounting.conf");
  const collector = file(MONITORING_PATHS.collectScript, "coturn-metrics-collect", 0o755);
  const helpFile = file(MONITORING_PATHS.helpTexts, "metrics-help.txt");
  const readCommand = file(METRICS_READ_COMMAND, "coturn-metrics", 0o755);
  const settings = Object.fromEntries(
    vmFile(vm, MONITORING_PATHS.collectSettings)
      .split("\n")
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

  lab.exec(turn, "nft", "-f", accounting);
  // As on the VM, mtail reads coturn's lines on stdin from the first one on (there journalctl --follow --boot, here
  // tail of coturn's log file), so it sees coturn's start banner too.
  const mtailArgs = ["--progs", mtailDir, "--logs", "/dev/stdin", "--address", "127.0.0.1", "--port", String(MTAIL_PORT), "--emit_prog_label=false", "--logtostderr"];
  const mtail = lab.start(turn, ...prefixed("bash", ["-c", 'tail -n +1 -F "$0" 2>/dev/null | exec mtail "$@"', cloud.logFile, ...mtailArgs]));
  let args = nodeExporterArgs(vmFile(vm, MONITORING_PATHS.nodeExporterDropIn)).map((a) =>
    a.startsWith("--collector.textfile.directory=") ? `--collector.textfile.directory=${textfileDir}` : a,
  );
  let readCommandEnv: NodeJS.ProcessEnv = { ...process.env, COTURN_METRICS_WEB_CONFIG: join(dir, "no-web-config") };
  if (options.scraperPassword !== undefined) {
    // As rendered for a stack with scrapers: the server's certificate, the password's bcrypt hash.
    const webConfig = join(dir, "metrics-web.yml");
    writeFileSync(
      webConfig,
      renderTemplate("monitoring/metrics-web.yml.hbs", {
        stack: cloud.stack,
        certificate: cloud.certificatePath,
        privateKey: cloud.privateKeyPath,
        passwordHash: metricsPasswordHash(cloud.stack, options.scraperPassword),
      }),
    );
    args = args.filter((a) => !a.startsWith("--web.listen-address=") && !a.startsWith("--web.config.file="));
    args.unshift(`--web.listen-address=:${METRICS_PORT}`, `--web.config.file=${webConfig}`);
    readCommandEnv = { ...process.env, COTURN_METRICS_WEB_CONFIG: webConfig };
  }
  const exporter = lab.start(turn, ...prefixed("prometheus-node-exporter", args));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...settings,
    TEXTFILE_DIR: textfileDir,
    HELP_FILE: helpFile,
    CERTIFICATE: cloud.certificatePath,
    COTURN_PID_FILE: cloud.pidFile,
  };
  const collect = (): void => {
    const result = lab.execResult(turn, ...prefixed(collector, []), { env });
    if (result.status !== 0) throw new Error(`coturn-metrics-collect failed: ${result.stderr}`);
  };
  const metrics = (): string => {
    const result = lab.execResult(turn, ...prefixed(readCommand, []), {
      env: readCommandEnv,
      ...(options.scraperPassword === undefined ? {} : { input: `${options.scraperPassword}\n` }),
    });
    if (result.status !== 0) throw new Error(`coturn-metrics failed (${result.status}): ${result.stderr}`);
    return result.stdout;
  };
  await waitFor("mtail and node-exporter to answer on loopback", () => {
    for (const p of [mtail, exporter]) if (p.child.exitCode !== null) throw new Error(`a monitoring process exited: ${p.output()}`);
    const sockets = lab.exec(turn, "ss", "-Hlnt");
    return sockets.includes(`127.0.0.1:${MTAIL_PORT}`) && (sockets.includes(`:${METRICS_PORT}`));
  });
  return { collect, metrics, readCommand, readCommandEnv, processes: [mtail, exporter] };
}
