/**
 * A network lab of Linux network namespaces for runtime tests: hosts wired to an "internet" bridge that lives in a
 * namespace of its own, optional routers doing NAT, and processes started inside hosts. Nothing touches the machine's
 * own network namespace, no namespace has a route out, and `destroy()` stops every process and deletes every
 * namespace it made (each process by its pid, then whatever is left inside the namespace).
 *
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): `requireLabPrivileges()` fails with instructions otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

/** Addresses of the lab's "internet": public space so that the production deny list applies unchanged. */
export const LAB_INTERNET = { prefix: "11.0.0", length: 24 } as const;

/** A process started inside a lab host, with its collected output. */
export interface LabProcess {
  /** The child (its pid is what cleanup signals). */
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/** How a command run with `NetLab.run` ended. */
export interface LabRun {
  /** Exit code, or null when a signal ended it. */
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock duration. */
  readonly ms: number;
}

/** Throws with a how-to when the lab cannot be built: not root, or `ip`/`nft` missing. */
export function requireLabPrivileges(): void {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "runtime tests build network namespaces and need root: run `sudo bash scripts/test.sh`, " +
        "or one file with `sudo node --import tsx --test test/<file>.test.ts`. CI runs as root.",
    );
  }
  requireCommands([
    ["/usr/sbin/ip", "iproute2"],
    ["/usr/sbin/nft", "nftables"],
  ]);
}

/**
 * Fails (never skips) when a program a runtime test needs is missing, saying which Debian package provides it.
 * `scripts/install-deps.sh` installs all of them.
 */
export function requireCommands(commands: ReadonlyArray<readonly [path: string, debianPackage: string]>): void {
  const missing = commands.filter(([path]) => !existsSync(path));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(" ");
    throw new Error(
      `${missing.map(([path]) => path).join(", ")} missing: install with \`sudo apt-get install -y ${packages}\` ` +
        "(or run `sudo bash scripts/install-deps.sh`, which installs everything the tests need)",
    );
  }
}

function run(command: string, args: readonly string[], input?: string): string {
  const result = spawnSync(command, args, { encoding: "utf8", ...(input === undefined ? {} : { input }) });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status ?? result.signal}): ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

/** A set of namespaces and processes that belong to one test file. */
export class NetLab {
  private readonly namespaces: string[] = [];
  private readonly processes: LabProcess[] = [];
  private readonly bridgeNs: string;
  private nextLink = 0;
  private destroyed = false;

  /** Creates the lab's internet bridge. `tag` keeps namespace names unique per test process. */
  constructor(private readonly tag: string = `ct${process.pid}`) {
    requireLabPrivileges();
    this.bridgeNs = this.addHost("inet");
    this.ip(this.bridgeNs, "link", "add", "br0", "type", "bridge");
    this.ip(this.bridgeNs, "link", "set", "br0", "up");
  }

  /** The full namespace name of a lab host. */
  ns(host: string): string {
    return `${this.tag}-${host}`;
  }

  /** Creates an empty namespace with loopback up; returns its full name. */
  addHost(host: string): string {
    const name = this.ns(host);
    run("ip", ["netns", "add", name]);
    this.namespaces.push(name);
    this.ip(name, "link", "set", "lo", "up");
    return name;
  }

  /** Runs `ip` inside a namespace. */
  ip(ns: string, ...args: string[]): string {
    return run("ip", ["-n", ns, ...args]);
  }

  /** Runs a command inside a namespace and returns its stdout; throws on a non-zero exit. */
  exec(ns: string, command: string, ...args: string[]): string {
    return run("ip", ["netns", "exec", ns, command, ...args]);
  }

