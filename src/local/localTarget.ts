/**
 * Starting and stopping coturn for a local stack: checks first (address, relay range, coturn installed, ports free),
 * then a private temp folder with a self-signed certificate and the rendered turnserver.conf (mode 0600: it holds
 * the run's secret), coturn as an ordinary child process, and a wait until it answers STUN on its listeners.
 * Stopping signals coturn by its pid (SIGTERM, then SIGKILL) and deletes the folder.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalStackConfig } from "../config/stackConfig";
import { renderLocalTurnserverConf } from "../render/vmFiles";
import { CoturnMissingError, coturnVersion, findTurnserver } from "./coturnBinary";
import { listenAddressProblem } from "./listenAddress";
import { busyPortMessage, findBusyPorts, listenerSockets, localRelayRangeProblem } from "./ports";
import { waitUntilServing, type StunProbe } from "./readiness";
import { SelfSignedError, makeSelfSignedCertificate, type SelfSignedCertificate } from "./selfSigned";

/** How long coturn gets to stop after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 3000;

/** Thrown when the local target cannot start; `exitCode` is 2 for problems found before coturn ran, else 1. */
export class LocalTargetError extends Error {
  override name = "LocalTargetError";

  /** Builds the error with the exit code the command should end with. */
  constructor(
    message: string,
    /** 2: a problem with the command or this machine, found before coturn started. 1: coturn failed. */
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** Thrown when startup is cancelled through the abort signal (Ctrl-C while starting); nothing is left running. */
export class LocalTargetAborted extends Error {
  override name = "LocalTargetAborted";
}

/** How coturn ended. */
export interface CoturnExit {
  /** Exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or null. */
  readonly signal: NodeJS.Signals | null;
}

/** What to start. */
export interface LocalTargetOptions {
  /** The validated local stack, with this run's secret. */
  readonly config: LocalStackConfig;
  /** IPv4 address of this machine to listen and relay on. */
  readonly listenIp: string;
  /** Cancels startup; coturn is stopped and the folder deleted before `startLocalTarget` rejects. */
  readonly signal?: AbortSignal;
  /** Limit for coturn to answer on every listener. Default 10 s. */
  readonly readyTimeoutMs?: number;
}

/** A running coturn for a local stack. */
export interface LocalTarget {
  /** coturn's process id. */
  readonly pid: number;
  /** coturn's version, e.g. "4.6.1". */
  readonly version: string;
  /** The address it listens and relays on. */
  readonly listenIp: string;
  /** The run's private temp folder (deleted by `stop`). */
  readonly dir: string;
  /** The rendered turnserver.conf (mode 0600). */
  readonly confFile: string;
  /** coturn's log file. */
  readonly logFile: string;
  /** The self-signed certificate for `turns:`. */
  readonly certificate: SelfSignedCertificate;
  /** Resolves when coturn has exited, whether stopped or on its own. */
  readonly exited: Promise<CoturnExit>;
  /** True while coturn runs. */
  isRunning(): boolean;
  /** The last `lines` lines of coturn's log (or of its own output when it never opened the log). */
  logTail(lines?: number): string;
  /** Stops coturn (SIGTERM, SIGKILL after `STOP_GRACE_MS`) and deletes the folder. Safe to call more than once. */
  stop(): Promise<void>;
}

/** Keeps the last `limit` characters of a stream. */
function tailBuffer(limit: number): { add(chunk: Buffer): void; text(): string } {
  let text = "";
  return {
    add(chunk) {
      text = (text + chunk.toString("utf8")).slice(-limit);
    },
    text: () => text,
  };
}

/** Checks everything that can be checked before coturn runs; throws `LocalTargetError` (exit code 2). */
async function preflight(config: LocalStackConfig, listenIp: string): Promise<string> {
  const addressProblem = listenAddressProblem(listenIp);
  if (addressProblem) throw new LocalTargetError(addressProblem, 2);
  const rangeProblem = localRelayRangeProblem(config.relayPorts);
  if (rangeProblem) throw new LocalTargetError(rangeProblem, 2);
  let turnserver: string;
  try {
    turnserver = findTurnserver();
  } catch (error) {
    if (error instanceof CoturnMissingError) throw new LocalTargetError(error.message, 2);
    throw error;
  }
  const busy = await findBusyPorts(listenIp, listenerSockets(config.listeners));
  if (busy.length > 0) {
    throw new LocalTargetError(`coturn was not started:\n${busy.map((b) => `  - ${busyPortMessage(b)}`).join("\n")}`, 2);
  }
  return turnserver;
}

/** The STUN probes that show coturn serves: UDP, TCP and TLS where on (DTLS is not probed). */
function readinessProbes(config: LocalStackConfig, listenIp: string, certificatePem: string): StunProbe[] {
  const probes: StunProbe[] = [];
  for (const { listener, port } of listenerSockets(config.listeners)) {
    if (listener === "tls") probes.push({ transport: "tls", address: listenIp, port, certificatePem });
    else if (listener === "udp" || listener === "tcp") probes.push({ transport: listener, address: listenIp, port });
  }
  return probes;
}

/**
 * Starts coturn for a local stack and resolves once it answers on its listeners. Rejects with `LocalTargetError`
 * (nothing left running, folder deleted) or `LocalTargetAborted`.
 */
export async function startLocalTarget(options: LocalTargetOptions): Promise<LocalTarget> {
  const { config, listenIp, signal } = options;
  const turnserver = await preflight(config, listenIp);
  if (signal?.aborted) throw new LocalTargetAborted("stopped before coturn started");

  // mkdtemp makes the folder 0700: the key and the config with the secret are private to this user.
  const dir = mkdtempSync(join(tmpdir(), "coturn-local-"));
  const removeDir = (): void => rmSync(dir, { recursive: true, force: true });
  let certificate: SelfSignedCertificate;
  try {
    certificate = makeSelfSignedCertificate(dir, listenIp, config.domain);
  } catch (error) {
    removeDir();
    if (error instanceof SelfSignedError) throw new LocalTargetError(error.message, 2);
    throw error;
  }
  const confFile = join(dir, "turnserver.conf");
  const logFile = join(dir, "turnserver.log");
  const conf = renderLocalTurnserverConf(config, {
    listenIp,
    certificate: certificate.certificate,
    privateKey: certificate.privateKey,
    logFile,
    pidFile: join(dir, "turnserver.pid"),
    userDb: join(dir, "turndb"),
  });
  writeFileSync(confFile, conf, { mode: 0o600 });
  chmodSync(confFile, 0o600);

  // Its own process group: Ctrl-C in the terminal reaches this process only, which then stops coturn by its pid
  // (otherwise coturn would see the same SIGINT and its exit would look like a crash).
  const child = spawn(turnserver, ["-c", confFile], { detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const output = tailBuffer(16_384);
  child.stdout?.on("data", (chunk: Buffer) => output.add(chunk));
  child.stderr?.on("data", (chunk: Buffer) => output.add(chunk));
  let running = true;
  const exited = new Promise<CoturnExit>((resolve) => {
    child.once("error", (error) => {
      output.add(Buffer.from(`${error.message}\n`));
      running = false;
      resolve({ code: null, signal: null });
    });
    child.once("exit", (code, exitSignal) => {
      running = false;
      resolve({ code, signal: exitSignal });
    });
  });

  const logTail = (lines = 20): string => {
    const text = existsSync(logFile) ? readFileSync(logFile, "utf8") : output.text();
    return (text.trim() === "" ? output.text() : text).trimEnd().split("\n").slice(-lines).join("\n");
  };

  // Last resort if this process ends without stopping coturn (an uncaught error): never leave it running.
  const onProcessExit = (): void => {
    if (running) child.kill("SIGKILL");
    removeDir();
  };
  process.once("exit", onProcessExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (running) {
        child.kill("SIGTERM");
        let timer: NodeJS.Timeout | undefined;
        const killed = new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            if (running) child.kill("SIGKILL");
            resolve();
          }, STOP_GRACE_MS);
        });
        await Promise.race([exited, killed]);
        clearTimeout(timer);
        await exited;
      }
      removeDir();
      process.removeListener("exit", onProcessExit);
    })();
    return stopping;
  };

  try {
    await waitUntilServing({
      probes: readinessProbes(config, listenIp, readFileSync(certificate.certificate, "utf8")),
      timeoutMs: options.readyTimeoutMs ?? 10_000,
      check: () => {
        if (signal?.aborted) throw new LocalTargetAborted("stopped while coturn was starting");
        if (!running) throw new LocalTargetError(`coturn exited while starting. The end of its log:\n${logTail()}`, 1);
      },
    });
  } catch (error) {
    const tail = logTail();
    await stop();
    if (error instanceof LocalTargetError || error instanceof LocalTargetAborted) throw error;
    throw new LocalTargetError(`${(error as Error).message}. The end of its log:\n${tail}`, 1);
  }

  return {
    pid: child.pid ?? -1,
    version: coturnVersion(turnserver),
    listenIp,
    dir,
    confFile,
    logFile,
    certificate,
    exited,
    isRunning: () => running,
    logTail,
    stop,
  };
}
