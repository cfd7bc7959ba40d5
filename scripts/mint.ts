/**
 * npm run mint -- --stack <name> [--user <id>] [--ttl <seconds>]
 *
 * Prints a credentialed `iceServers` JSON array for a deployed stack on stdout (the shape `npm run local -- --json`
 * prints and `npm run probe -- --ice-servers <file>` reads): the stack's `iceServers` output with a credential minted
 * from its active secret. For trying a server, or for an app without its own minting code; apps normally mint with
 * `mintIceServers` from src/credentials/turnRest.ts. Every other line goes to stderr.
 *
 * Exit status: 0 printed; 1 refused (a local or invalid stack, not deployed, the server does not accept the active
 * secret yet, a failed pulumi command); 2 for bad flags, an unknown stack or a missing Pulumi CLI.
 */
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import { isLocalStack } from "../src/config/rawStackConfig";
import { ACCEPTED_FINGERPRINTS_OUTPUT, acceptedFingerprintsFromOutputs, formatDuration, formatUtc } from "../src/credentials/rotation";
import { MAX_CREDENTIAL_TTL_SECONDS } from "../src/config/credentialLifetime";
import {
  CredentialError,
  mintIceServers,
  secretFingerprint,
  ttlProblem,
  userIdProblem,
  type IceServerUrls,
} from "../src/credentials/turnRest";
import { PulumiCli, PulumiCliError } from "../src/pulumiCli/pulumiCli";
import { parseFlags, UsageError } from "./cli";

const DEFAULTS = { user: "operator", ttl: "3600" } as const;

const USAGE = `usage: npm run mint -- --stack <name> [--user <id>] [--ttl <seconds>]

Prints the deployed stack's iceServers with a freshly minted credential (JSON on stdout; everything else on stderr):
  npm run --silent mint -- --stack <name> > ice.json && npm run probe -- --ice-servers ice.json

  --stack <name>     a deployed stack (read with the pulumi CLI)
  --user <id>        user id in the credential, without ':' or spaces (default ${DEFAULTS.user})
  --ttl <seconds>    lifetime, at most the stack's coturn:maxCredentialTtl (default ${DEFAULTS.ttl})
  --help             this text

Exit status: 0 printed; 1 refused (the reason is printed); 2 bad flags, unknown stack, no pulumi CLI.`;

/** A problem with the command line: exit 2, with the usage. */

/** A flag value the stack does not allow: exit 2. */
class InputError extends Error {}

/** A state of the stack in which no working credential can be minted: exit 1. */
class Refusal extends Error {}

/** Parsed flags. */
interface Flags {
  readonly stack: string;
  readonly user: string;
  readonly ttlSeconds: number;
}

function flagsFrom(argv: readonly string[]): Flags | "help" {
  const values = parseFlags(argv, {
    stack: { type: "string" },
    user: { type: "string", default: DEFAULTS.user },
    ttl: { type: "string", default: DEFAULTS.ttl },
    help: { type: "boolean", default: false },
  });
  if (values.help) return "help";
  if (values.stack === undefined || values.stack === "") {
    throw new UsageError("--stack is required: name the deployed stack to mint for, e.g. --stack aws-prod (pulumi stack ls lists them)");
  }
  const ttlSeconds = /^\d{1,9}$/.test(values.ttl) ? Number(values.ttl) : NaN;
  if (ttlProblem(ttlSeconds) !== undefined) {
    const why = Number.isNaN(ttlSeconds) ? "is not a whole number of seconds" : ttlSeconds <= 0 ? "is not positive" : "is too long";
    throw new UsageError(
      `--ttl ${JSON.stringify(values.ttl)} ${why}: use a whole number of seconds from 1 to ${MAX_CREDENTIAL_TTL_SECONDS} (a day), e.g. --ttl 3600 for one hour`,
    );
  }
  const user = userIdProblem(values.user);
  if (user !== undefined) throw new UsageError(`--user ${JSON.stringify(values.user)}: ${user}`);
  return { stack: values.stack, user: values.user, ttlSeconds };
}