  /** Runs a command inside a namespace with its own environment and stdin; reports how it ended instead of throwing. */
  execResult(
    ns: string,
    command: string,
    args: readonly string[],
    options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
  ): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync("ip", ["netns", "exec", ns, command, ...args], {
      encoding: "utf8",
      env: options.env ?? process.env,
      input: options.input,
      timeout: options.timeoutMs ?? 30_000,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** Like `exec`, with `input` on the command's stdin (how secrets are handed over: never in arguments). */
  execWithInput(ns: string, input: string, command: string, ...args: string[]): string {
    return run("ip", ["netns", "exec", ns, command, ...args], input);
  }

  /**
   * Runs a command inside a namespace to its end without blocking the event loop (processes the test reads meanwhile
   * keep being read), and reports how it ended instead of throwing. After `timeoutMs` it is killed, with every
   * process it started (its process group, whose id is its pid).
   */
  run(
    ns: string,
    command: string,
    args: readonly string[],
    options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<LabRun> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    // A process group of its own, so that a timeout stops what it started too (whose pipes would keep it "open").
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env, detached: true });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on("error", () => undefined);
    child.stdin.end(options.input ?? "");
    const started = Date.now();
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }, timeoutMs);
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (timedOut) {
          reject(new Error(`${command} ${args.join(" ")} did not finish within ${timeoutMs} ms; output so far:\n${stdout}\n${stderr}`));
          return;
        }
        resolve({ status: code, signal, stdout, stderr, ms: Date.now() - started });
      });
    });
  }

  /** Connects a host to the internet bridge as `ifname` with `address/24`. */
  attachToInternet(ns: string, ifname: string, address: string | null): void {
    const bridgePort = `p${this.nextLink++}`;
    this.ip(this.bridgeNs, "link", "add", bridgePort, "type", "veth", "peer", "name", ifname, "netns", ns);
    this.ip(this.bridgeNs, "link", "set", bridgePort, "master", "br0", "up");
    // null: the host configures the interface itself (a booted VM, from its network-config).
    if (address === null) return;
    this.ip(ns, "addr", "add", `${address}/${LAB_INTERNET.length}`, "dev", ifname);
    this.ip(ns, "link", "set", ifname, "up");
  }

  /** Connects two hosts with a point-to-point subnet (`addressA/24` on `ifA`, `addressB/24` on `ifB`). */
  link(nsA: string, ifA: string, addressA: string, nsB: string, ifB: string, addressB: string): void {
    this.ip(nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB, "netns", nsB);
    this.ip(nsA, "addr", "add", `${addressA}/24`, "dev", ifA);
    this.ip(nsB, "addr", "add", `${addressB}/24`, "dev", ifB);
    this.ip(nsA, "link", "set", ifA, "up");
    this.ip(nsB, "link", "set", ifB, "up");
  }

  /** Makes a namespace forward packets and loads an nftables ruleset into it. */
  router(ns: string, nftRuleset: string): void {
    this.exec(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
    const result = spawnSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], { input: nftRuleset, encoding: "utf8" });
    if (result.status !== 0) throw new Error(`nft in ${ns} failed: ${result.stderr}`);
  }

  /** Starts a long-running process inside a namespace; `destroy()` stops it. */
  start(ns: string, command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): LabProcess {
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: ["ignore", "pipe", "pipe"], env });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | string>((resolve) => child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
    const labProcess: LabProcess = { child, output: () => output, exited };
    this.processes.push(labProcess);
    return labProcess;
  }

  /** Stops every process (SIGTERM, then SIGKILL after 3 s), kills leftovers in each namespace, deletes them all. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await Promise.all(this.processes.map((p) => stopProcess(p)));
    for (const name of this.namespaces.reverse()) {
      const leftovers = spawnSync("ip", ["netns", "pids", name], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
      for (const pid of leftovers) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      spawnSync("ip", ["netns", "del", name]);
    }
  }
}

async function stopProcess(p: LabProcess): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null || p.child.pid === undefined) return;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), 3000);
  await p.exited;
  clearTimeout(timer);
}

/** Polls `probe` every 100 ms until it returns true or `timeoutMs` passes; throws with `what` on timeout. */
export async function waitFor(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
