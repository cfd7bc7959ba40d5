/**
 * A thin wrapper over the `pulumi` executable on PATH, run in the Pulumi project folder (the repo root), for the
 * operator commands (`npm run rotate`, `npm run mint`). Values that may be secret only ever travel on stdin: the argv
 * of every command holds commands, flags, stack names and config key names, so it is safe to show and to log.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { RawStackConfig } from "../config/rawStackConfig";

/** The Pulumi project folder (where Pulumi.yaml is): commands run there so `stackConfigDir` resolves. */
export const PROJECT_DIR = join(__dirname, "..", "..");

/** Where to get the CLI when it is missing. */
export const PULUMI_INSTALL_URL = "https://www.pulumi.com/docs/install/";

/** Why a pulumi command failed. */
export type PulumiFailure = "not-installed" | "no-stack" | "failed" | "bad-output";

/** A pulumi command that failed; the message names the command (argv, never secret) and pulumi's stderr. */
export class PulumiCliError extends Error {
  override name = "PulumiCliError";

  /**
   * Builds the error for the command `argv` (without the executable).
   *
   * @param argv the arguments pulumi was run with; shown in the message
   * @param failure what kind of failure it was; callers choose exit codes from it
   * @param detail pulumi's stderr, or what was wrong with its output
   */
  constructor(
    readonly argv: readonly string[],
    readonly failure: PulumiFailure,
    detail: string,
  ) {
    super(`\`pulumi ${argv.join(" ")}\` failed: ${detail}`);
  }
}

/** A value in `pulumi config --json` output. */
interface ConfigJsonEntry {
  /** The value as text (JSON text for lists and objects); absent for secrets without --show-secrets. */
  readonly value?: string;
  /** Lists and objects, parsed. */
  readonly objectValue?: unknown;
  /** Whether the value (or part of it) is stored encrypted. */
  readonly secret?: boolean;
}

/** Options of one `pulumi config set`. */
export interface SetConfigOptions {
  /** Store it encrypted (`--secret`); otherwise `--plaintext`. */
  readonly secret: boolean;
  /** The key is a path into a list or object (`--path`, e.g. `coturn:ssh.allowedCidrs[0]`). */
  readonly path?: boolean;
}

/** Options of one `pulumi config rm`. */
export interface RemoveConfigOptions {
  /** The key is a path into a list or object (`--path`). */
  readonly path?: boolean;
}

/** How to run the CLI. */
export interface PulumiCliOptions {
  /** Folder to run pulumi in. Default: PROJECT_DIR. */
  readonly cwd?: string;
  /** Environment of the commands (the stack passphrase, cloud credentials). Default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Told what each command is about to do, in one line (operator commands print it on stderr). */
  readonly log?: (line: string) => void;
}

/** What a command printed. */
interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** A stack name as pulumi accepts one (`org/project/stack` forms included); keeps odd text out of argv. */
const STACK_NAME = /^[A-Za-z0-9_.\-/]+$/;

/** Runs pulumi commands for one project folder. */
export class PulumiCli {
  private readonly cwd: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly log: (line: string) => void;

  /** A CLI wrapper; see PulumiCliOptions for the defaults. */
  constructor(options: PulumiCliOptions = {}) {
    this.cwd = options.cwd ?? PROJECT_DIR;
    this.env = options.env ?? process.env;
    this.log = options.log ?? (() => undefined);
  }

