/**
 * A fake `pulumi` executable for tests of the operator commands: a temp folder holding an executable node script
 * named `pulumi`, to put first on PATH. It keeps stacks (config and outputs) in a JSON state file, records every
 * invocation (argv, stdin, cwd, exit code) as a line of a JSONL file, and answers the commands the operator commands
 * use the way the real CLI does:
 *
 * - `version`
 * - `config --json [--show-secrets] --stack S` (`{ key: { value, secret, objectValue? } }`; secret values elided
 *   without --show-secrets)
 * - `config set KEY [VALUE] --stack S [--secret|--plaintext] [--path] [--non-interactive]` (the value from stdin when
 *   not given, one trailing newline removed; `--path` forms such as `coturn:previousAuthSecrets[0]` and
 *   `coturn:rotation.phase`, with "true"/"false"/integers stored typed as pulumi does)
 * - `config rm KEY --stack S [--path]`
 * - `stack output [NAME] --json --stack S` (`{}` for a stack never deployed)
 * - the stack commands of the Automation API, with the JSON shapes of pulumi/pulumi's pkg/cmd/pulumi/stack
 *   (stack_list.go, stack_tag.go, stack_history.go): `stack ls --json`, `stack tag ls --json|set --stack S`,
 *   `stack select --stack S`, `stack init NAME`, `stack rm --yes NAME` (refused while resources remain),
 *   `up|destroy --yes --skip-preview --exec-kind auto.local --stack S`, `stack history --json …`
 * - an unknown stack: `error: no stack named 'S' found` on stderr, exit 6 (the CLI's code since v3.226.0)
 *
 * Anything else (another command, an unknown flag, no --stack) fails loudly: exit 99 and "fake pulumi:" on stderr.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";

/** One config value as the fake stores it: text, or a list/object (JSON) as `pulumi config set --path` makes. */
export interface FakeConfigValue {
  /** The value: a string, or a JSON list/object. */
  readonly value: unknown;
  /** Stored encrypted (`--secret`, or a secret item inside a list/object). */
  readonly secret?: boolean;
}

/** One stack of the fake. */
export interface FakeStack {
  /** Config, by full key (`coturn:domain`). */
  config: Record<string, FakeConfigValue>;
  /** Stack outputs after the last `pulumi up`; absent or `{}` when never deployed. */
  outputs?: Record<string, unknown>;
  /** Stack tags (`pulumi stack tag`). */
  tags?: Record<string, string>;
  /** Last update, as `stack ls` prints it (`2026-11-22T08:00:00.000Z`). */
  lastUpdate?: string;
  /** Resources in its state; `stack rm` refuses while there are any. */
  resourceCount?: number;
  /** An update is running (only the Pulumi Cloud backend reports it). */
  updateInProgress?: boolean;
  /** Makes `pulumi destroy` fail with this message (after printing some progress). */
  destroyFails?: string;
  /** Makes `pulumi up` fail with this message. */
  upFails?: string;
  /** Outputs and resource count a `pulumi up` produces. */
  upResult?: { outputs: Record<string, unknown>; resourceCount: number };
}

/** The fake's whole state. */
export interface FakeState {
  /** Stacks by name. */
  stacks: Record<string, FakeStack>;
  /** The selected stack. */
  selected?: string;
  /** What `pulumi version` prints (default v3.248.0). */
  version?: string;
}

/** One recorded run of the fake. */
export interface Invocation {
  /** Arguments after `pulumi`. */
  readonly argv: string[];
  /** What arrived on stdin, for commands that read it (`config set` without a value argument); else null. */
  readonly stdin: string | null;
  /** Folder it ran in. */
  readonly cwd: string;
  /** Its exit code. */
  readonly exitCode: number;
}

