/**
 * npm run local -- [--stack local] [--listen 127.0.0.1] [--user local-dev] [--ttl 43200] [--json]
 *
 * Runs coturn on this machine for a local stack (`coturn:cloud: local`), rendered from the same templates and with
 * the same hardening as a cloud stack, as an ordinary process with a self-signed certificate and a fresh secret, and
 * prints a ready-to-paste `iceServers` JSON with freshly minted credentials. Ctrl-C (or SIGTERM) stops coturn and
 * deletes its temp folder. The logic lives in src/local/.
 */
import { StackFileError } from "../src/config/stackFile";
import { StackConfigError } from "../src/config/configProblems";
import { MAX_CREDENTIAL_TTL_SECONDS } from "../src/config/credentialLifetime";
import { CredentialError, iceServersWithCredential, mintTurnCredential } from "../src/credentials/turnRest";
import { DEFAULT_LISTEN_ADDRESS } from "../src/local/listenAddress";
import { loadLocalStack, newLocalAuthSecret } from "../src/local/localStack";
import { LocalTargetAborted, LocalTargetError, startLocalTarget, type LocalTarget } from "../src/local/localTarget";
import { listeningLine, usageLines } from "../src/local/summary";
import { iceServersTemplate } from "../src/plan/endpoints";
import { parseFlags, runMain, UsageError } from "./cli";

const DEFAULTS = { stack: "local", listen: DEFAULT_LISTEN_ADDRESS, user: "local-dev", ttl: "43200" } as const;

const USAGE = `usage: npm run local -- [--stack <name>] [--listen <ipv4>] [--user <id>] [--ttl <seconds>] [--json]

Runs coturn on this machine for a local stack (coturn:cloud local; default stacks/Pulumi.${DEFAULTS.stack}.yaml)
and prints an iceServers JSON with fresh credentials. Ctrl-C stops it.

  --stack <name>     local stack in stacks/ (default ${DEFAULTS.stack})
  --listen <ipv4>    address of this machine to listen and relay on (default ${DEFAULTS.listen})
  --user <id>        user id in the credential (default ${DEFAULTS.user})
  --ttl <seconds>    credential lifetime, 1-${MAX_CREDENTIAL_TTL_SECONDS} (default ${DEFAULTS.ttl})
  --json             only the iceServers JSON on stdout; every other line on stderr
  --help             this text

Exit status: 0 after Ctrl-C or SIGTERM; 1 for an invalid stack or when coturn fails;
2 for a bad flag or when this machine cannot run it (coturn missing, a port in use).`;

type Flags = { stack: string; listen: string; user: string; ttlSeconds: number; json: boolean };

/** Parses the flags; returns them, or the exit code after printing the problem (or the help). */
function flagsFrom(argv: readonly string[]): Flags | number {
  let values;
  try {
    values = parseFlags(argv, {
    stack: { type: "string", default: DEFAULTS.stack },
    listen: { type: "string", default: DEFAULTS.listen },
    user: { type: "string", default: DEFAULTS.user },
    ttl: { type: "string", default: DEFAULTS.ttl },
    json: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`local: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const ttlSeconds = /^\d{1,6}$/.test(values.ttl) ? Number(values.ttl) : NaN;
  if (!(ttlSeconds >= 1 && ttlSeconds <= MAX_CREDENTIAL_TTL_SECONDS)) {
    console.error(
      `local: --ttl ${JSON.stringify(values.ttl)} is not a whole number of seconds from 1 to ${MAX_CREDENTIAL_TTL_SECONDS} (a day): ` +
        `use e.g. --ttl 3600 for one hour`,
    );
    return 2;
  }
  return { stack: values.stack, listen: values.listen, user: values.user, ttlSeconds, json: values.json };
}

async function main(): Promise<number> {
  const flags = flagsFrom(process.argv.slice(2));
  if (typeof flags === "number") return flags;
  // With --json, stdout carries the JSON alone, so that `npm run --silent local -- --json > ice.json` works.
  const status = (line: string): void => {
    (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
  };

  // Made here, handed to validation and coturn's config, never printed or logged.
  const secret = newLocalAuthSecret();
  let config;
  try {
    config = loadLocalStack(flags.stack, secret);
  } catch (error) {
    if (error instanceof StackConfigError || error instanceof StackFileError) {
      console.error(`local: ${error.message}`);
      return 1;
    }
    throw error;
  }
  let credential;
  try {
    credential = mintTurnCredential({ secret, user: flags.user, ttlSeconds: flags.ttlSeconds });
  } catch (error) {
    if (error instanceof CredentialError) {
      console.error(`local: --user ${JSON.stringify(flags.user)}: ${error.message}`);
      return 2;
    }
    throw error;
  }

  // Ctrl-C or SIGTERM at any time: cancel the start, or stop the running coturn. A second signal changes nothing.
  const abort = new AbortController();
  let target: LocalTarget | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    abort.abort();
    void target?.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  status(`Starting coturn for stack "${flags.stack}" on ${flags.listen} …`);
  try {
    target = await startLocalTarget({ config, listenIp: flags.listen, signal: abort.signal });
  } catch (error) {
    if (error instanceof LocalTargetAborted) {
      status(`${stopSignal ?? "Stop"}: stopped before coturn was serving; nothing is left running.`);
      return 0;
    }
    if (error instanceof LocalTargetError) {
      console.error(`local: ${error.message}`);
      return error.exitCode;
    }
    throw error;
  }
  if (stopSignal !== undefined) {
    await target.stop();
    return 0;
  }

  const iceServers = iceServersWithCredential(iceServersTemplate(config, { host: flags.listen }), credential);
  if (!flags.json) status("iceServers for your app:");
  process.stdout.write(`${JSON.stringify(iceServers, null, 2)}\n`);
  for (const line of usageLines(config, credential, flags.user, target.certificate)) status(line);
  status(listeningLine(config, target));

  const ended = await target.exited;
  if (stopSignal !== undefined) {
    await target.stop();
    status(`${stopSignal}: stopped coturn (pid ${target.pid}) and removed ${target.dir}.`);
    return 0;
  }
  const tail = target.logTail();
  await target.stop();
  console.error(
    `local: coturn (pid ${target.pid}) exited on its own (${ended.signal ?? `exit code ${String(ended.code)}`}). ` +
      `The end of its log:\n${tail}`,
  );
  return 1;
}

runMain(main);
