/**
 * The bench's lab: the project's namespaced cloud lab for the aws-example stack (lab/cloudLab.ts: a client
 * and a peer on a public "internet", the VM behind a 1:1 NAT edge router, the production turnserver.conf with the
 * stack's secrets delivered to coturn's user database as on a VM), plus what a benchmark needs on top: coturn
 * restarted with any of the bench's configs (listening on UDP and TCP 3478 and TLS 5349) and pinned to a core of its own, the VM's monitoring next to it for the
 * monitored config, an echo peer and a sink port on the peer, packet counters, and the load generator started inside
 * the client namespace. Nothing leaves the lab's namespaces, which have no route out; `destroy()` stops every process
 * by its pid and deletes every namespace.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LISTENER_PORTS } from "../../src/config/schema";
import { CLOUD_LAB, loadRateLimits, rateLimitsLoaded, startCloudLab, unloadRateLimits, type CloudLab } from "../cloudLab";
import { requireCommands, waitFor, type LabProcess } from "../netlab";
import { benchConfigs, type BenchConfig, type ConfigName } from "./relayConfigs";
import { createCpuBudget, type CpuBudget } from "./cpuBudget";
import { pinnedTo, type CpuLayout } from "./cpuUsage";
import { GENERATOR_JOB_VARIABLE, type GeneratorJob } from "./generatorJob";
import { installCounters, readCounters, type CounterPlacement, type PacketCounts } from "./packetCounters";
import { accountingLoaded, SCRAPE_INTERVAL_MS, startBenchMonitoring, type BenchMonitoring } from "./benchMonitoring";

/** The example stack whose production config is measured. */
export const BENCH_STACK = "aws-example";
/** coturn's plain TURN port (the stack's `listening-port`): UDP and TCP. */
export const TURN_PORT = LISTENER_PORTS.plain;
/** coturn's TURN-over-TLS port (the stack's `tls-listening-port`). */
export const TLS_PORT = LISTENER_PORTS.tls;
/** The peer port that echoes every datagram (turnutils_peer). */
export const ECHO_PORT = 3480;
/** The peer port that drops every datagram (an nftables rule; nothing listens there). */
export const SINK_PORT = 3481;

/** Names of the bench's cgroups start with this. */
export const BUDGET_PREFIX = "coturn-bench-";

/** A coturn started by the bench. */
export interface RunningCoturn {
  readonly config: ConfigName;
  /** coturn's own pid (the lab starts it with exec all the way down, so this is the process whose CPU is read). */
  readonly pid: number;
  /** The monitoring next to it (the "monitored" config), or null. */
  readonly monitoring: BenchMonitoring | null;
  /** Stops it (SIGTERM, SIGKILL after 3 s) and waits until it is gone. */
  stop(): Promise<void>;
}

/** The running bench lab. */
export interface RelayLab {
  readonly cloud: CloudLab;
  readonly configs: Record<ConfigName, BenchConfig>;
  readonly layout: CpuLayout;
  /** The share of one core coturn may use (its cgroup's CPU limit), in percent. */
  readonly serverBudgetPercent: number;
  /**
   * Starts coturn with `config`, pinned to the server core and inside its CPU budget; resolves once it listens. For
   * the monitored config the VM's monitoring starts first; for the others the lab checks that none is loaded.
   */
  startCoturn(config: ConfigName): Promise<RunningCoturn>;
  /** Starts the load generator in the client namespace, pinned to the generator cores. */
  startGenerator(job: GeneratorJob): LabProcess;
  /** Reads the packet counters. */
  counters(): PacketCounts;
  /** Stops every process and deletes every namespace and the temp folder. */
  destroy(): Promise<void>;
}

const GENERATOR_SCRIPT = join(__dirname, "generatorProcess.ts");

function listensOnUdp(cloud: CloudLab, ns: string, address: string): boolean {
  return cloud.lab.exec(ns, "ss", "-Hlnu").split("\n").some((line) => line.split(/\s+/).includes(address));
}