/** A fake pulumi on disk, and ways to look at and change what it knows. */
export interface FakePulumi {
  /** Folder holding the `pulumi` executable: put it first on PATH. */
  readonly binDir: string;
  /** The state file. */
  readonly statePath: string;
  /** The invocation log (JSONL). */
  readonly logPath: string;
  /** This process's environment with binDir first on PATH. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** The current state. */
  state(): FakeState;
  /** Replaces the state. */
  setState(state: FakeState): void;
  /** Changes the state in place (e.g. to simulate `pulumi up` writing new outputs). */
  update(change: (state: FakeState) => void): void;
  /** Every invocation so far, in order. */
  invocations(): Invocation[];
  /** Forgets the invocations recorded so far. */
  clearInvocations(): void;
  /** Deletes the temp folder. */
  cleanup(): void;
}

/** The fake CLI (plain CommonJS, run by this node); STATE_PATH and LOG_PATH are filled in. */
const FAKE_SOURCE = String.raw`"use strict";
const fs = require("fs");
const STATE_PATH = __STATE_PATH__;
const LOG_PATH = __LOG_PATH__;
const argv = process.argv.slice(2);
let stdin = null;

function finish(code, out, err) {
  fs.appendFileSync(LOG_PATH, JSON.stringify({ argv, stdin, cwd: process.cwd(), exitCode: code }) + "\n");
  if (out) process.stdout.write(out);
  if (err) process.stderr.write(err);
  process.exit(code);
}
function loud(message) {
  finish(99, "", "fake pulumi: " + message + " (argv " + JSON.stringify(argv) + "); the fake answers only the commands in test/support/fakePulumi.ts\n");
}
function pulumiError(message, code) {
  finish(code === undefined ? 255 : code, "", "error: " + message + "\n");
}

// Split argv into positionals and flags, as cobra does ("--" ends the flags).
const FLAGS_WITH_VALUE = new Set(["--stack", "--exec-kind", "--page-size", "--page"]);
const BOOLEAN_FLAGS = new Set(["--json", "--show-secrets", "--secret", "--plaintext", "--path", "--non-interactive", "--yes", "--skip-preview"]);
const positionals = [];
const flags = {};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--") { positionals.push(...argv.slice(i + 1)); break; }
  if (FLAGS_WITH_VALUE.has(a)) {
    if (i + 1 >= argv.length) loud("flag " + a + " needs a value");
    flags[a] = argv[++i];
  } else if (BOOLEAN_FLAGS.has(a)) {
    flags[a] = true;
  } else if (a.startsWith("-")) {
    loud("unknown flag " + a);
  } else {
    positionals.push(a);
  }
}
function allowOnly(allowed) {
  // The Automation API appends --non-interactive to every command.
  for (const f of Object.keys(flags)) if (!allowed.includes(f) && f !== "--non-interactive") loud("flag " + f + " is not expected with this command");
}

const state = JSON.parse(fs.readFileSync(STATE_PATH, "utf8"));
function save() { fs.writeFileSync(STATE_PATH, JSON.stringify(state, null, 2)); }
function stackNamed() {
  const name = flags["--stack"];
  if (name === undefined) loud("--stack is missing (tests never rely on the selected stack)");
  const stack = state.stacks[name];
  if (!stack) pulumiError("no stack named '" + name + "' found", 6);
  return stack;
}

// "coturn:ssh.allowedCidrs[0]" -> { key: "coturn:ssh", path: ["allowedCidrs", 0] }
function parsePath(text) {
  const m = /^([^:.\[\]]+:[^.\[\]]+)(.*)$/.exec(text);
  if (!m) loud("config key " + JSON.stringify(text) + " is not namespace:name");
  const path = [];
  const re = /\.([^.\[\]]+)|\[(\d+)\]|\["([^"]+)"\]/y;
  let rest = m[2];
  let at = 0;
  while (at < rest.length) {
    re.lastIndex = at;
    const s = re.exec(rest);
    if (!s) pulumiError("invalid config key path " + JSON.stringify(text));
    path.push(s[1] !== undefined ? s[1] : s[3] !== undefined ? s[3] : Number(s[2]));
    at = re.lastIndex;
  }
  return { key: m[1], path };
}
// pulumi stores "true"/"false" and integers typed when set with --path (and not --secret).
function adjust(value) {
  if (value === "true") return true;
  if (value === "false") return false;
  if (/^-?\d+$/.test(value) && !(value.length > 1 && value[0] === "0")) return Number(value);
  return value;
}
function setAt(root, path, value, keyText) {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    const seg = path[i];
    if (node[seg] === undefined) node[seg] = typeof path[i + 1] === "number" ? [] : {};
    node = node[seg];
    if (node === null || typeof node !== "object") pulumiError("cannot set " + keyText + ": a parent is not a list or map");
  }
  const last = path[path.length - 1];
  if (typeof last === "number") {
    if (!Array.isArray(node)) pulumiError("cannot set " + keyText + ": not a list");
    if (last > node.length) pulumiError("array index " + last + " out of range for " + keyText);
  } else if (Array.isArray(node)) {
    pulumiError("cannot set " + keyText + ": a list has no field " + last);
  }
  node[last] = value;
}
function removeAt(root, path) {
  let node = root;
  for (let i = 0; i < path.length - 1; i++) {
    node = node == null ? undefined : node[path[i]];
  }
  if (node == null || typeof node !== "object") return;
  const last = path[path.length - 1];
  if (Array.isArray(node) && typeof last === "number") node.splice(last, 1);
  else delete node[last];
}

const [command, sub, ...rest] = positionals;
if (command === "version" && positionals.length === 1) {
  allowOnly([]);
  finish(0, (state.version || "v3.248.0") + "\n", "");
}
if (command === "config" && positionals.length === 1) {
  allowOnly(["--json", "--show-secrets", "--stack"]);
  if (!flags["--json"]) loud("config without --json prints a table the tools do not read");
  const stack = stackNamed();
  const out = {};
  for (const key of Object.keys(stack.config).sort()) {
    const entry = stack.config[key];
    const secret = entry.secret === true;
    const isObject = entry.value !== null && typeof entry.value === "object";
    const text = isObject ? JSON.stringify(entry.value) : String(entry.value);
    if (secret && !flags["--show-secrets"]) out[key] = { secret: true };
    else out[key] = isObject ? { value: text, objectValue: entry.value, secret } : { value: text, secret };
  }
  finish(0, JSON.stringify(out, null, 4) + "\n", "");
}
if (command === "config" && sub === "set") {
  allowOnly(["--stack", "--secret", "--plaintext", "--path", "--non-interactive"]);
  if (flags["--secret"] && flags["--plaintext"]) pulumiError("only one of --secret and --plaintext may be given");
  if (rest.length < 1 || rest.length > 2) loud("config set takes KEY [VALUE]");
  const stack = stackNamed();
  let value = rest[1];
  if (value === undefined) {
    stdin = fs.readFileSync(0, "utf8");
    value = stdin.replace(/\r?\n$/, "");
  }
  const secret = flags["--secret"] === true;
  if (flags["--path"]) {
    const { key, path } = parsePath(rest[0]);
    const typed = secret ? value : adjust(value);
    if (path.length === 0) {
      stack.config[key] = { value: typed, secret };
    } else {
      const entry = stack.config[key] || { value: typeof path[0] === "number" ? [] : {}, secret: false };
      if (entry.value === null || typeof entry.value !== "object") pulumiError(key + " is not a list or map, so " + rest[0] + " cannot be set");
      setAt(entry.value, path, typed, rest[0]);
      stack.config[key] = { value: entry.value, secret: entry.secret === true || secret };
    }
  } else {
    if (!/^[^:.\[\]]+:[^\[\]]+$/.test(rest[0])) loud("config key " + JSON.stringify(rest[0]) + " is not namespace:name");
    stack.config[rest[0]] = { value, secret };
  }
  save();
  finish(0, "", "");
}
if (command === "config" && sub === "rm") {
  allowOnly(["--stack", "--path"]);
  if (rest.length !== 1) loud("config rm takes one KEY");
  const stack = stackNamed();
  if (flags["--path"]) {
    const { key, path } = parsePath(rest[0]);
    if (path.length === 0) delete stack.config[key];
    else if (stack.config[key]) removeAt(stack.config[key].value, path);
  } else {
    delete stack.config[rest[0]];
  }
  save();
  finish(0, "", "");
}
if (command === "stack" && sub === "output") {
  allowOnly(["--stack", "--json", "--show-secrets"]);
  if (rest.length > 1) loud("stack output takes at most one output name");
  const stack = stackNamed();
  const outputs = stack.outputs || {};
  if (rest.length === 1) {
    if (!(rest[0] in outputs)) pulumiError("current stack does not have output property '" + rest[0] + "'");
    const v = outputs[rest[0]];
    finish(0, (flags["--json"] || typeof v !== "string" ? JSON.stringify(v, null, 2) : v) + "\n", "");
  }
  if (!flags["--json"]) loud("stack output without --json prints a table the tools do not read");
  finish(0, JSON.stringify(outputs, null, 2) + "\n", "");
}
// The stack commands of the Automation API.
const json = (value) => JSON.stringify(value, null, 2) + "\n";
const BT = String.fromCharCode(96); // a backtick, which this template literal cannot hold
const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, ".000Z");
if (command === "stack" && sub === "ls") {
  allowOnly(["--json"]);
  if (!flags["--json"] || rest.length) loud("stack ls is read with --json only");
  finish(0, json(Object.keys(state.stacks).sort().map((name) => {
    const s = state.stacks[name];
    const row = { name, current: state.selected === name };
    if (s.lastUpdate) row.lastUpdate = s.lastUpdate;
    if (s.updateInProgress) row.updateInProgress = true;
    if (s.resourceCount !== undefined) row.resourceCount = s.resourceCount;
    return row;
  })), "");
}
if (command === "stack" && sub === "tag") {
  const [verb, ...args] = rest;
  if (verb === "ls") {
    allowOnly(["--json", "--stack"]);
    if (!flags["--json"] || args.length) loud("stack tag ls is read with --json only");
    finish(0, json(stackNamed().tags || {}), "");
  }
  if (verb === "set") {
    allowOnly(["--stack"]);
    if (args.length !== 2) loud("stack tag set takes NAME VALUE");
    const stack = stackNamed();
    stack.tags = { ...(stack.tags || {}), [args[0]]: args[1] };
    save();
    finish(0, "", "");
  }
  loud("stack tag " + verb + " is not used by the tools");
}
if (command === "stack" && sub === "select") {
  allowOnly(["--stack"]);
  if (rest.length) loud("stack select is given --stack");
  stackNamed();
  state.selected = flags["--stack"];
  save();
  finish(0, "", "");
}
if (command === "stack" && sub === "init") {
  allowOnly([]);
  if (rest.length !== 1) loud("stack init takes NAME");
  if (state.stacks[rest[0]]) pulumiError("stack 'organization/coturn/" + rest[0] + "' already exists", 1);
  state.stacks[rest[0]] = { config: {}, lastUpdate: stamp(), resourceCount: 0 };
  state.selected = rest[0];
  save();
  finish(0, "Created stack '" + rest[0] + "'\n", "");
}
if (command === "stack" && sub === "rm") {
  allowOnly(["--yes"]);
  if (!flags["--yes"] || rest.length !== 1) loud("stack rm is run as stack rm --yes NAME");
  const stack = state.stacks[rest[0]];
  if (!stack) pulumiError("no stack named '" + rest[0] + "' found", 6);
  if (stack.resourceCount) {
    pulumiError("'" + rest[0] + "' still has resources; removal rejected. Possible actions:\n- Make sure that '" + rest[0] + "' is the stack that you want to destroy\n- Run " + BT + "pulumi destroy" + BT + " to delete the resources, then run " + BT + "pulumi stack rm" + BT + "\n- Run " + BT + "pulumi stack rm --force" + BT + " to override this error", 1);
  }
  delete state.stacks[rest[0]];
  if (state.selected === rest[0]) delete state.selected;
  // As the CLI does (without --preserve-config): the stack's config file goes too.
  fs.rmSync(require("path").join(process.cwd(), "stacks", "Pulumi." + rest[0] + ".yaml"), { force: true });
  save();
  finish(0, "Stack '" + rest[0] + "' has been removed!\n", "");
}
if (command === "stack" && sub === "history") {
  allowOnly(["--json", "--show-secrets", "--page-size", "--page", "--stack"]);
  const stack = stackNamed();
  const last = stack.history || [];
  finish(0, json(last.slice(0, Number(flags["--page-size"] || 10))), "");
}
if ((command === "up" || command === "destroy") && positionals.length === 1) {
  allowOnly(["--yes", "--skip-preview", "--exec-kind", "--stack"]);
  if (!flags["--yes"] || !flags["--skip-preview"] || flags["--exec-kind"] !== "auto.local") loud(command + " is run by the Automation API with --yes --skip-preview --exec-kind auto.local");
  const stack = stackNamed();
  const name = flags["--stack"];
  const verb = command === "up" ? "Updating" : "Destroying";
  const progress = verb + " (" + name + ")\n\n     Type                 Name      Status\n";
  const failure = command === "up" ? stack.upFails : stack.destroyFails;
  const entry = { version: 0, kind: command === "up" ? "update" : "destroy", startTime: stamp(), message: "", environment: {}, config: {} };
  if (failure) {
    stack.history = [{ ...entry, result: "failed", endTime: stamp(), resourceChanges: {} }, ...(stack.history || [])];
    save();
    finish(255, progress, "error: " + failure + "\n");
  }
  const before = stack.resourceCount || 0;
  if (command === "up") {
    const result = stack.upResult || { outputs: {}, resourceCount: 1 };
    stack.outputs = result.outputs;
    stack.resourceCount = result.resourceCount;
  } else {
    stack.outputs = {};
    stack.resourceCount = 0;
  }
  stack.lastUpdate = stamp();
  const changes = command === "up" ? { create: stack.resourceCount } : { delete: before };
  stack.history = [{ ...entry, result: "succeeded", endTime: stamp(), resourceChanges: changes }, ...(stack.history || [])];
  save();
  const tail = command === "destroy"
    ? "The resources in the stack have been deleted, but the history and configuration associated with the stack are still maintained.\nIf you want to remove the stack completely, run " + BT + "pulumi stack rm " + name + "" + BT + ".\n"
    : "Resources:\n    + " + stack.resourceCount + " created\n";
  finish(0, progress + tail, "");
}
loud("unsupported command");
`;

