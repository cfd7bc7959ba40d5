/**
 * npm run destroy-test-stacks -- [--match <glob>] [--older-than <duration>] [--yes]
 *
 * Lists the stacks of the current backend with their tags, selects the test stacks (tag coturn:ephemeral) whose
 * expiry has passed, plus those that --match / --older-than name, prints the plan, and destroys them only with
 * --yes. A stack without the test-stack marker is never destroyed. Exits 0 when everything selected was destroyed (or
 * on a dry run), 1 when a stack failed, 2 for bad input or an unusable CLI.
 */
import { parseDuration, type Duration } from "../src/config/duration";
import { destroySelected, OUTCOME_HEADER, outcomeRows, PLAN_HEADER, planRows } from "../src/ephemeral/cleanup";
import { connectBackend, PulumiBackendError, pulumiErrorText } from "../src/ephemeral/pulumiBackend";
import { decide } from "../src/ephemeral/selection";
import { parseFlags, printTable, runMain, UsageError } from "./cli";

const USAGE = `usage: npm run destroy-test-stacks -- [--match <glob>] [--older-than <duration>] [--yes]
  (no flags)               select the test stacks (tag coturn:ephemeral) whose expiry has passed
  --match <glob>           also select test stacks whose name matches (* and ?), e.g. --match 'ci-*'
  --older-than <duration>  also select test stacks last updated at least this long ago (90m, 4h, 2d);
                           with --match, a stack must match both
  --yes                    destroy the selected stacks and remove them (default: print the plan only)
Stacks without the coturn:ephemeral tag are never destroyed, whatever the flags.`;

/** Stack name globs: the characters of stack names, and * and ?. */
const GLOB = /^[A-Za-z0-9_.\-/*?]+$/;

interface Options {
  readonly match?: string;
  readonly olderThan?: Duration;
  readonly yes: boolean;
}

function optionsFrom(argv: string[]): Options | "help" {
  const flags = parseFlags(argv, {
    match: { type: "string" },
    "older-than": { type: "string" },
    yes: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (flags.help) return "help";
  if (flags.match !== undefined && !GLOB.test(flags.match)) {
    throw new UsageError(`--match ${JSON.stringify(flags.match)}: use a stack name pattern of letters, digits, _ . - / and the wildcards * and ?, e.g. --match 'ci-*'`);
  }
  let olderThan: Duration | undefined;
  if (flags["older-than"] !== undefined) {
    const parsed = parseDuration(flags["older-than"]);
    if ("problem" in parsed) throw new UsageError(`--older-than ${flags["older-than"]}: ${parsed.problem}`);
    olderThan = parsed;
  }
  return { ...(flags.match === undefined ? {} : { match: flags.match }), ...(olderThan ? { olderThan } : {}), yes: flags.yes };
}

async function main(): Promise<number> {
  let options: Options | "help";
  try {
    options = optionsFrom(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`destroy-test-stacks: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const log = (line: string): void => void process.stderr.write(`${line}\n`);

  let backend;
  let listing;
  try {
    log("Listing the stacks of the current backend and their tags …");
    backend = await connectBackend();
    listing = await backend.listStacks();
  } catch (error) {
    console.error(`destroy-test-stacks: ${error instanceof PulumiBackendError ? error.message : pulumiErrorText(error)}`);
    return 2;
  }
  const now = new Date();
  const selection = { ...(options.match ? { match: options.match } : {}), ...(options.olderThan ? { olderThan: options.olderThan } : {}) };
  const decisions = decide(listing.stacks, { now, ...selection });
  const chosen = decisions.filter((d) => d.action === "destroy");

  console.log(`Stacks of this project (pulumi v${backend.version}), judged at ${now.toISOString().slice(0, 19)}Z:\n`);
  if (decisions.length === 0) console.log("(no stacks)");
  else printTable(PLAN_HEADER, planRows(decisions, now));
  if (chosen.length === 0) {
    console.log("\nNothing to destroy.");
    return 0;
  }
  if (!options.yes) {
    console.log(`\nDry run: nothing was destroyed. ${chosen.length} stack${chosen.length === 1 ? "" : "s"} would be destroyed and removed; run again with --yes to do it.`);
    return 0;
  }

  console.log("");
  const outcomes = await destroySelected(backend, decisions, { ...selection, now: () => new Date() }, log);
  if (listing.selected && !outcomes.some((o) => o.stack === listing.selected && o.result === "destroyed")) {
    // The Automation API selects each stack it works on; give the user back the stack they had selected.
    await backend.select(listing.selected).catch((error: unknown) => log(`could not select ${listing.selected} again: ${pulumiErrorText(error)}`));
  }
  console.log("\nSummary:\n");
  printTable(OUTCOME_HEADER, outcomeRows(outcomes));
  const count = (result: string): number => outcomes.filter((o) => o.result === result).length;
  console.log(`\nDestroyed ${count("destroyed")}, failed ${count("failed")}, skipped ${count("skipped")}.`);
  return count("failed") === 0 ? 0 : 1;
}

runMain(main);
