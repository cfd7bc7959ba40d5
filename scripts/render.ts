/**
 * npm run render -- --stack <name> --out <dir> [--reveal-secrets]
 *
 * Writes every file a stack will put on its VM, exactly as rendered, for review: <dir>/user-data.yaml (what the
 * cloud receives) and <dir>/rootfs/<path> for each file cloud-init writes. Needs no cloud credentials and no Pulumi
 * CLI. Secrets are replaced by visible placeholders unless --reveal-secrets is given.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { StackFileError } from "../src/config/stackFile";
import { StackConfigError } from "../src/config/configProblems";
import { previewStack } from "../src/render/preview";
import { parseFlags, passphraseFromEnvironment, printTable, UsageError } from "./cli";

const USAGE = "usage: npm run render -- --stack <name> --out <dir> [--reveal-secrets]";

function main(): number {
  let flags;
  try {
    flags = parseFlags(process.argv.slice(2), {
    stack: { type: "string" },
    out: { type: "string" },
    "reveal-secrets": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`render: ${error.message}\n${USAGE}`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (!flags.stack || !flags.out) {
    console.error(`render: ${!flags.stack ? "--stack" : "--out"} is required (a stack file in stacks/, and a folder to write to)\n${USAGE}`);
    return 2;
  }

  const reveal = flags["reveal-secrets"] === true;
  console.log(`Rendering stack "${flags.stack}"${reveal ? " with secrets revealed" : ""} …`);
  let preview;
  try {
    preview = previewStack(flags.stack, reveal ? { mode: "reveal", passphrase: passphraseFromEnvironment() } : { mode: "placeholder" });
  } catch (error) {
    if (error instanceof StackConfigError || error instanceof StackFileError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }

  const out = resolve(flags.out);
  const written: string[][] = [];
  const write = (path: string, content: string, mode: number): void => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content, { mode });
    chmodSync(path, mode);
  };
  // Revealed files hold secrets: keep them private to the operator whatever the VM mode will be.
  const privateMode = (mode: number): number => (reveal ? mode & 0o700 : mode);
  write(join(out, "user-data.yaml"), preview.userData, privateMode(0o644));
  written.push(["user-data.yaml", "-", String(Buffer.byteLength(preview.userData)), "cloud-init user-data sent to the VM"]);
  for (const file of preview.files) {
    write(join(out, "rootfs", file.path), file.content, privateMode(parseInt(file.mode, 8)));
    written.push([`rootfs${file.path}`, file.mode, String(Buffer.byteLength(file.content)), file.purpose]);
  }
  printTable(["file", "mode on VM", "bytes", "purpose"], written);
  console.log(`\nWrote ${written.length} files to ${out}`);
  for (const note of preview.notes) console.log(`note: ${note}`);
  return 0;
}

process.exitCode = main();
