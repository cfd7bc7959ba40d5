/**
 * npm run test-stack -- up --from <example> [--name <stack>] [--ttl <duration>]
 * npm run test-stack -- down --stack <name>
 * npm run test-stack -- run --from <example> [--name <stack>] [--ttl <duration>]
 *
 * A throw-away region for CI: `up` makes a uniquely named test stack from an example stack file (its own DNS name,
 * the smallest VM, an expiry in its tags), runs `pulumi up` and the probe; `down` destroys and removes it (test
 * stacks only); `run` does both and always ends with `down`, whatever failed before it. Exits 0 on success, 1 when a
 * step failed, 2 for bad input or an unusable CLI.
 */
import { randomBytes } from "node:crypto";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { StackFileError } from "../src/config/stackFile";
import { StackConfigError } from "../src/config/configProblems";
import { destroySelected, OUTCOME_HEADER, outcomeRows } from "../src/ephemeral/cleanup";
import { parseDuration, type Duration } from "../src/config/duration";
import { connectBackend, PulumiBackendError, pulumiErrorText, type StackBackend } from "../src/ephemeral/pulumiBackend";
import { decide } from "../src/ephemeral/selection";
import { EXPIRES_AT_TAG } from "../src/config/stackTags";
import { TEST_STACK_NAME, uniqueTestStackName, writeTestStackFile } from "../src/ephemeral/testStackFile";
import { PROJECT_DIR } from "../src/pulumiCli/pulumiCli";
import { parseFlags, printTable, runMain, UsageError } from "./cli";

const DEFAULT_TTL = "2h";
const USAGE = `usage: npm run test-stack -- up --from <example stack> [--name <stack>] [--ttl <duration>]
       npm run test-stack -- down --stack <name>
       npm run test-stack -- run --from <example stack> [--name <stack>] [--ttl <duration>]
  up     create a test stack from stacks/Pulumi.<example stack>.yaml, pulumi up, probe it
  down   destroy a test stack and remove it (refuses any stack without the coturn:ephemeral tag)
  run    up, then down whatever happened: what a CI job runs on each change
  --from <example stack>  the stack file to copy (config and secrets; its passphrase in PULUMI_CONFIG_PASSPHRASE)
  --name <stack>          the new stack's name (default: <example>-test-<time>-<random>; lowercase, digits, -)
  --ttl <duration>        its time to live, after which destroy-test-stacks removes it (default: ${DEFAULT_TTL})
  --stack <name>          (down) the test stack to destroy`;

type Command =
  | { readonly action: "up" | "run"; readonly from: string; readonly name: string; readonly ttl: Duration }
  | { readonly action: "down"; readonly stack: string }
  | { readonly action: "help" };