/** Creates a fake pulumi in a new temp folder, with `initial` as its state. Call cleanup() when done. */
export function createFakePulumi(initial: FakeState): FakePulumi {
  const dir = mkdtempSync(join(tmpdir(), "fake-pulumi-"));
  const binDir = join(dir, "bin");
  const statePath = join(dir, "state.json");
  const logPath = join(dir, "invocations.jsonl");
  const executable = join(binDir, "pulumi");
  mkdirSync(binDir);
  writeFileSync(statePath, JSON.stringify(initial, null, 2));
  writeFileSync(logPath, "");
  const source = FAKE_SOURCE.replace("__STATE_PATH__", JSON.stringify(statePath)).replace("__LOG_PATH__", JSON.stringify(logPath));
  writeFileSync(executable, `#!${process.execPath}\n${source}`);
  chmodSync(executable, 0o755);

  const state = (): FakeState => JSON.parse(readFileSync(statePath, "utf8")) as FakeState;
  const setState = (next: FakeState): void => writeFileSync(statePath, JSON.stringify(next, null, 2));
  return {
    binDir,
    statePath,
    logPath,
    env: (extra = {}) => ({ ...process.env, ...extra, PATH: `${binDir}${delimiter}${extra.PATH ?? process.env.PATH ?? ""}` }),
    state,
    setState,
    update(change) {
      const current = state();
      change(current);
      setState(current);
    },
    invocations: () =>
      readFileSync(logPath, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Invocation),
    clearInvocations: () => writeFileSync(logPath, ""),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

