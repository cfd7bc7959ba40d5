/**
 * npm run status -- --stack <region or global stack> [--watch [seconds]] [--interval <seconds>] [--json]
 *
 * What every TURN server is doing, one row per server (every region's for a global stack): up, coturn's uptime,
 * active allocations, Mbit/s in and out (and as % of the VM's sustained bandwidth), relay ports used, 401/403/486
 * per minute, certificate days left, drained or serving. Each server's metrics are read twice, --interval seconds
 * apart, over SSH with the region stack's metrics read key (output `metricsAccess`), whose forced command on the VM
 * prints the metrics and nothing else: no port is opened for it. Exit 0 every server up and readable, 1 a server
 * down or unreadable (its row says why), 2 bad input.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { StackConfigError } from "../src/config/configProblems";
import { isGlobalStack, isLocalStack, type RawStackConfig } from "../src/config/rawStackConfig";
import { readStackFile, StackFileError, stackFilePath } from "../src/config/stackFile";
import { validateGlobalStackConfig } from "../src/config/validate";
import { STATUS_HEADER, shortStackName, statusTableRows, type ServerStatus } from "../src/status/serverStatus";
import { readMetricsOverSsh } from "../src/status/sshRead";
import { statusRound } from "../src/status/statusRun";
import { parseMetricsAccess, parseServers, regionTargets, stackHasScrapers, StatusInputError, type StatusTarget } from "../src/status/statusTargets";
import { joinNegativeNumbers, parseFlags, passphraseFromEnvironment, printTable, runMain, UsageError } from "./cli";

const USAGE = `usage: npm run status -- --stack <region or global stack> [--watch [seconds]] [--interval <seconds>] [--json]
  --stack <name>            a region stack (its servers) or a global stack (every server of every region it names)
  --interval <seconds>      seconds between the two reads the rates are taken over, 2 to 300 (default 10)
  --watch [seconds]         repeat until Ctrl-C, a new table every <seconds> (default: the interval)
  --count <n>               with --watch: stop after n tables
  --connect-timeout <s>     ssh ConnectTimeout, 1 to 60 (default 10)
  --json                    the same figures as JSON (numbers; one line per table with --watch)
The metrics are read over SSH with the stack's metricsAccess output (pulumi stack output metricsAccess --show-secrets);
with scrapers (coturn:monitoring.allowedCidrs) the password coturn:metricsPassword comes from the stack file
(PULUMI_CONFIG_PASSPHRASE).`;

const NUMBER_FLAGS = ["--interval", "--count", "--connect-timeout", "--watch"];

/** `--watch` takes an optional value: `--watch 30` becomes `--watch=30`, a bare `--watch` becomes `--watch=`. */
function joinOptionalWatch(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== "--watch") out.push(argv[i]);
    else if (argv[i + 1] !== undefined && /^-?\d/.test(argv[i + 1])) out.push(`--watch=${argv[++i]}`);
    else out.push("--watch=");
  }
  return out;
}

