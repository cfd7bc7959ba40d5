/**
 * The program's own start-up, measured as cold processes: the real program under mocks for one region and for a
 * global stack of ten regions, against a one-resource program as the floor, each in a fresh node process through the
 * same mock harness as the tests (lab/mocks/programHarness.ts). Runs are interleaved so that drift hits every case alike; the
 * median of each is reported with its ratio to the floor's.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CLOUD_REGION_LOCATIONS } from "../../src/global/locations";
import { exampleStackValues, LAB_CLOUDFLARE_TOKEN } from "../exampleStack";
import { PROGRAM_HARNESS } from "../mocks/programHarnessPath";
import { median } from "./relayStatistics";

const ROOT = join(__dirname, "..", "..");

/** One measured case. */
export interface StartupCase {
  /** What runs. */
  readonly name: string;
  /** The harness's config (stack, values, secret keys, stack references). */
  readonly config: Record<string, unknown>;
  /** Program module; default: index.ts. */
  readonly program?: string;
}

/** A case's result. */
export interface StartupResult {
  readonly name: string;
  /** Wall-clock ms of each run, from spawn to exit. */
  readonly runsMs: readonly number[];
  /** Median ms. */
  readonly medianMs: number;
  /** Median over the floor's median. */
  readonly ratio: number;
}

/** The region example with a test secret, as `pulumi up` would see it. */
function regionCase(): StartupCase {
  return { name: "one region (aws-example)", config: { ...exampleStackValues("aws-example") } };
}

/** A global stack in front of ten regions, their outputs as StackReferences would read them. */
function globalCase(): StartupCase {
  const places = Object.keys(CLOUD_REGION_LOCATIONS).filter((_, i) => i % 9 === 0).slice(0, 10);
  const references: Record<string, Record<string, unknown>> = {};
  const regions = places.map((place, i) => {
    const [cloud, region] = place.split("/");
    const stack = `organization/coturn/${cloud}-${region}`;
    references[stack] = {
      cloud,
      region,
      domain: "turn.example.com",
      regionDomain: `${region}.turn.example.com`,
      servers: [{ name: `${cloud}-${region}`, domain: `${region}.turn.example.com`, publicIp: `198.51.100.${i + 1}` }],
      listeners: ["udp", "tcp", "tls"],
      acceptedSecretFingerprints: ["0123456789abcdef"],
      dnsRecords: [],
    };
    return { stack };
  });
  const values = {
    "coturn:cloud": "global",
    "coturn:domain": "turn.example.com",
    "coturn:regions": JSON.stringify(regions),
    "coturn:cloudflareZoneId": "023e105f4ecef8ad9ca31a8372d0c353",
    "coturn:cloudflareAccountId": "01a7362d577a6c3019a474fd6f485823",
    "coturn:cloudflareApiToken": LAB_CLOUDFLARE_TOKEN,
  };
  return { name: "global stack, ten regions", config: { stack: "global", values, secretKeys: ["coturn:cloudflareApiToken"], stackReferences: references } };
}

/** The floor: one resource, no provider SDK. */
function floorCase(): StartupCase {
  return { name: "floor: one-resource program", config: { stack: "floor", values: {}, secretKeys: [] }, program: join(__dirname, "minimalProgram.ts") };
}

/** One cold run; throws when the program did not run cleanly (a failing program would time nothing useful). */
function runOnce(startup: StartupCase): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, ["--import", "tsx", PROGRAM_HARNESS], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, HARNESS_CONFIG: JSON.stringify(startup.config), ...(startup.program ? { HARNESS_PROGRAM: startup.program } : {}) },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const run = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as { error?: string; resources?: unknown[] };
  if (result.status !== 0 || run.error || !run.resources?.length) {
    throw new Error(`${startup.name} did not run cleanly: ${run.error ?? result.stderr.slice(0, 500)}`);
  }
  return ms;
}

/** Measures every case `runs` times, interleaved, after one warm-up of each (file cache, tsx cache). */
export function measureStartup(runs: number, onRun: (name: string, ms: number) => void = () => undefined): StartupResult[] {
  const cases = [floorCase(), regionCase(), globalCase()];
  for (const c of cases) runOnce(c);
  const times = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const c of cases) {
      const ms = runOnce(c);
      times.get(c.name)?.push(ms);
      onRun(c.name, ms);
    }
  }
  const floor = median(times.get(cases[0].name) ?? []);
  return cases.map((c) => {
    const runsMs = times.get(c.name) ?? [];
    return { name: c.name, runsMs, medianMs: median(runsMs), ratio: median(runsMs) / floor };
  });
}

/** Start-up of one region may take at most this many times the floor's. */
export const STARTUP_TARGET_RATIO = 2;