function commandFrom(argv: string[]): Command {
  const [action, ...rest] = argv;
  if (action === "--help" || action === "help") return { action: "help" };
  if (action !== "up" && action !== "down" && action !== "run") {
    throw new UsageError(action === undefined ? "say what to do: up, down or run" : `"${action}" is not up, down or run`);
  }
  const flags = parseFlags(rest, { from: { type: "string" }, name: { type: "string" }, ttl: { type: "string" }, stack: { type: "string" } });
  if (action === "down") {
    if (flags.from !== undefined || flags.name !== undefined || flags.ttl !== undefined) throw new UsageError("down takes only --stack <name>");
    if (!flags.stack) throw new UsageError("down needs --stack <name> (the name up printed)");
    return { action, stack: flags.stack };
  }
  if (flags.stack !== undefined) throw new UsageError(`${action} makes a new stack: name it with --name, and give the example with --from`);
  if (!flags.from) throw new UsageError(`${action} needs --from <example stack>, e.g. --from aws-example (stacks/Pulumi.aws-example.yaml)`);
  const ttl = parseDuration(flags.ttl ?? DEFAULT_TTL);
  if ("problem" in ttl) throw new UsageError(`--ttl ${flags.ttl}: ${ttl.problem}`);
  const name = flags.name ?? uniqueTestStackName(flags.from, new Date(), randomBytes(2).toString("hex"));
  if (!TEST_STACK_NAME.test(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)}: use lowercase letters, digits and -, at most 63 (it is also the stack's DNS label)`);
  }
  return { action, from: flags.from, name, ttl };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Creates the stack and deploys it; returns its outputs, or undefined after reporting a failure. */
async function up(backend: StackBackend, from: string, name: string, ttl: Duration): Promise<Record<string, unknown> | undefined> {
  const written = writeTestStackFile(from, name, ttl, new Date());
  log(`Wrote ${written.file}: a copy of ${from} with time to live ${ttl.text} (expires ${written.tags[EXPIRES_AT_TAG]}), DNS name ${written.regionDomain}, VM ${written.config.instanceType}`);
  try {
    log(`Creating stack ${name} …`);
    await backend.createStack(name);
  } catch (error) {
    rmSync(written.file, { force: true });
    throw error;
  }
  // pulumi:tags in the file reaches Pulumi Cloud's tags at each update; self-managed backends only keep tags set directly.
  log(`Tagging ${name} as a test stack (${Object.entries(written.tags).map(([k, v]) => `${k}=${v}`).join(", ")}) …`);
  try {
    await backend.setTags(name, written.tags);
  } catch (error) {
    // Untagged, no cleanup could ever take it: remove it while it is still empty.
    await backend.removeEmptyStack(name).catch(() => undefined);
    throw error;
  }
  log(`pulumi up on ${name}; this takes minutes …`);
  try {
    return await backend.up(name, (line) => log(`    ${name} | ${line}`));
  } catch (error) {
    log(`pulumi up on ${name} FAILED: ${pulumiErrorText(error)}`);
    return undefined;
  }
}

/** Runs the probe against the new stack (as the operator command does); true when every check passed. */
function probe(name: string, insecureTls: boolean): boolean {
  log(`Probing ${name} …`);
  const result = spawnSync(process.execPath, ["--import", "tsx", join(PROJECT_DIR, "scripts", "probe.ts"), "--stack", name, ...(insecureTls ? ["--insecure-tls"] : [])], {
    cwd: PROJECT_DIR,
    stdio: "inherit",
  });
  return result.status === 0;
}

/** Destroys a test stack by name; refuses anything else. Returns the exit code. */
async function down(backend: StackBackend, stack: string): Promise<number> {
  const { stacks } = await backend.listStacks();
  const listed = stacks.find((s) => s.name === stack);
  if (!listed) {
    console.error(`test-stack: no stack named "${stack}" in this project's backend (npm run destroy-test-stacks lists them)`);
    return 2;
  }
  const decisions = decide([listed], { now: new Date(), match: stack });
  if (decisions[0].action !== "destroy") {
    console.error(`test-stack: ${stack} is not destroyed: ${decisions[0].reason}. Only test stacks are; a lasting stack is removed with pulumi destroy`);
    return 2;
  }
  const outcomes = await destroySelected(backend, decisions, { match: stack, now: () => new Date() }, log);
  printTable(OUTCOME_HEADER, outcomeRows(outcomes));
  return outcomes.every((o) => o.result === "destroyed") ? 0 : 1;
}

async function main(): Promise<number> {
  let command: Command;
  try {
    command = commandFrom(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`test-stack: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (command.action === "help") {
    console.log(USAGE);
    return 0;
  }
  let backend: StackBackend;
  try {
    backend = await connectBackend();
    if (command.action === "down") return await down(backend, command.stack);
  } catch (error) {
    console.error(`test-stack: ${error instanceof PulumiBackendError ? error.message : pulumiErrorText(error)}`);
    return 2;
  }

  let outputs: Record<string, unknown> | undefined;
  try {
    outputs = await up(backend, command.from, command.name, command.ttl);
  } catch (error) {
    if (!(error instanceof StackFileError || error instanceof StackConfigError || error instanceof Error)) throw error;
    console.error(`test-stack: ${error instanceof StackFileError || error instanceof StackConfigError ? error.message : pulumiErrorText(error)}`);
    return 2;
  }
  // A test stack's certificate is self-signed or from Let's Encrypt's staging CA: trusted by no client.
  const probed = outputs !== undefined && probe(command.name, true);
  if (outputs) {
    printTable(
      ["stack", "public IP", "DNS name", "probe"],
      [[command.name, String(outputs.publicIp ?? "?"), String(outputs.regionDomain ?? "?"), probed ? "passed" : "FAILED"]],
    );
  }
  if (command.action === "up") {
    console.log(`\nRemove it with: npm run test-stack -- down --stack ${command.name}`);
    return probed ? 0 : 1;
  }
  const downCode = await down(backend, command.name).catch((error: unknown) => {
    console.error(`test-stack: destroying ${command.name} FAILED: ${pulumiErrorText(error)}; npm run destroy-test-stacks removes it once it expires`);
    return 1;
  });
  return probed && downCode === 0 ? 0 : 1;
}

runMain(main);
