/**
 * Reads one server's metrics over SSH with its metrics read key (the region stack's `metricsAccess`), with the
 * operator's real `ssh` client: the key in a 0600 temp file, the pinned host key as the only known host, no agent,
 * no config file, no prompt. The key's forced command on the VM prints the metrics and nothing else; with scrapers it
 * wants the metrics password on stdin (never in arguments, so `ps` does not show it). Temp files are removed after
 * every read, and at exit for a read cut short. No message ever holds the key or the password.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MetricsReadAccess } from "../monitoring/metricsReadAccess";

/** Options of one read. */
export interface SshReadOptions {
  /** The metrics password (coturn:metricsPassword), sent on stdin when the stack has scrapers. */
  readonly password?: string;
  /** ssh's ConnectTimeout, seconds (default 10). */
  readonly connectTimeoutSeconds?: number;
  /** Bound on the whole read, ms (default: the connect timeout plus 20 s). */
  readonly timeoutMs?: number;
  /** The ssh executable (default `ssh` on PATH). */
  readonly ssh?: string;
}

/** How a read ended: the page, or why not in one sentence for the status row. */
export type SshReadResult = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: string };

/** Temp folders of reads in progress; removed at exit whatever happens (Ctrl-C included). */
const liveTempDirs = new Set<string>();
let exitHookInstalled = false;

function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  liveTempDirs.delete(dir);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const dir of [...liveTempDirs]) removeTempDir(dir);
  });
}

/** The known_hosts line pinning `hostPublicKey` (an OpenSSH public key, comment dropped) to `address`. */
export function knownHostsLine(address: string, hostPublicKey: string): string {
  const [type, key] = hostPublicKey.trim().split(/\s+/);
  if (!type || !key) throw new Error(`the pinned host key of ${address} is not an OpenSSH public key`);
  return `${address} ${type} ${key}\n`;
}

/** The ssh arguments of one read (the key and known-hosts files at the given paths). */
export function sshArguments(access: Pick<MetricsReadAccess, "address" | "user">, files: { key: string; knownHosts: string }, connectTimeoutSeconds = 10): string[] {
  return [
    "-F", "/dev/null",
    "-T",
    "-i", files.key,
    "-o", "IdentitiesOnly=yes",
    "-o", "IdentityAgent=none",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `UserKnownHostsFile=${files.knownHosts}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "UpdateHostKeys=no",
    "-o", "BatchMode=yes",
    "-o", `ConnectTimeout=${connectTimeoutSeconds}`,
    "-o", "ServerAliveInterval=5",
    "-o", "ServerAliveCountMax=2",
    "-o", "ControlMaster=no",
    "-o", "ControlPath=none",
    "-o", "LogLevel=ERROR",
    "-l", access.user,
    "--",
    access.address,
  ];
}

/** Replaces every secret in `text` (defence in depth: ssh and the forced command never print them). */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret) continue;
    for (const piece of [secret, ...secret.split("\n").filter((l) => l.length >= 16)]) out = out.split(piece).join("<redacted>");
  }
  return out;
}

/** Why a failed read failed, in one sentence, from ssh's exit code and stderr. */
export function readFailure(address: string, status: number | null, stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? "";
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key .* is not known|No \S+ host key is known/i.test(stderr)) {
    return `host key mismatch: ${address} did not prove it holds the pinned host key (metricsAccess hostPublicKey); if the VM was replaced, run pulumi up`;
  }
  const connect = lines.find((l) => /^ssh: connect to host /.test(l) || /^ssh: Could not resolve hostname /.test(l) || /Connection (timed out|closed|reset)/.test(l));
  if (status === 255 && connect) return `unreachable: ${connect}`;
  if (status === 255 && /Permission denied/.test(stderr)) {
    return `the metrics read key was refused by ${address} (Permission denied): run pulumi up to install it`;
  }
  if (status === 255) return `ssh failed: ${last || "exit 255"}`;
  if (/wants the metrics password/.test(stderr)) return `the server wants the metrics password (coturn:metricsPassword): ${last}`;
  if (/^curl: /m.test(stderr)) return `the metrics exporter on the VM did not answer (${last})`;
  return `the metrics command failed (exit ${status ?? "killed"})${last ? `: ${last}` : ""}`;
}

/** Reads one server's metrics page over SSH. */
export function readMetricsOverSsh(access: MetricsReadAccess, options: SshReadOptions = {}): Promise<SshReadResult> {
  installExitHook();
  const connectTimeout = options.connectTimeoutSeconds ?? 10;
  const timeoutMs = options.timeoutMs ?? (connectTimeout + 20) * 1000;
  const secrets = [access.privateKey, options.password];
  const dir = mkdtempSync(join(tmpdir(), "coturn-status-"));
  liveTempDirs.add(dir);
  const done = (result: SshReadResult): SshReadResult => {
    removeTempDir(dir);
    return result.ok ? result : { ok: false, reason: redact(result.reason, secrets) };
  };
  let files: { key: string; knownHosts: string };
  try {
    files = { key: join(dir, "key"), knownHosts: join(dir, "known_hosts") };
    writeFileSync(files.key, access.privateKey.endsWith("\n") ? access.privateKey : `${access.privateKey}\n`, { mode: 0o600 });
    writeFileSync(files.knownHosts, knownHostsLine(access.address, access.hostPublicKey), { mode: 0o600 });
  } catch (error) {
    return Promise.resolve(done({ ok: false, reason: `cannot prepare the SSH read: ${(error as Error).message}` }));
  }
  return new Promise((resolve) => {
    const child = spawn(options.ssh ?? "ssh", sshArguments(access, files, connectTimeout), { stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.password === undefined ? "" : `${options.password}\n`);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(done({ ok: false, reason: error.code === "ENOENT" ? "ssh not found: install the OpenSSH client (apt-get install openssh-client)" : `ssh: ${error.message}` }));
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      if (timedOut) resolve(done({ ok: false, reason: `unreachable: no answer from ${access.address} within ${Math.round(timeoutMs / 1000)} s` }));
      else if (status === 0) resolve(done({ ok: true, text: Buffer.concat(stdout).toString("utf8") }));
      else resolve(done({ ok: false, reason: readFailure(access.address, status, stderr) }));
    });
  });
}
