/**
 * What a booted VM must show, each as one row of the boot report. The functions here read text the guest produced
 * (cloud-init's status and log, `stat`, `systemctl show`, coturn's journal, `sysctl`) and compare it with what was
 * rendered for it; they are pure, so every way a check can fail is testable without a boot. A row is `ok`, `FAIL`, or
 * `not here`: a fact a container cannot show (the host's kernel owns it), named so that it never passes silently.
 */
import { TLS_PATHS, type RenderedVm } from "../../src/render/vmFiles";
import { DEPLOY_USER, USER_DB_PATH } from "../../src/render/deployChannel";

/** How one check ended. */
export type CheckStatus = "ok" | "FAIL" | "not here";

/** One row of the boot report. */
export interface CheckResult {
  /** What was checked, in a few words. */
  readonly check: string;
  readonly status: CheckStatus;
  /** What was seen (and, for `FAIL`, what was expected). */
  readonly detail: string;
}

/** Builds a row that is ok when `problems` is empty, and lists them otherwise. */
export function rowFrom(check: string, problems: readonly string[], okDetail: string): CheckResult {
  return problems.length === 0 ? { check, status: "ok", detail: okDetail } : { check, status: "FAIL", detail: problems.join("; ") };
}

/** cloud-init's final status (`cloud-init status --long`) and the warnings and errors of its log. */
export function cloudInitCheck(statusLong: string, cloudInitLog: string): CheckResult {
  const status = /^status:\s*(\S+)/m.exec(statusLong)?.[1] ?? "unknown";
  const flagged = cloudInitLog.split("\n").filter((line) => /\[(WARNING|ERROR|CRITICAL)\]|^Traceback/.test(line));
  const problems = [
    ...(status === "done" ? [] : [`status ${status}: ${statusLong.trim().split("\n").slice(-2).join(" ")}`]),
    ...flagged.slice(0, 3).map((line) => `cloud-init.log: ${line.replace(/^\S+ \S+ - /, "").slice(0, 200)}`),
    ...(flagged.length > 3 ? [`and ${flagged.length - 3} more warnings or errors in /var/log/cloud-init.log`] : []),
  ];
  return rowFrom("cloud-init finished cleanly", problems, "status done; no warning or error in /var/log/cloud-init.log");
}

/** A path's intended owner, group and mode (octal, as `stat -c %a` prints it). */
export interface ExpectedFile {
  readonly path: string;
  readonly owner: string;
  readonly group: string;
  readonly mode: string;
}

/**
 * Where every file the user-data writes must end up, and the files the first boot makes that hold secrets: cloud-init
 * writes root:root with the rendered mode; coturn-bootstrap then hands coturn's config, certificate and key to the
 * turnserver group (coturn runs as turnserver and must read them, no one else may).
 */
export function expectedFiles(vm: RenderedVm): ExpectedFile[] {
  const forTurnserver = (path: string, mode = "640"): ExpectedFile => ({ path, owner: "root", group: "turnserver", mode });
  const handedOver = new Set(["/etc/turnserver.conf"]);
  return [
    ...vm.files.map((file) =>
      handedOver.has(file.path) ? forTurnserver(file.path) : { path: file.path, owner: "root", group: "root", mode: file.mode.replace(/^0+(?=\d)/, "") },
    ),
    forTurnserver("/etc/coturn/tls", "750"),
    forTurnserver(TLS_PATHS.certificate),
    forTurnserver(TLS_PATHS.privateKey),
    // coturn's user database holds the TURN secrets: the package creates it for turnserver, never world-readable.
    { path: USER_DB_PATH, owner: "turnserver", group: "turnserver", mode: "640" },
    { path: `/home/${DEPLOY_USER}/.ssh/authorized_keys`, owner: DEPLOY_USER, group: DEPLOY_USER, mode: "600" },
  ];
}

/**
 * Where every operations file (sent over SSH after boot, src/render/opsFiles.ts) must end up: coturn-ops installs
 * them root-owned with their group and mode.
 */
export function expectedOpsFiles(vm: RenderedVm): ExpectedFile[] {
  return vm.opsFiles.map((file) => ({ path: file.path, owner: "root", group: file.group, mode: file.mode.replace(/^0+(?=\d)/, "") }));
}

/** Compares `stat -c '%n %U %G %a'` lines with the expectations. */
export function filesCheck(
  expected: readonly ExpectedFile[],
  statLines: string,
  check = "files: owner, group and mode",
  okDetail = `${expected.length} files as intended (root:turnserver 640 for coturn's config, certificate and key)`,
): CheckResult {
  const seen = new Map(
    statLines
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => {
        const [path, owner, group, mode] = line.split(" ");
        return [path, { owner, group, mode }] as const;
      }),
  );
  const problems = expected.flatMap((want) => {
    const got = seen.get(want.path);
    if (!got) return [`${want.path} is missing`];
    const actual = `${got.owner}:${got.group} ${got.mode}`;
    const wanted = `${want.owner}:${want.group} ${want.mode}`;
    return actual === wanted ? [] : [`${want.path} is ${actual}, not ${wanted}`];
  });
  return rowFrom(check, problems, okDetail);
}

