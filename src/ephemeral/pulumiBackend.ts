/**
 * The stacks of the current Pulumi backend, through the Pulumi Automation API over the `pulumi` executable on PATH:
 * list them with their tags, tag, create, deploy, destroy and remove them. The test-stack commands use nothing else,
 * so tests can put a fake `pulumi` first on PATH and see every command issued.
 */
import { CommandError, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { PROJECT_DIR, PULUMI_INSTALL_URL } from "../pulumiCli/pulumiCli";
import type { ListedStack } from "./selection";

/**
 * The oldest CLI that keeps stack tags on self-managed backends (`pulumi login --local`, S3, …): pulumi/pulumi#19882,
 * released in v3.211.0. Older ones refuse `pulumi stack tag` there, and the test stacks' marker lives in tags.
 */
export const MIN_PULUMI_VERSION = "3.211.0";

/** The CLI cannot be used: missing, too old, or a command failed; the message says which and what to do. */
export class PulumiBackendError extends Error {
  override name = "PulumiBackendError";
}

/** One line of output from a long pulumi command, for progress. */
export type OutputLine = (line: string) => void;

/** What the test-stack commands need from a backend. */
export interface StackBackend {
  /** The CLI's version, e.g. `3.248.0`. */
  readonly version: string;
  /** Every stack of this project, with its tags; and which one is selected. */
  listStacks(): Promise<{ stacks: ListedStack[]; selected?: string }>;
  /** One stack's tags. */
  tagsOf(stack: string): Promise<Record<string, string>>;
  /** Sets stack tags, one `pulumi stack tag set` each. */
  setTags(stack: string, tags: Readonly<Record<string, string>>): Promise<void>;
  /** Creates a stack (its config file must already be in stacks/). */
  createStack(stack: string): Promise<void>;
  /** Runs `pulumi up` and returns the stack outputs. */
  up(stack: string, onOutput: OutputLine): Promise<Record<string, unknown>>;
  /** Destroys every resource of a stack, then removes the stack and its config file. */
  destroyAndRemove(stack: string, onOutput: OutputLine): Promise<void>;
  /** Removes a stack that has no resources (after a failed create). */
  removeEmptyStack(stack: string): Promise<void>;
  /** Selects a stack again (the Automation API selects each stack it works on). */
  select(stack: string): Promise<void>;
}

/** The `error: …` lines of a failed command's stderr (or its whole message), without the Automation API's framing. */
export function pulumiErrorText(error: unknown): string {
  if (error instanceof CommandError) {
    // The command's result is private in the SDK's types; its stderr is what pulumi printed.
    const stderr: string = (error as unknown as { commandResult?: { stderr?: string } }).commandResult?.stderr ?? "";
    const errors = stderr
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.startsWith("error:"))
      .map((line) => line.slice("error:".length).trim());
    if (errors.length > 0) return errors.join("; ");
    if (stderr.trim()) return stderr.trim().split("\n").slice(-3).join(" ");
  }
  return error instanceof Error ? error.message : String(error);
}

/** Splits streamed output into whole lines. */
function lineSplitter(onLine: OutputLine): { push: (chunk: string) => void; flush: () => void } {
  let pending = "";
  return {
    push(chunk) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) onLine(line);
    },
    flush() {
      if (pending) onLine(pending);
      pending = "";
    },
  };
}

/** `stack ls --json` rows (https://github.com/pulumi/pulumi, pkg/cmd/pulumi/stack/stack_list.go). */
interface StackSummaryJson {
  name: string;
  current: boolean;
  lastUpdate?: string;
  updateInProgress?: boolean;
  resourceCount?: number;
}

/**
 * Connects to the backend the installed CLI is logged in to, in the project folder. Fails with a message that says
 * how to install or upgrade the CLI when it is missing or older than MIN_PULUMI_VERSION.
 */
export async function connectBackend(env: NodeJS.ProcessEnv = process.env): Promise<StackBackend> {
  let command: PulumiCommand;
  try {
    command = await PulumiCommand.get({ skipVersionCheck: true });
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT" || /ENOENT|not found/i.test(String((error as Error).message));
    throw new PulumiBackendError(
      missing
        ? `the pulumi CLI is not on PATH: install it (${PULUMI_INSTALL_URL}), then pulumi login`
        : `\`pulumi version\` failed: ${pulumiErrorText(error)}`,
    );
  }
  const version = command.version;
  if (!version) throw new PulumiBackendError("`pulumi version` printed no version this tool can read");
  if (version.compare(MIN_PULUMI_VERSION) < 0) {
    throw new PulumiBackendError(
      `pulumi v${version.format()} is older than v${MIN_PULUMI_VERSION}, the first that keeps stack tags on self-managed backends ` +
        `(where test stacks keep their expiry). Upgrade it: ${PULUMI_INSTALL_URL}`,
    );
  }
  const envVars = Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
  const workspace = await LocalWorkspace.create({ workDir: PROJECT_DIR, pulumiCommand: command, envVars });
  const streamed = async <T>(onOutput: OutputLine, run: (push: (chunk: string) => void) => Promise<T>): Promise<T> => {
    const splitter = lineSplitter(onOutput);
    try {
      return await run(splitter.push);
    } finally {
      splitter.flush();
    }
  };

  return {
    version: version.format(),
    async listStacks() {
      // LocalWorkspace.listStacks drops lastUpdate's text form; read the CLI's JSON as printed.
      const rows = (await workspace.listStacks()) as unknown as StackSummaryJson[];
      const stacks: ListedStack[] = [];
      for (const row of rows) {
        stacks.push({
          name: row.name,
          ...(row.lastUpdate ? { lastUpdate: new Date(row.lastUpdate) } : {}),
          ...(row.updateInProgress ? { updateInProgress: true } : {}),
          ...(row.resourceCount === undefined ? {} : { resourceCount: row.resourceCount }),
          tags: await workspace.listTags(row.name),
        });
      }
      const selected = rows.find((row) => row.current)?.name;
      return selected === undefined ? { stacks } : { stacks, selected };
    },
    tagsOf: (stack) => workspace.listTags(stack),
    async setTags(stack, tags) {
      for (const [name, value] of Object.entries(tags)) await workspace.setTag(stack, name, value);
    },
    createStack: (stack) => workspace.createStack(stack),
    async up(stack, onOutput) {
      const selected = await Stack.select(stack, workspace);
      const result = await streamed(onOutput, (push) => selected.up({ onOutput: push }));
      return Object.fromEntries(Object.entries(result.outputs).map(([name, output]) => [name, output.value]));
    },
    async destroyAndRemove(stack, onOutput) {
      const selected = await Stack.select(stack, workspace);
      await streamed(onOutput, (push) => selected.destroy({ onOutput: push, remove: true }));
    },
    removeEmptyStack: (stack) => workspace.removeStack(stack),
    select: (stack) => workspace.selectStack(stack),
  };
}