function listensOnTcp(cloud: CloudLab, ns: string, address: string): boolean {
  return cloud.lab.exec(ns, "ss", "-Hlnt").split("\n").some((line) => line.split(/\s+/).includes(address));
}

async function stopProcess(running: LabProcess): Promise<void> {
  if (running.child.exitCode !== null || running.child.signalCode !== null) return;
  running.child.kill("SIGTERM");
  const timer = setTimeout(() => running.child.kill("SIGKILL"), 3000);
  await running.exited;
  clearTimeout(timer);
}

/** Builds a lab whose namespaces are named `<tag>-<host>`; `say` reports each step; the monitoring scrapes every `scrapeIntervalMs`. */
export async function startRelayLab(
  tag: string,
  layout: CpuLayout,
  serverBudgetPercent: number,
  say: (line: string) => void,
  scrapeIntervalMs = SCRAPE_INTERVAL_MS,
): Promise<RelayLab> {
  requireCommands([
    ["/usr/bin/turnserver", "coturn"],
    ["/usr/bin/turnutils_peer", "coturn"],
    ["/usr/bin/taskset", "util-linux"],
    ["/usr/bin/getconf", "libc-bin"],
  ]);
  say(`Building lab ${tag}: namespaces for the ${BENCH_STACK} VM behind its 1:1 NAT edge, a client and a peer on the lab internet …`);
  const cloud = await startCloudLab({ stack: BENCH_STACK, tag });
  let budget: CpuBudget | undefined;
  // One teardown, however many callers (the normal end and a Ctrl-C can overlap): the cgroup goes once its
  // processes are gone.
  let teardown: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (teardown ??= (async () => {
      await cloud.destroy();
      budget?.remove();
    })());
  try {
    budget = createCpuBudget(`${BUDGET_PREFIX}${tag}`, serverBudgetPercent);
    // The lab started coturn with the production config, unpinned; the bench starts its own for every measurement.
    await stopProcess(cloud.coturn);
    const configs = benchConfigs(cloud.conf.conf);
    // The monitored config is production's file itself.
    const confPaths: Record<ConfigName, string> = {
      production: cloud.confPath,
      minimal: join(dirname(cloud.confPath), "turnserver-minimal.conf"),
      monitored: cloud.confPath,
    };
    writeFileSync(confPaths.production, configs.production.conf, { mode: 0o600 });
    writeFileSync(confPaths.minimal, configs.minimal.conf, { mode: 0o600 });

    // The bench itself (it mostly sleeps) stays off coturn's core too.
    if (layout.generatorCores) execFileSync("taskset", ["-a", "-p", "-c", layout.generatorCores.join(","), String(process.pid)], { stdio: "ignore" });

    const placement: CounterPlacement = {
      lab: cloud.lab,
      clientNs: cloud.hosts.client,
      peerNs: cloud.hosts.peer,
      serverIp: CLOUD_LAB.publicIp,
      serverPort: TURN_PORT,
      clientIp: CLOUD_LAB.client,
      sinkPort: SINK_PORT,
    };
    installCounters(placement);
    const [echoCommand, ...echoPrefix] = [...pinnedTo(layout.generatorCores), "turnutils_peer"];
    const echo = cloud.lab.start(cloud.hosts.peer, echoCommand, [...echoPrefix, "-L", CLOUD_LAB.peer, "-p", String(ECHO_PORT)]);
    await waitFor("the echo peer to listen", () => {
      if (echo.child.exitCode !== null) throw new Error(`turnutils_peer exited: ${echo.output()}`);
      return listensOnUdp(cloud, cloud.hosts.peer, `${CLOUD_LAB.peer}:${ECHO_PORT}`);
    });

    let coturnCount = 0;
    const startCoturn = async (config: ConfigName): Promise<RunningCoturn> => {
      const listener = `${cloud.privateIp}:${TURN_PORT}`;
      const tlsListener = `${cloud.privateIp}:${TLS_PORT}`;
      // Every listener the bench relays through: UDP and TCP on the plain port, TLS on its own.
      const listening = (): boolean =>
        listensOnUdp(cloud, cloud.hosts.turn, listener) && listensOnTcp(cloud, cloud.hosts.turn, listener) && listensOnTcp(cloud, cloud.hosts.turn, tlsListener);
      // coturn shares a busy port silently: the previous one must be gone.
      for (const [inUse, address] of [
        [listensOnUdp(cloud, cloud.hosts.turn, listener), `${listener} (UDP)`],
        [listensOnTcp(cloud, cloud.hosts.turn, listener), `${listener} (TCP)`],
        [listensOnTcp(cloud, cloud.hosts.turn, tlsListener), `${tlsListener} (TLS)`],
      ] as const) {
        if (inUse) throw new Error(`${address} is still in use before starting coturn`);
      }
      // The kernel counters, mtail and node-exporter for the monitored config, and certainly not for the others.
      // mtail reads coturn's log from its first line: it starts on an empty one, as a VM's mtail has long read its
      // backlog, so that no measurement pays for reading earlier coturns' lines.
      if (configs[config].monitoring) writeFileSync(cloud.logFile, "");
      const monitoring = configs[config].monitoring ? await startBenchMonitoring(cloud, layout, scrapeIntervalMs) : null;
      if (monitoring === null && accountingLoaded(cloud)) throw new Error(`the monitoring's kernel counters are loaded for the ${config} config`);
      if (configs[config].rateLimits) loadRateLimits(cloud);
      else unloadRateLimits(cloud);
      if (rateLimitsLoaded(cloud) !== configs[config].rateLimits) throw new Error(`the per-source limits are ${configs[config].rateLimits ? "not " : ""}loaded for the ${config} config`);
      const pidFile = join(dirname(cloud.confPath), `turnserver-${++coturnCount}.pid`);
      const [command, ...prefix] = [...pinnedTo(layout.serverCore === null ? null : [layout.serverCore]), "turnserver"];
      const coturn = cloud.lab.start(cloud.hosts.turn, command, [...prefix, "-c", confPaths[config], "--pidfile", pidFile]);
      const stop = async (): Promise<void> => {
        await stopProcess(coturn);
        await monitoring?.stop();
      };
      try {
        await waitFor(`coturn (${config} config) to listen on ${listener} (UDP, TCP) and ${tlsListener} (TLS)`, () => {
          if (coturn.child.exitCode !== null) throw new Error(`coturn exited: ${coturn.output()}\n${cloud.log().split("\n").slice(-20).join("\n")}`);
          return listening();
        });
        const pid = coturn.child.pid;
        if (pid !== undefined) budget?.add(pid);
        // Its CPU time is read from /proc/<pid>: make sure the pid is coturn's, not a wrapper's.
        if (pid === undefined || readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "turnserver") throw new Error("the started process is not turnserver itself");
        // The collector finds coturn through the lab's pid file.
        writeFileSync(cloud.pidFile, `${pid}\n`);
        return { config, pid, monitoring, stop };
      } catch (error) {
        await stop();
        throw error;
      }
    };

    const startGenerator = (job: GeneratorJob): LabProcess => {
      const [command, ...prefix] = [...pinnedTo(layout.generatorCores), process.execPath];
      return cloud.lab.start(cloud.hosts.client, command, [...prefix, "--import", "tsx", GENERATOR_SCRIPT], {
        ...process.env,
        [GENERATOR_JOB_VARIABLE]: JSON.stringify(job),
      });
    };

    return { cloud, configs, layout, startCoturn, startGenerator, counters: () => readCounters(placement), serverBudgetPercent, destroy };
  } catch (error) {
    await destroy();
    throw error;
  }
}
