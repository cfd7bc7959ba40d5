/**
 * CPU time from /proc — a process's user+system time (all its threads) and each core's idle time — so that the bench
 * can say how much of a core coturn used in a window and how busy each core was; and the bench's core layout.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc's time fields (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** Seconds of CPU a process (every thread) has used so far: utime + stime of /proc/<pid>/stat. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may hold spaces and parentheses; the fields after its closing ")" start with field 3 (state).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** One core's idle time so far, in seconds. */
export type CoreIdleSeconds = number;

/**
 * Each core's idle time so far (idle + iowait of the cpuN lines of /proc/stat), indexed by core number. Idle time is
 * the precise field here: with a tickless kernel it is measured at idle entry and exit, while user and system time
 * are sampled at the timer tick, which a workload paced by 1 ms timers can fool.
 */
export function coreIdleSeconds(): CoreIdleSeconds[] {
  const cores: CoreIdleSeconds[] = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const match = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    // user nice system idle iowait irq softirq steal …
    const fields = match[2].split(/\s+/).map(Number);
    cores[Number(match[1])] = (fields[3] + fields[4]) / TICKS_PER_SECOND;
  }
  return cores;
}

/** Each core's busy share (100 % minus its idle share) over `seconds` of wall-clock time between two samples. */
export function coreBusyPercent(before: readonly CoreIdleSeconds[], after: readonly CoreIdleSeconds[], seconds: number): number[] {
  return after.map((idle, i) => Math.min(100, Math.max(0, 100 * (1 - (idle - before[i]) / seconds))));
}

/** Which cores the bench gives to coturn and to everything else. */
export interface CpuLayout {
  /** Cores this process may run on (its affinity when the bench started). */
  readonly cores: readonly number[];
  /** The core coturn is pinned to, or null on a single core (nothing is pinned then). */
  readonly serverCore: number | null;
  /** The cores the generator, the echo peer and the bench itself run on (null: not pinned). */
  readonly generatorCores: readonly number[] | null;
}

/** The cores this process may run on, from its `Cpus_allowed_list` (e.g. "0-3,6"). */
export function allowedCores(status = readFileSync("/proc/self/status", "utf8")): number[] {
  const list = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? "0";
  return list.split(",").flatMap((part) => {
    const [from, to] = part.split("-").map(Number);
    return to === undefined ? [from] : Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/**
 * coturn alone on the last allowed core, everything else on the others, so that the generator never takes CPU from
 * coturn. On a single core nothing is pinned. Decide this before the bench pins itself (which narrows its affinity).
 */
export function cpuLayout(cores: readonly number[]): CpuLayout {
  if (cores.length < 2) return { cores, serverCore: null, generatorCores: null };
  return { cores, serverCore: cores[cores.length - 1], generatorCores: cores.slice(0, -1) };
}

/** `taskset -c <cores>` in front of a command, or nothing when not pinned. */
export function pinnedTo(cores: readonly number[] | null): string[] {
  return cores === null ? [] : ["taskset", "-c", cores.join(",")];
}

/**
 * Seconds of CPU used so far by this process's children that have ended and been waited for (cutime + cstime of
 * /proc/self/stat, which include their own waited-for descendants): read around a synchronous child, it is that
 * child's whole CPU time.
 */
export function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

/** `pid` and every living descendant of it (from the parent pids of /proc/<n>/stat). */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
    } catch {
      // Gone meanwhile.
    }
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && tree.length < 1000) {
    const next = queue.shift() as number;
    tree.push(next);
    queue.push(...(parents.get(next) ?? []));
  }
  return tree;
}

/** Seconds of CPU used so far by `pids` together (those that have ended count nothing). */
export function processesCpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += processCpuSeconds(pid);
    } catch {
      // Ended.
    }
  }
  return total;
}