/**
 * Whether a text the cloud shows (the console, cloud-init's output log) gives away a secret: `secrets` maps what each
 * secret is to the pieces of it to look for (a whole secret, or each base64 line of a key).
 */
export function secretsCheck(texts: Readonly<Record<string, string>>, secrets: Readonly<Record<string, readonly string[]>>): CheckResult {
  const problems: string[] = [];
  for (const [where, text] of Object.entries(texts)) {
    for (const [what, pieces] of Object.entries(secrets)) {
      if (pieces.some((piece) => piece.length >= 16 && text.includes(piece))) problems.push(`${where} shows the ${what}`);
    }
    if (/PRIVATE KEY-----/.test(text)) problems.push(`${where} shows a PEM private key`);
  }
  return rowFrom("nothing secret on the console", problems, `checked ${Object.keys(texts).join(" and ")} for ${Object.keys(secrets).join(", ")}`);
}

/** Pieces of the SSH host private key worth searching for: its base64 lines (the PEM armour alone is no leak). */
export function privateKeyLines(pem: string): string[] {
  return pem.split("\n").filter((line) => line.length >= 40 && !line.startsWith("-----"));
}

/**
 * Units that failed this boot: those still failed (`systemctl --failed`) and any start the console saw fail (pass
 * the console since a step, and that step's name, to check a later step).
 */
export function failedUnitsCheck(failedUnits: string, consoleText: string, check = "no unit failed during boot"): CheckResult {
  const stillFailed = failedUnits.split("\n").map((line) => line.trim().split(/\s+/)[0]).filter(Boolean);
  // The console colours its status lines; strip the escapes before reading them.
  const plain = consoleText.replace(/\x1b\[[0-9;]*m/g, "");
  const failedStarts = [...new Set([...plain.matchAll(/Failed to start (\S+)/g)].map((m) => m[1]))];
  return rowFrom(
    check,
    [...stillFailed.map((unit) => `${unit} is failed`), ...failedStarts.filter((u) => !stillFailed.includes(u)).map((unit) => `${unit} failed to start once`)],
    "systemctl --failed is empty; the console shows no failed start",
  );
}

/** coturn's unit state. */
export function serviceCheck(active: string, enabled: string): CheckResult {
  const problems = [
    ...(active.trim() === "active" ? [] : [`coturn is ${active.trim() || "unknown"}, not active`]),
    ...(enabled.trim() === "enabled" ? [] : [`coturn is ${enabled.trim() || "unknown"} at boot, not enabled`]),
  ];
  return rowFrom("coturn active and enabled", problems, "active, enabled");
}

/**
 * Every coturn process of this boot, from its journal lines: each must have read the config (it names a listener
 * address the config gives) and none may have said it could not find it, which means it ran with built-in
 * defaults, without authentication: an open relay.
 */
export function configReadCheck(journal: string, listeningIps: readonly string[]): CheckResult {
  const byPid = new Map<string, string[]>();
  for (const line of journal.split("\n")) {
    const match = /turnserver\[(\d+)\]: (.*)$/.exec(line);
    if (match) byPid.set(match[1], [...(byPid.get(match[1]) ?? []), match[2]]);
  }
  if (byPid.size === 0) return { check: "coturn read its config at every start", status: "FAIL", detail: "coturn logged nothing this boot" };
  const problems = [...byPid].flatMap(([pid, lines]) => {
    const text = lines.join("\n");
    if (/Cannot find config file/.test(text)) return [`coturn ${pid} could not read its config and ran with built-in defaults (an open relay)`];
    const listener = /Listener address to use: (\S+)/.exec(text)?.[1];
    // Without its config coturn does not log to syslog either, so often nothing says so in the journal.
    if (!listener) return [`coturn ${pid} logged no listener address: it did not run the rendered config (without it coturn runs with built-in defaults, an open relay)`];
    return listeningIps.includes(listener) ? [] : [`coturn ${pid} listened on ${listener}, which the rendered config does not name`];
  });
  return rowFrom("coturn read its config at every start", problems, `${byPid.size} start(s) this boot, each on the rendered listener address`);
}

/** The unit settings the drop-in sets, as `systemctl show` names them, with the value it must show. */
export function dropInExpectations(dropIn: string): Array<{ property: string; value: string }> {
  const settings = new Map<string, string>();
  for (const line of dropIn.split("\n")) {
    const match = /^(\w+)=(.*)$/.exec(line.trim());
    // An empty assignment resets a list (ExecReload=); the last one wins.
    if (match && match[2] !== "") settings.set(match[1], match[2]);
  }
  // systemctl shows time spans under their USec names.
  const names: Record<string, string> = { RestartSec: "RestartUSec", StartLimitIntervalSec: "StartLimitIntervalUSec", LogRateLimitIntervalSec: "LogRateLimitIntervalUSec" };
  return [...settings].map(([key, value]) =>
    // systemctl shows no condition's value, only whether the conditions held at the last start.
    key.startsWith("Condition") ? { property: "ConditionResult", value: "yes" } : { property: names[key] ?? key, value },
  );
}

/** Compares `systemctl show coturn` output with the drop-in. */
export function dropInCheck(dropInPath: string, dropIn: string, show: string): CheckResult {
  const properties = new Map(
    show
      .split("\n")
      .map((line) => /^(\w+)=(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]]),
  );
  const problems: string[] = [];
  if (!(properties.get("DropInPaths") ?? "").split(" ").includes(dropInPath)) problems.push(`systemd does not load ${dropInPath}`);
  for (const { property, value } of dropInExpectations(dropIn)) {
    const actual = properties.get(property) ?? "";
    // ExecReload shows as `{ path=… ; argv[]=… ; … }`.
    const matches = property.startsWith("Exec") ? actual.includes(`argv[]=${value}`) : actual === value;
    if (!matches) problems.push(`${property} is ${actual || "unset"}, not ${value}`);
  }
  return rowFrom("coturn's unit has the drop-in's settings", problems, dropInExpectations(dropIn).map((e) => `${e.property}=${e.value}`).join(", "));
}

