/**
 * The VM's operations files: the TLS certificate manager (coturn-tls, its renewal timer), the per-source limits
 * (rateLimitFiles.ts) and the monitoring (monitoringFiles.ts). EC2 takes 16 KiB of user-data, which coturn's config, the secrets script and the bootstrap
 * fill, so these travel over SSH instead: `pulumi up` sends them to `coturn-ops install` (the one of them the
 * user-data carries) once the VM runs, before the TLS delivery. A change to them applies in place, without a new VM.
 * Pure: strings only.
 */
import type { ServerConfig } from "../config/stackConfig";
import { OPS_SCRIPT_PATH, TLS_SCRIPT_PATH } from "./deployChannel";
import { MONITORING_UNITS, monitoringFiles, monitoringPaths, type MonitoringTlsPaths, type OpsFile } from "./monitoringFiles";
import { RATE_LIMIT_PATHS, RATE_LIMIT_UNIT, rateLimitFiles } from "./rateLimitFiles";
import { readShellScript, readTemplate, renderShellScript } from "./templates";
import type { VmFile } from "./vmFile";

/** Where the certificate renewal's units land. */
export const TLS_RENEW_UNITS = {
  service: "/etc/systemd/system/coturn-tls-renew.service",
  timer: "/etc/systemd/system/coturn-tls-renew.timer",
} as const;

/**
 * The units coturn-ops enables, and restarts when a file changed (the limits' unit reloads instead); coturn itself is
 * never among them.
 */
export const OPS_UNITS = ["coturn-tls-renew.timer", RATE_LIMIT_UNIT, ...MONITORING_UNITS] as const;

/** The TLS certificate manager's files. */
function tlsManagementFiles(): OpsFile[] {
  return [
    {
      path: TLS_SCRIPT_PATH,
      mode: "0755",
      group: "root",
      purpose: "installs the TLS certificate (ACME, provided or self-signed) where coturn reads it, reloads it with SIGUSR2, renews it",
      content: readShellScript("coturn-tls.sh"),
    },
    {
      path: TLS_RENEW_UNITS.service,
      mode: "0644",
      group: "root",
      purpose: "renews the TLS certificate; fails loudly and keeps the old one serving when renewal fails",
      content: readTemplate("coturn-tls-renew.service"),
    },
    { path: TLS_RENEW_UNITS.timer, mode: "0644", group: "root", purpose: "runs the renewal twice a day", content: readTemplate("coturn-tls-renew.timer") },
  ];
}

/** Every operations file of one VM, in the order coturn-ops writes them. */
export function opsFiles(config: ServerConfig, tlsPaths: MonitoringTlsPaths): OpsFile[] {
  return [...tlsManagementFiles(), ...rateLimitFiles(config), ...monitoringFiles(config, tlsPaths)];
}

/** Every path coturn-ops may write. */
export function opsPaths(): string[] {
  return [TLS_SCRIPT_PATH, TLS_RENEW_UNITS.service, TLS_RENEW_UNITS.timer, ...Object.values(RATE_LIMIT_PATHS), ...monitoringPaths()];
}

/** What `coturn-ops install` reads on stdin: the files with their modes and groups (a secret: it may hold the scrapers' password hash). */
export function opsInstallDocument(files: readonly OpsFile[]): string {
  return JSON.stringify({ files: files.map(({ path, mode, group, content }) => ({ path, mode, group, content })) });
}

/** The installer, the one operations file in the user-data: it knows every path it may write. */
export function opsInstallerFile(): VmFile {
  return {
    path: OPS_SCRIPT_PATH,
    mode: "0755",
    purpose: "installs the operations files pulumi up sends over SSH (those paths only), restarts their units, never coturn",
    content: renderShellScript("coturn-ops.sh.hbs", {
      allowedPaths: opsPaths().join(" "),
      units: OPS_UNITS.join(" "),
      restartUnits: OPS_UNITS.filter((unit) => unit !== RATE_LIMIT_UNIT).join(" "),
      reloadUnits: RATE_LIMIT_UNIT,
    }),
  };
}
