/**
 * npm run rotate -- --stack <name> [--apps-switched] [--force] [--status]
 *
 * Rotates a stack's TURN auth secret without breaking a call, one step per run (src/credentials/rotation.ts decides
 * the step): add a new secret (the old one stays accepted), record that apps switched to it (`--apps-switched`, once
 * the deployed server accepts it), and drop the old one once every credential minted with it has expired. Reads and
 * writes the stack config through the Pulumi CLI; secrets travel to it on stdin only and are never printed. Prints
 * the stack's secrets by fingerprint, what it did and the next step.
 *
 * Exit status: 0 when a step was taken or the status was printed; 1 when the step is refused (too early, the server
 * does not accept the new secret yet, a local or invalid stack, a failed pulumi command); 2 for bad flags, an unknown
 * stack or a missing Pulumi CLI.
 */
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import { isLocalStack } from "../src/config/rawStackConfig";
import {
  acceptedFingerprintsFromOutputs,
  applyConfigChanges,
  generateAuthSecret,
  planRotation,
  resumableAdd,
  rotationInputFrom,
  type RotationFlags,
  type RotationPlan,
} from "../src/credentials/rotation";
import { PulumiCli, PulumiCliError } from "../src/pulumiCli/pulumiCli";
import { parseFlags, printTable, UsageError } from "./cli";

const USAGE = `usage: npm run rotate -- --stack <name> [--apps-switched] [--force] [--status]

Rotates the stack's coturn:authSecret in three runs, each followed by what to do next:
  1. npm run rotate -- --stack <name>                  adds a new secret (the old one stays accepted); then pulumi up
  2. npm run rotate -- --stack <name> --apps-switched  once every app mints with the new secret
  3. npm run rotate -- --stack <name>                  after coturn:maxCredentialTtl: drops the old one; then pulumi up

  --stack <name>     the Pulumi stack (its config is read and written with the pulumi CLI)
  --apps-switched    every app now mints with the new secret (refused until the deployed server accepts it)
  --force            drop the old secret before coturn:maxCredentialTtl has passed since the switch
  --status           only print the secrets and the next step; change nothing
  --help             this text

Exit status: 0 done or status printed; 1 refused (the reason is printed); 2 bad flags, unknown stack, no pulumi CLI.`;

/** A problem with the command line: exit 2. */

/** Parsed flags. */
interface Flags extends RotationFlags {
  readonly stack: string;
}

function flagsFrom(argv: readonly string[]): Flags | "help" {
  const values = parseFlags(argv, {
    stack: { type: "string" },
    "apps-switched": { type: "boolean", default: false },
    force: { type: "boolean", default: false },
    status: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  if (values.stack === undefined || values.stack === "") {
    throw new UsageError("--stack is required: name the stack whose secret to rotate, e.g. --stack aws-prod (pulumi stack ls lists them)");
  }
  if (values.status && (values["apps-switched"] || values.force)) {
    throw new UsageError("--status only prints the state; give it without --apps-switched or --force");
  }
  if (values["apps-switched"] && values.force) {
    throw new UsageError(
      "--apps-switched and --force belong to different steps (--force only skips the wait before the old secret is dropped); give one of them",
    );
  }
  return { stack: values.stack, appsSwitched: values["apps-switched"], force: values.force, status: values.status };
}

const progress = (line: string): void => void process.stderr.write(`rotate: ${line} …\n`);

/** Prints the secrets table, the report and the next steps. */
function printPlan(stack: string, plan: RotationPlan): void {
  console.log(`Secrets of stack ${stack}${plan.outcome === "changed" ? " after this run" : ""}:`);
  printTable(
    ["role", "fingerprint", "accepted by deployed server"],
    plan.secrets.map((s) => [s.role, s.fingerprint, s.accepted]),
  );
  const report = plan.report.join("\n");
  if (plan.outcome === "refused") console.error(`rotate: refused: ${report}`);
  else console.log(`\n${report}`);
  if (plan.next.length > 0) {
    console.log("\nNext:");
    plan.next.forEach((line, i) => console.log(`  ${i + 1}. ${line}`));
  }
}

function main(): number {
  let flags: Flags | "help";
  try {
    flags = flagsFrom(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`rotate: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (flags === "help") {
    console.log(USAGE);
    return 0;
  }
  const { stack } = flags;
  const cli = new PulumiCli({ log: progress });

  const raw = cli.readStackConfig(stack);
  if (isLocalStack(raw)) {
    console.error(
      `rotate: refused: stack ${stack} has coturn:cloud local: npm run local makes a fresh secret on each run, so there is nothing to rotate. ` +
        "Rotate the secrets of the stacks that pulumi up deploys.",
    );
    return 1;
  }
  const resumed = resumableAdd(raw);
  const finishing = !flags.status && !flags.appsSwitched && !flags.force;
  if (resumed !== undefined) {
    console.error(
      "rotate: note: coturn:previousAuthSecrets starts with the active coturn:authSecret and no rotation is recorded: an earlier run " +
        `was interrupted after its first write. ${finishing ? "Finishing it." : `Run npm run rotate -- --stack ${stack} to finish it.`}`,
    );
  }
  const config = validateStackConfig(resumed ?? raw);
  const outputs = cli.readStackOutputs(stack);
  const plan = planRotation(
    rotationInputFrom(config, {
      deployedFingerprints: acceptedFingerprintsFromOutputs(outputs),
      now: new Date(),
      newSecret: generateAuthSecret(),
      flags,
    }),
  );

  if (plan.outcome === "changed") {
    // The config after the step must itself be valid, or `pulumi up` would refuse it: check before writing anything.
    try {
      validateStackConfig(applyConfigChanges(raw, plan.changes));
    } catch (error) {
      if (!(error instanceof StackConfigError)) throw error;
      console.error(`rotate: refused: the config after this step would be invalid, so nothing was changed.\n${error.message}`);
      return 1;
    }
    for (const [i, change] of plan.changes.entries()) {
      try {
        if (change.op === "set") cli.setConfig(stack, change.key, change.value, { secret: change.secret }, change.what);
        else cli.removeConfig(stack, change.key, {}, change.what);
      } catch (error) {
        if (error instanceof PulumiCliError) {
          console.error(
            `rotate: stopped after ${i} of ${plan.changes.length} config changes of the ${plan.step} step (their order keeps every ` +
              `secret the server accepts in the config until the step is complete). Check the state before running a step again: ` +
              `npm run rotate -- --stack ${stack} --status`,
          );
        }
        throw error;
      }
    }
  }
  printPlan(stack, plan);
  return plan.outcome === "refused" ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (error) {
  if (error instanceof PulumiCliError) {
    console.error(`rotate: ${error.message}`);
    process.exitCode = error.failure === "no-stack" || error.failure === "not-installed" ? 2 : 1;
  } else if (error instanceof StackConfigError) {
    console.error(`rotate: refused: ${error.message}`);
    process.exitCode = 1;
  } else {
    throw error;
  }
}
