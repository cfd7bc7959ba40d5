/**
 * Measurements driven from the bench's side: start the generators, let them warm up, then read the packet counters
 * and the CPU time of coturn and of every core at both ends of a fixed-length window. The generators are told by
 * signals when the window opens and closes, so their own accounts cover the same interval as the bench's.
 */
import type { LabProcess } from "../netlab";
import { coreBusyPercent, coreIdleSeconds, processCpuSeconds, type CoreIdleSeconds } from "./cpuUsage";
import { WINDOW_END_SIGNAL, WINDOW_START_SIGNAL, type GeneratorEvent, type GeneratorJob, type GeneratorResult } from "./generatorJob";
import { countsBetween, type PacketCounts } from "./packetCounters";
import type { RelayLab } from "./relayLab";

/** What the bench saw in one window. */
export interface WindowSample {
  /** Window length by the bench's clock. */
  readonly seconds: number;
  /** Packets the kernel counted in the window. */
  readonly packets: PacketCounts;
  /** coturn's CPU time in the window as a share of one core (all its threads), or null without coturn. */
  readonly coturnCpuPercent: number | null;
  /** Each core's busy share in the window. */
  readonly coreBusyPercent: readonly number[];
}

/** A window and the generator's own account of it. */
export interface WindowMeasurement extends WindowSample {
  readonly generator: GeneratorResult;
}

/** Timing of a measurement. */
export interface WindowTiming {
  /** From the generator's `ready` to the window's start. */
  readonly warmupMs: number;
  readonly windowMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The generator's JSON lines so far. */
function events(generator: LabProcess): GeneratorEvent[] {
  return generator
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as GeneratorEvent);
}

/** Waits until the generator prints an event of `kind`; throws on its error event, its exit, or after `timeoutMs`. */
async function nextEvent<K extends GeneratorEvent["event"]>(generator: LabProcess, kind: K, timeoutMs: number): Promise<Extract<GeneratorEvent, { event: K }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = events(generator);
    const failure = seen.find((e): e is Extract<GeneratorEvent, { event: "error" }> => e.event === "error");
    if (failure) throw new Error(`load generator: ${failure.message}`);
    const wanted = seen.find((e): e is Extract<GeneratorEvent, { event: K }> => e.event === kind);
    if (wanted) return wanted;
    if (generator.child.exitCode !== null || generator.child.signalCode !== null) {
      throw new Error(`load generator exited (${generator.child.exitCode ?? generator.child.signalCode}) before "${kind}": ${generator.output()}`);
    }
    if (Date.now() > deadline) throw new Error(`load generator printed no "${kind}" within ${timeoutMs} ms: ${generator.output()}`);
    await sleep(20);
  }
}

function signal(generator: LabProcess, name: NodeJS.Signals): void {
  if (generator.child.pid === undefined) throw new Error("load generator has no pid");
  process.kill(generator.child.pid, name);
}

/** Counters and CPU times at one instant. */
interface Snapshot {
  readonly at: bigint;
  readonly packets: PacketCounts;
  readonly cores: CoreIdleSeconds[];
  readonly coturnCpuSeconds: number;
}

function snapshot(lab: RelayLab, coturnPid: number | null): Snapshot {
  return {
    at: process.hrtime.bigint(),
    packets: lab.counters(),
    cores: coreIdleSeconds(),
    coturnCpuSeconds: coturnPid === null ? 0 : processCpuSeconds(coturnPid),
  };
}

function windowBetween(before: Snapshot, after: Snapshot, withCoturn: boolean): WindowSample {
  const seconds = Number(after.at - before.at) / 1e9;
  return {
    seconds,
    packets: countsBetween(before.packets, after.packets),
    coturnCpuPercent: withCoturn ? (100 * (after.coturnCpuSeconds - before.coturnCpuSeconds)) / seconds : null,
    coreBusyPercent: coreBusyPercent(before.cores, after.cores, seconds),
  };
}

/** Starts one generator per load, runs `body` once all are ready, and makes sure they are gone afterwards. */
async function withGenerators<T>(loads: readonly Load[], body: (generators: LabProcess[]) => Promise<T>): Promise<T> {
  const generators = loads.map(({ lab, job }) => lab.startGenerator(job));
  try {
    await Promise.all(generators.map((generator) => nextEvent(generator, "ready", 60_000)));
    return await body(generators);
  } finally {
    for (const generator of generators) {
      if (generator.child.exitCode === null && generator.child.signalCode === null) {
        generator.child.kill("SIGTERM");
        await generator.exited;
      }
    }
  }
}

/** A generator job on a lab, and the coturn whose CPU is read (none for raw UDP). */
export interface Load {
  readonly lab: RelayLab;
  readonly job: GeneratorJob;
  readonly coturnPid: number | null;
}

/**
 * Runs several loads at the same time through one warm-up and one window (each in its own lab; the window's bounds
 * are read for all of them together), and returns one measurement per load, in order.
 */
export function measureWindows(loads: readonly Load[], timing: WindowTiming): Promise<WindowMeasurement[]> {
  return withGenerators(loads, async (generators) => {
    await sleep(timing.warmupMs);
    const before = loads.map(({ lab, coturnPid }) => snapshot(lab, coturnPid));
    for (const generator of generators) signal(generator, WINDOW_START_SIGNAL);
    await sleep(timing.windowMs);
    for (const generator of generators) signal(generator, WINDOW_END_SIGNAL);
    const after = loads.map(({ lab, coturnPid }) => snapshot(lab, coturnPid));
    const results = await Promise.all(generators.map((generator, i) => nextEvent(generator, "result", loads[i].job.graceMs + 15_000)));
    return loads.map((load, i) => ({ ...windowBetween(before[i], after[i], load.coturnPid !== null), generator: results[i].result }));
  });
}

/** Runs `job` through one warm-up and one window; `coturnPid` is the coturn whose CPU is read (none for raw UDP). */
export async function measureWindow(lab: RelayLab, job: GeneratorJob, timing: WindowTiming, coturnPid: number | null): Promise<WindowMeasurement> {
  const [measurement] = await measureWindows([{ lab, job, coturnPid }], timing);
  return measurement;
}
