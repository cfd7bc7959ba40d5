/**
 * Delivers the operations files (the TLS certificate manager and the monitoring, see render/opsFiles.ts) to a
 * running VM over SSH: `coturn-ops install` gets them on stdin, writes those that changed, and restarts their units
 * (never coturn). Again whenever a file changes or the VM is replaced; a change needs no new VM.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TurnHost } from "../clouds/cloudAdapter";
import type { ServerConfig } from "../config/stackConfig";
import { OPS_INSTALL_COMMAND } from "../render/deployChannel";
import { opsFiles, opsInstallDocument } from "../render/opsFiles";
import { TLS_PATHS } from "../render/vmFiles";
import { deployConnection, type GeneratedVmAccess } from "./secretDelivery";

/** What `deliverOpsFiles` needs. */
export interface OpsDeliveryArgs {
  /** The VM to deliver to. */
  readonly host: TurnHost;
  /** Its generated keys. */
  readonly access: GeneratedVmAccess;
  /** The server's config. */
  readonly config: ServerConfig;
}

/** Runs `coturn-ops install` on the VM with the operations files on stdin. */
export function deliverOpsFiles(name: string, args: OpsDeliveryArgs, opts: pulumi.ComponentResourceOptions): command.remote.Command {
  return new command.remote.Command(
    `${name}-ops-files`,
    {
      connection: deployConnection(args.host, args.access, args.access.opsDeployPrivateKey),
      // The operations deploy key's forced command runs this whatever is asked; asking for it keeps previews readable.
      create: OPS_INSTALL_COMMAND,
      // A secret: with scrapers it holds the bcrypt hash of their password.
      stdin: pulumi.secret(opsInstallDocument(opsFiles(args.config, TLS_PATHS))),
      // A replaced VM has only the installer: deliver again.
      triggers: [args.host.instanceId],
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { ...opts, additionalSecretOutputs: ["stdin"] },
  );
}