  /**
   * Runs `pulumi <argv>`; `stdin` (which may be a secret) is written to its stdin and never shown. Throws
   * PulumiCliError when pulumi is missing or exits non-zero. `what` is the one-line description that is logged.
   */
  run(argv: readonly string[], what: string, stdin?: string): CommandResult {
    const stackAt = argv.indexOf("--stack");
    const stack = stackAt >= 0 ? argv[stackAt + 1] : undefined;
    if (stack !== undefined && (!STACK_NAME.test(stack) || stack.startsWith("-"))) {
      throw new PulumiCliError(argv, "no-stack", `${JSON.stringify(stack)} is not a stack name (letters, digits, - _ . / only); nothing was run`);
    }
    this.log(`${what} (pulumi ${argv.join(" ")})`);
    const result = spawnSync("pulumi", [...argv], {
      cwd: this.cwd,
      env: this.env,
      encoding: "utf8",
      input: stdin ?? "",
      maxBuffer: 64 * 1024 * 1024,
    });
    if (result.error) {
      const code = (result.error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        throw new PulumiCliError(
          argv,
          "not-installed",
          `the Pulumi CLI is not installed (no \`pulumi\` on PATH). Install it (${PULUMI_INSTALL_URL}), log in to your state backend ` +
            "(pulumi login), and run this again",
        );
      }
      throw new PulumiCliError(argv, "failed", `could not run it (${code ?? result.error.message})`);
    }
    // pulumi does not echo config values, but a value that leaked into stderr must not reach a terminal or a log.
    const stderr = redact(result.stderr.trim(), stdin);
    if (result.status !== 0) {
      const noStack = /no stack named '([^']*)' found/.test(stderr);
      const how = result.status === null ? `killed by ${result.signal ?? "a signal"}` : `exit code ${result.status}`;
      throw new PulumiCliError(
        argv,
        noStack ? "no-stack" : "failed",
        `${stderr || "(no error output)"} (${how})${noStack ? ". List the stacks of this project with: pulumi stack ls" : ""}`,
      );
    }
    return { stdout: result.stdout, stderr };
  }

  /** The CLI's version (`pulumi version`), e.g. `v3.248.0`. */
  version(): string {
    return this.run(["version"], "Checking the Pulumi CLI").stdout.trim();
  }

  /**
   * A stack's whole config with secrets in plaintext (`pulumi config --json --show-secrets`), in the form
   * `validateStackConfig` takes: text values (JSON text for lists and objects), secret keys marked.
   */
  readStackConfig(stack: string): RawStackConfig {
    const argv = ["config", "--json", "--show-secrets", "--stack", stack];
    const { stdout } = this.run(argv, `Reading the config of stack "${stack}"`);
    const parsed = parseJson(argv, stdout);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new PulumiCliError(argv, "bad-output", "its output is not a JSON object of config keys");
    }
    const values: Record<string, string> = {};
    const secretKeys = new Set<string>();
    const opaqueKeys = new Set<string>();
    for (const [key, raw] of Object.entries(parsed as Record<string, ConfigJsonEntry>)) {
      if (raw === null || typeof raw !== "object") {
        throw new PulumiCliError(argv, "bad-output", `config key ${key} is not { value, secret } in its output`);
      }
      if (raw.secret === true) secretKeys.add(key);
      if (typeof raw.value === "string") {
        values[key] = raw.value;
      } else if (raw.secret === true) {
        // A secret pulumi did not show: present, but its content cannot be checked here.
        values[key] = "";
        opaqueKeys.add(key);
      } else if (raw.objectValue !== undefined) {
        values[key] = JSON.stringify(raw.objectValue);
      } else {
        values[key] = "";
      }
    }
    return { stack, values, secretKeys, ...(opaqueKeys.size > 0 ? { opaqueKeys } : {}) };
  }

  /**
   * A stack's outputs (`pulumi stack output --json`); `{}` for a stack that was never deployed. Secret outputs show
   * as the text "[secret]".
   */
  readStackOutputs(stack: string): Record<string, unknown> {
    const argv = ["stack", "output", "--json", "--stack", stack];
    const { stdout } = this.run(argv, `Reading the outputs of stack "${stack}"`);
    if (stdout.trim() === "") return {};
    const parsed = parseJson(argv, stdout);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new PulumiCliError(argv, "bad-output", "its output is not a JSON object of stack outputs");
    }
    return parsed as Record<string, unknown>;
  }

  /**
   * Sets one config key (`pulumi config set KEY --stack S --secret|--plaintext [--path]`). The value goes to
   * pulumi's stdin, never into argv. `what` names the change for the log line (it must not contain the value when
   * the value is secret).
   */
  setConfig(stack: string, key: string, value: string, options: SetConfigOptions, what = `Setting ${key}`): void {
    const argv = ["config", "set", checkedKey(key), "--stack", stack, options.secret ? "--secret" : "--plaintext"];
    if (options.path) argv.push("--path");
    this.run(argv, what, value);
  }

  /** Removes one config key (`pulumi config rm KEY --stack S [--path]`). */
  removeConfig(stack: string, key: string, options: RemoveConfigOptions = {}, what = `Removing ${key}`): void {
    const argv = ["config", "rm", checkedKey(key), "--stack", stack];
    if (options.path) argv.push("--path");
    this.run(argv, what);
  }
}

function checkedKey(key: string): string {
  if (!/^[A-Za-z0-9_.-]+:[A-Za-z0-9_.\-[\]]+$/.test(key)) {
    throw new Error(`unreachable: config key ${JSON.stringify(key)} is not namespace:name`);
  }
  return key;
}

function parseJson(argv: readonly string[], text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not the parser's message: it quotes the text, which may hold secrets.
    throw new PulumiCliError(argv, "bad-output", `its output is not JSON (${text.length} characters); is this the Pulumi CLI?`);
  }
}

/** `text` with every occurrence of `secret` replaced (nothing to do for short or missing values). */
function redact(text: string, secret: string | undefined): string {
  if (secret === undefined || secret.length < 8) return text;
  return text.split(secret).join("(secret)");
}
