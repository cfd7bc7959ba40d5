/**
 * Small pieces shared by the operator commands: flag parsing, tables people can scan, and the stack passphrase.
 */
import { readFileSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A bad command line: the command prints the message and its usage, and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The flag definitions of a command (node's parseArgs options). */
type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** Parses `--flag value` options strictly (no positionals, no unknown flags); a bad command line is a UsageError. */
export function parseFlags<O extends FlagOptions>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * Joins `--flag -N` into `--flag=-N` for flags that take a number, so a negative number reaches the flag's own check
 * (with its message and fix) instead of parseArgs calling the option ambiguous.
 */
export function joinNegativeNumbers(argv: readonly string[], numberFlags: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const next = argv[i + 1];
    if (numberFlags.includes(argv[i]) && next !== undefined && /^-\d/.test(next)) joined.push(`${argv[i]}=${argv[++i]}`);
    else joined.push(argv[i]);
  }
  return joined;
}

/** Prints rows under a header, columns padded to their widest cell. */
export function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(header));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const row of rows) console.log(line(row));
}

/** The stack passphrase from PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE, as the Pulumi CLI reads it. */
export function passphraseFromEnvironment(): string | undefined {
  if (process.env.PULUMI_CONFIG_PASSPHRASE !== undefined) return process.env.PULUMI_CONFIG_PASSPHRASE;
  const file = process.env.PULUMI_CONFIG_PASSPHRASE_FILE;
  return file ? readFileSync(file, "utf8").replace(/\r?\n$/, "") : undefined;
}

/** Runs an async command's `main` and sets the exit code it returns; an unexpected error is printed and exits 1. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
