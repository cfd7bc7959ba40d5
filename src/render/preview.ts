/**
 * What `npm run render` shows: every file a stack puts on its VM, rendered from the stack file alone (no cloud, no
 * Pulumi CLI), with values only known at deploy time shown as placeholders.
 */
import { StackFileError, readStackFile, stackFilePath, type SecretHandling } from "../config/stackFile";
import { isLocalStack, validateStackConfig } from "../config/validate";
import { ANCHOR_ADDRESS_PLACEHOLDER, bindAddressFor } from "../plan/addresses";
import { renderVm, type VmFile } from "./vmFiles";

/** Stands for the static public IP, which the cloud allocates at deploy time. */
export const PUBLIC_IP_PLACEHOLDER = "<static-public-ip>";

/** A rendered preview of one stack. */
export interface StackPreview {
  /** Files written onto the VM, at their VM paths. */
  readonly files: readonly VmFile[];
  /** The cloud-init user-data that carries them. */
  readonly userData: string;
  /** Things the reader should know: placeholders, checks that could not run. */
  readonly notes: readonly string[];
}

/** Reads, validates and renders a stack file from stacks/. Throws StackFileError or StackConfigError. */
export function previewStack(stack: string, secrets: SecretHandling, stacksDir?: string): StackPreview {
  const raw = readStackFile(stack, secrets, stacksDir);
  if (isLocalStack(raw)) {
    throw new StackFileError(
      stackFilePath(stack, stacksDir),
      "has coturn:cloud local, which puts no files on a VM. Run it with `npm run local` (its rendered turnserver.conf sits next to the log file it prints)",
    );
  }
  const config = validateStackConfig(raw);
  const bind = bindAddressFor(config.cloud);
  const rendered = renderVm(config, { publicIp: PUBLIC_IP_PLACEHOLDER, bind });
  const notes = [
    `${PUBLIC_IP_PLACEHOLDER} is the static IP the cloud allocates on the first \`pulumi up\`; ` +
      (bind.kind === "nat"
        ? `${bind.privateIp} is the fixed private address it maps onto.`
        : `${ANCHOR_ADDRESS_PLACEHOLDER} is the Droplet's anchor address, which the VM fills in at boot.`),
    ...(secrets.mode === "placeholder"
      ? [`Secrets are shown as <secret …>; pass --reveal-secrets (with PULUMI_CONFIG_PASSPHRASE) to render their values.`]
      : []),
    ...[...(raw.opaqueKeys ?? [])].map(
      (key) => `${key} is encrypted: its length and format were not checked (they are when revealed, and at deploy).`,
    ),
  ];
  return { files: rendered.files, userData: rendered.userData, notes };
}