/** The property names `dropInCheck` needs from `systemctl show`. */
export function dropInProperties(dropIn: string): string[] {
  return ["DropInPaths", ...dropInExpectations(dropIn).map((e) => e.property)];
}

/** Reads "Max open files" (soft, hard) from a /proc/PID/limits text. */
export function openFilesLimit(limits: string): { soft: number; hard: number } | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limits);
  if (!match) return undefined;
  const value = (text: string): number => (text === "unlimited" ? Infinity : Number(text));
  return { soft: value(match[1]), hard: value(match[2]) };
}

/**
 * The open-files limit coturn runs with against the unit's LimitNOFILE: equal, or (in a container) capped at the
 * host's own hard limit, which a container cannot raise.
 */
export function openFilesCheck(unitLimit: number, processLimits: string, hostHardLimit: number): CheckResult {
  const check = "coturn's open-files limit";
  const limit = openFilesLimit(processLimits);
  if (!limit) return { check, status: "FAIL", detail: "no 'Max open files' line in coturn's /proc/PID/limits" };
  if (limit.soft === unitLimit) return { check, status: "ok", detail: `${limit.soft}, as the unit sets` };
  if (limit.soft === Math.min(unitLimit, hostHardLimit)) {
    return {
      check,
      status: "not here",
      detail: `the unit asks ${unitLimit}; the container got ${limit.soft}, the host's own hard limit, which a container cannot raise (boot-test --qemu shows it)`,
    };
  }
  return { check, status: "FAIL", detail: `coturn runs with ${limit.soft} open files; the unit sets ${unitLimit}` };
}

/** A kernel setting: wanted (rendered) and seen inside the guest (undefined: not visible there). */
export interface KernelSetting {
  readonly key: string;
  readonly wanted: string;
  readonly actual: string | undefined;
}

/** Parses a sysctl.d file into key → value. */
export function sysctlFile(text: string): Array<{ key: string; value: string }> {
  return text
    .split("\n")
    .map((line) => /^\s*([a-z0-9_.]+)\s*=\s*(.*?)\s*$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ key: m[1], value: m[2] }));
}

/**
 * One row per kernel setting. In effect: ok. Not in effect in a container: `not here`, with why, provided the
 * bootstrap named it on the console (so a real VM's operator would see it too). Otherwise FAIL.
 */
export function kernelSettingRows(settings: readonly KernelSetting[], inContainer: boolean, bootstrapOutput: string): CheckResult[] {
  return settings.map(({ key, wanted, actual }) => {
    const check = `kernel: ${key}`;
    if (actual === wanted) return { check, status: "ok", detail: wanted };
    const named = bootstrapOutput.includes(`kernel setting ${key} is`);
    if (inContainer && named) {
      const why =
        actual === undefined
          ? "kernel-wide, not visible in a container's network namespace"
          : "a container cannot write /proc/sys (systemd-nspawn keeps it read-only)";
      return { check, status: "not here", detail: `wanted ${wanted}, the container has ${actual || "none"}: ${why}; the bootstrap named it (boot-test --qemu shows it)` };
    }
    return {
      check,
      status: "FAIL",
      detail: `wanted ${wanted}, found ${actual ?? "nothing"}${named ? "" : "; the bootstrap did not say so"}`,
    };
  });
}