/** The stack's `iceServers` output, checked, or a refusal saying to deploy. */
function deployedTemplate(stack: string, outputs: Readonly<Record<string, unknown>>): IceServerUrls[] {
  const value = outputs.iceServers;
  if (value === undefined) {
    throw new Refusal(
      `stack ${stack} has no iceServers output: it has not been deployed (or its last update failed). Run pulumi up --stack ${stack}, then mint again`,
    );
  }
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((s: unknown) => {
      const urls = (s as { urls?: unknown } | null)?.urls;
      return typeof urls === "string" || (Array.isArray(urls) && urls.every((u) => typeof u === "string"));
    });
  if (!valid) {
    throw new Refusal(
      `the iceServers output of stack ${stack} is not a list of { urls } (${value === "[secret]" ? "it is a secret output" : `got ${JSON.stringify(value).slice(0, 80)}`}). ` +
        `Run pulumi up --stack ${stack} with this version of the program`,
    );
  }
  return value as IceServerUrls[];
}

const progress = (line: string): void => void process.stderr.write(`mint: ${line} …\n`);

function main(): number {
  const flags = flagsFrom(process.argv.slice(2));
  if (flags === "help") {
    console.log(USAGE);
    return 0;
  }
  const { stack, user, ttlSeconds } = flags;
  const cli = new PulumiCli({ log: progress });
  const raw = cli.readStackConfig(stack);
  if (isLocalStack(raw)) {
    throw new Refusal(
      `stack ${stack} has coturn:cloud local, whose secret lives for one run: npm run --silent local -- --json prints its iceServers with a credential`,
    );
  }
  const config = validateStackConfig(raw);
  if (ttlSeconds > config.maxCredentialTtlSeconds) {
    throw new InputError(
      `--ttl ${ttlSeconds} is above coturn:maxCredentialTtl of stack ${stack} (${config.maxCredentialTtlSeconds} s), the longest lifetime its apps mint. ` +
        `Use --ttl ${config.maxCredentialTtlSeconds} or less, or raise the limit: pulumi config set coturn:maxCredentialTtl ${ttlSeconds} --stack ${stack}`,
    );
  }
  const outputs = cli.readStackOutputs(stack);
  const template = deployedTemplate(stack, outputs);
  const secret = config.authSecrets[0];
  const fingerprint = secretFingerprint(secret);
  const accepted = acceptedFingerprintsFromOutputs(outputs);
  if (accepted === undefined) {
    throw new Refusal(
      `stack ${stack} has no ${ACCEPTED_FINGERPRINTS_OUTPUT} output, so whether its server accepts the active secret ${fingerprint} is unknown. ` +
        `Run pulumi up --stack ${stack}, then mint again`,
    );
  }
  if (!accepted.includes(fingerprint)) {
    throw new Refusal(
      `the deployed server of stack ${stack} does not accept the active secret ${fingerprint} yet (it accepts ${accepted.join(", ") || "none"}), ` +
        `so it would answer 401 to this credential. Run pulumi up --stack ${stack}, then mint again`,
    );
  }
  const minted = mintIceServers({ secret, user, ttlSeconds, template });
  process.stdout.write(`${JSON.stringify(minted.iceServers, null, 2)}\n`);
  process.stderr.write(
    `mint: credential for user ${user}, minted with secret ${fingerprint}; it expires at ${formatUtc(minted.expiresAt)} ` +
      `(UTC, in ${formatDuration(minted.expiresAt.getTime() - Date.now())}). Allocations made before then keep running.\n`,
  );
  return 0;
}

try {
  process.exitCode = main();
} catch (error) {
  if (error instanceof UsageError) {
    console.error(`mint: ${error.message}\n${USAGE}`);
    process.exitCode = 2;
  } else if (error instanceof InputError) {
    console.error(`mint: ${error.message}`);
    process.exitCode = 2;
  } else if (error instanceof Refusal || error instanceof StackConfigError || error instanceof CredentialError) {
    console.error(`mint: refused: ${error.message}`);
    process.exitCode = 1;
  } else if (error instanceof PulumiCliError) {
    console.error(`mint: ${error.message}`);
    process.exitCode = error.failure === "no-stack" || error.failure === "not-installed" ? 2 : 1;
  } else {
    throw error;
  }
}