function flagsFrom(argv: string[]) {
  return parseFlags(joinNegativeNumbers(joinOptionalWatch(argv), NUMBER_FLAGS), {
    stack: { type: "string" },
    interval: { type: "string" },
    watch: { type: "string" },
    count: { type: "string" },
    "connect-timeout": { type: "string", default: "10" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
}

/** A whole number from `min` to `max`, or a UsageError naming the flag and the range. */
function wholeNumber(flag: string, value: string, min: number, max: number, example: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} ${value === "" ? '""' : value}: use a whole number of ${flag === "--count" ? "tables" : "seconds"} from ${min} to ${max} (e.g. ${flag} ${example})`);
  }
  return n;
}

/** What the command will do. */
interface Plan {
  readonly stack: string;
  readonly intervalSeconds: number;
  readonly watch: boolean;
  readonly count: number | undefined;
  readonly connectTimeoutSeconds: number;
  readonly json: boolean;
}

function planFrom(flags: ReturnType<typeof flagsFrom>): Plan {
  if (flags.stack === undefined) throw new UsageError("--stack is missing: give a region stack or a global stack (e.g. --stack aws-example)");
  const watch = flags.watch !== undefined;
  const watchSeconds = watch && flags.watch !== "" ? wholeNumber("--watch", flags.watch ?? "", 2, 300, "30") : undefined;
  const interval = flags.interval === undefined ? undefined : wholeNumber("--interval", flags.interval, 2, 300, "10");
  if (watchSeconds !== undefined && interval !== undefined && watchSeconds !== interval) {
    throw new UsageError(`--watch ${watchSeconds} and --interval ${interval}: with --watch the tables are ${watchSeconds} s apart and that is the interval; give one of them`);
  }
  if (flags.count !== undefined && !watch) throw new UsageError("--count goes with --watch (without it, status prints one table)");
  return {
    stack: flags.stack,
    intervalSeconds: watchSeconds ?? interval ?? 10,
    watch,
    count: flags.count === undefined ? undefined : wholeNumber("--count", flags.count, 1, 1_000_000, "3"),
    connectTimeoutSeconds: wholeNumber("--connect-timeout", flags["connect-timeout"] ?? "10", 1, 60, "10"),
    json: flags.json ?? false,
  };
}

/** One output of a stack through the Pulumi CLI, as JSON text; `fix` says what to do when it cannot be read. */
function stackOutput(stack: string, name: string, fix: string, secret = false): string {
  const result = spawnSync("pulumi", ["stack", "output", name, ...(secret ? ["--show-secrets"] : []), "--json", "--stack", stack], {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error || result.status !== 0) {
    const why = result.error ? "pulumi CLI not found: install it from https://www.pulumi.com/docs/install/" : result.stderr.trim().split("\n").at(-1);
    throw new UsageError(`could not read the ${name} output of stack "${stack}" (${why}): ${fix}`);
  }
  return result.stdout;
}

/** A region stack's file, if it is here (global stacks may name region stacks kept elsewhere). */
function regionStackFile(stack: string): RawStackConfig | undefined {
  const name = shortStackName(stack);
  if (!/^[A-Za-z0-9_.-]+$/.test(name) || !existsSync(stackFilePath(name))) return undefined;
  return readStackFile(name, { mode: "placeholder" });
}

/** The metrics password of a region stack with scrapers (read from its stack file), else undefined. */
function metricsPassword(stack: string, raw: RawStackConfig | undefined): string | undefined {
  if (raw === undefined || !stackHasScrapers(raw)) return undefined;
  const name = raw.stack;
  const revealed = readStackFile(name, { mode: "reveal", passphrase: passphraseFromEnvironment() });
  const password = revealed.values["coturn:metricsPassword"];
  if (password === undefined || password === "") {
    throw new UsageError(`stack "${stack}" lists scrapers (coturn:monitoring.allowedCidrs) but has no coturn:metricsPassword: set it as its VMs have it`);
  }
  return password;
}

/** Every server to read: the region stack's, or those of every region of a global stack. */
function targetsFor(plan: Plan): { targets: StatusTarget[]; global: boolean } {
  const raw = readStackFile(plan.stack, { mode: "placeholder" });
  if (isLocalStack(raw)) throw new UsageError(`stack "${plan.stack}" is the local target, which runs no monitoring: npm run status reads deployed stacks`);
  const regions = isGlobalStack(raw)
    ? validateGlobalStackConfig(raw).regions.map((r) => ({ stack: r.stack, drained: r.drain, raw: regionStackFile(r.stack) }))
    : [{ stack: plan.stack, drained: false, raw }];
  const targets = regions.flatMap((region) => {
    const fix = `run \`pulumi up\` on stack "${region.stack}" with this version first`;
    const servers = parseServers(region.stack, stackOutput(region.stack, "servers", fix));
    const access = parseMetricsAccess(region.stack, stackOutput(region.stack, "metricsAccess", fix, true));
    return regionTargets(region.stack, region.drained, servers, access, metricsPassword(region.stack, region.raw));
  });
  if (targets.length === 0) throw new UsageError(`stack "${plan.stack}" has no servers in its outputs: run \`pulumi up\` on it first`);
  return { targets, global: isGlobalStack(raw) };
}

function printRound(plan: Plan, statuses: readonly ServerStatus[], global: boolean, at: Date): void {
  const ok = statuses.every((s) => s.ok);
  if (plan.json) {
    const document = { stack: plan.stack, at: at.toISOString(), intervalSeconds: plan.intervalSeconds, ok, servers: statuses };
    console.log(plan.watch ? JSON.stringify(document) : JSON.stringify(document, null, 2));
    return;
  }
  if (plan.watch) console.log(`\n${at.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC")}  ${plan.stack}`);
  printTable(STATUS_HEADER, statusTableRows(statuses));
  const bad = statuses.filter((s) => !s.ok).length;
  console.log(bad === 0 ? `\nAll ${statuses.length} servers up.` : `\n${bad} of ${statuses.length} servers DOWN or unreadable (see note).`);
  if (global) {
    const drained = statuses.filter((s) => s.state === "drained");
    if (drained.length > 0) {
      const left = drained.reduce((n, s) => n + (s.allocations ?? 0), 0);
      const unknown = drained.some((s) => s.allocations === null);
      console.log(
        `Drained servers still hold ${left} allocations${unknown ? " (some unreadable)" : ""}` + (left === 0 && !unknown ? ": the drain is complete." : "."),
      );
    }
  }
}

async function main(): Promise<number> {
  let plan: Plan;
  let targets: StatusTarget[];
  let global: boolean;
  try {
    const flags = flagsFrom(process.argv.slice(2));
    if (flags.help) {
      console.log(USAGE);
      return 0;
    }
    plan = planFrom(flags);
    ({ targets, global } = targetsFor(plan));
  } catch (error) {
    const known = [UsageError, StackFileError, StackConfigError, StatusInputError].some((k) => error instanceof k);
    if (!known) throw error;
    console.error(`status: ${(error as Error).message}${error instanceof UsageError ? `\n${USAGE}` : ""}`);
    return 2;
  }
  // Ctrl-C: the exit hook of sshRead removes the temp files of reads in progress.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

  const read = (target: StatusTarget) =>
    readMetricsOverSsh(target.access!, { ...(target.password === undefined ? {} : { password: target.password }), connectTimeoutSeconds: plan.connectTimeoutSeconds });
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  let previous: Awaited<ReturnType<typeof statusRound>>["reads"] | undefined;
  let code = 0;
  for (let round = 1; ; round++) {
    const result = await statusRound(targets, { read, intervalSeconds: plan.intervalSeconds, log, ...(previous ? { previous } : {}) });
    printRound(plan, result.statuses, global, new Date());
    code = result.statuses.every((s) => s.ok) ? 0 : 1;
    previous = result.reads;
    if (!plan.watch || (plan.count !== undefined && round >= plan.count)) break;
  }
  return code;
}

runMain(main);
