/**
 * A CPU budget for coturn: a cgroup whose CFS bandwidth limit lets its processes use at most a given share of one
 * core (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`). The bench gives coturn a budget smaller
 * than what the load generator can feed, so that the relay — not the generator — is what saturates, even on a
 * machine of two cores where an unbudgeted coturn and the generator cost about the same per packet.
 */
import { existsSync, readFileSync, readdirSync, rmdirSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A cgroup with a CPU limit. */
export interface CpuBudget {
  /** The limit, in percent of one core. */
  readonly percentOfCore: number;
  /** Where the cgroup lives. */
  readonly path: string;
  /** Moves a process (all its threads) into the budget. */
  add(pid: number): void;
  /** Removes the cgroup (once no process is left in it). */
  remove(): void;
}

const CGROUP_V2_ROOT = "/sys/fs/cgroup";
const CGROUP_V1_CPU_ROOT = "/sys/fs/cgroup/cpu";
/**
 * The CFS period. Short, because a coturn that reaches its budget waits for the next period, and those waits show in
 * round-trip tails (up to 80 ms with the default 100 ms period; at most 8 ms here for a 20% budget). Long enough for
 * a 250 Hz scheduler tick to enforce: a 20% budget measured 19.5-20.3% at saturation.
 */
const PERIOD_MICROSECONDS = 10_000;

function cgroupV2HasCpu(): boolean {
  const controllers = join(CGROUP_V2_ROOT, "cgroup.subtree_control");
  return existsSync(controllers) && readFileSync(controllers, "utf8").split(/\s+/).includes("cpu");
}

/** Why a CPU budget cannot be made here, or undefined when it can. */
export function cpuBudgetProblem(): string | undefined {
  if (cgroupV2HasCpu() || existsSync(join(CGROUP_V1_CPU_ROOT, "cpu.cfs_quota_us"))) return undefined;
  return (
    `no cgroup CPU controller: neither ${CGROUP_V2_ROOT}/cgroup.subtree_control lists "cpu" (cgroup v2) ` +
    `nor ${CGROUP_V1_CPU_ROOT}/cpu.cfs_quota_us exists (cgroup v1); the bench needs one to give coturn a CPU budget`
  );
}

/** Creates the cgroup `name` limited to `percentOfCore` percent of one core. */
export function createCpuBudget(name: string, percentOfCore: number): CpuBudget {
  const quota = Math.round((PERIOD_MICROSECONDS * percentOfCore) / 100);
  const v2 = cgroupV2HasCpu();
  const path = join(v2 ? CGROUP_V2_ROOT : CGROUP_V1_CPU_ROOT, name);
  if (!existsSync(path)) mkdirSync(path);
  if (v2) {
    writeFileSync(join(path, "cpu.max"), `${quota} ${PERIOD_MICROSECONDS}`);
  } else {
    writeFileSync(join(path, "cpu.cfs_period_us"), String(PERIOD_MICROSECONDS));
    writeFileSync(join(path, "cpu.cfs_quota_us"), String(quota));
  }
  return {
    percentOfCore,
    path,
    add: (pid) => writeFileSync(join(path, "cgroup.procs"), String(pid)),
    remove: () => {
      if (existsSync(path)) rmdirSync(path);
    },
  };
}

/** Removes empty budgets whose names start with `prefix` (left behind by a bench that was killed). */
export function removeStaleBudgets(prefix: string): void {
  const root = cgroupV2HasCpu() ? CGROUP_V2_ROOT : CGROUP_V1_CPU_ROOT;
  if (!existsSync(root)) return;
  for (const entry of readdirSync(root)) {
    if (!entry.startsWith(prefix)) continue;
    try {
      rmdirSync(join(root, entry));
    } catch {
      // Still has processes (another bench running): leave it.
    }
  }
}
