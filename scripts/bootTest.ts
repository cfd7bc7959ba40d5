/**
 * sudo npm run boot-test -- --stack <name> [--qemu] [--console FILE] [--json]
 *
 * Boots the stack's user-data for real: the exact bytes `pulumi up` hands the stack's cloud go through cloud-init under
 * systemd in a Debian 12 container on a copy of the cloud's network, and the VM it makes is checked (files, coturn's
 * unit and restarts, a STUN and TURN client, the secret delivery over SSH, kernel settings). The image is built once
 * (about a minute) and cached. Needs root; no cloud account, no Pulumi CLI, no network beyond the Debian mirror for the
 * first image build. With --qemu the same boot runs in a qemu virtual machine with its own kernel (software emulation,
 * many minutes), which shows what a container cannot: the relay's sysctls and coturn's real open-files limit.
 * Exit 0: every check passed; 1: a check failed; 2: bad command line or stack.
 */
import { writeFileSync } from "node:fs";
import { StackFileError, readStackFile } from "../src/config/stackFile";
import { validateStackConfig } from "../src/config/validate";
import { StackConfigError } from "../src/config/configProblems";
import { isGlobalStack, isLocalStack } from "../src/config/rawStackConfig";
import { serverIdentity } from "../src/plan/dns";
import { bootStack } from "../lab/boot/bootTest";
import { reportLines } from "../lab/boot/report";
import { requireLabPrivileges } from "../lab/netlab";
import { parseFlags, printTable, runMain, UsageError } from "./cli";

const USAGE = "usage: sudo npm run boot-test -- --stack <name> [--qemu] [--console FILE] [--json]";

async function main(): Promise<number> {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), { stack: { type: "string" }, qemu: { type: "boolean", default: false }, console: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", default: false } });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`boot-test: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (!flags.stack) {
    console.error(`boot-test: --stack is required (a region stack file in stacks/, e.g. --stack aws-example)\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    const raw = readStackFile(flags.stack, { mode: "placeholder" });
    if (isLocalStack(raw) || isGlobalStack(raw)) {
      console.error(
        `boot-test: stack "${flags.stack}" has coturn:cloud ${raw.values["coturn:cloud"]}, which boots no VM. ` +
          "Pass a region stack (coturn:cloud aws, gcp or digitalocean).",
      );
      return 2;
    }
    const validated = validateStackConfig(raw);
    config = { ...validated, ...serverIdentity(validated, 1) };
  } catch (error) {
    if (error instanceof StackConfigError || error instanceof StackFileError) {
      console.error(error.message);
      return 2;
    }
    throw error;
  }
  try {
    requireLabPrivileges();
  } catch (error) {
    console.error(`boot-test: ${(error as Error).message}`);
    return 2;
  }
  const log = flags.json ? (line: string) => console.error(line) : (line: string) => console.log(line);
  // Ctrl-C stops the boot between steps; the container, its overlay and the lab are still removed.
  const interrupt = new AbortController();
  const onSignal = (): void => {
    log("boot-test: interrupted; stopping the container and removing the lab …");
    interrupt.abort(new Error("interrupted"));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const report = await bootStack({ config, log, signal: interrupt.signal, guest: flags.qemu ? "qemu" : "container" });
  if (interrupt.signal.aborted) {
    console.error("boot-test: interrupted; nothing is left running.");
    return 1;
  }
  if (flags.console) writeFileSync(flags.console, report.consoleLog, { mode: 0o600 });
  if (flags.json) {
    const { consoleLog: _console, ...rest } = report;
    console.log(JSON.stringify(rest, null, 2));
  } else {
    const { header, rows, footer } = reportLines(report, config.serverCount);
    console.log("");
    for (const line of header) console.log(line);
    console.log("");
    printTable(["check", "result", "detail"], rows);
    console.log("");
    for (const line of footer) console.log(line);
    if (flags.console) console.log(`The VM's console log is in ${flags.console}.`);
  }
  return report.passed ? 0 : 1;
}

runMain(main);
