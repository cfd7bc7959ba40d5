/**
 * Delivers the TLS material to a running VM over SSH: `coturn-tls deliver` gets the stack's certificate document on
 * stdin (ACME settings with the Cloudflare DNS token, a provided chain and key, or self-signed names), obtains or
 * installs the certificate, reloads coturn with SIGUSR2 (calls keep running) and reports what coturn now serves. A
 * changed certificate, token or name reaches the VM without replacing it.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { TurnHost } from "../clouds/cloudAdapter";
import type { ServerConfig } from "../config/stackConfig";
import { TLS_DELIVER_COMMAND } from "../render/deployChannel";
import { parseInstalledCertificate, tlsDeliveryDocument, type InstalledCertificate } from "../render/tlsDocument";
import { deployConnection, type GeneratedVmAccess } from "./secretDelivery";

/** What `deliverTlsCertificate` needs. */
export interface TlsDeliveryArgs {
  /** The VM to deliver to. */
  readonly host: TurnHost;
  /** Its generated keys. */
  readonly access: GeneratedVmAccess;
  /** The stack config (TLS mode and names). */
  readonly config: ServerConfig;
}

/** The delivery and the certificate the VM reported. */
export interface TlsDelivery {
  /** The remote command. */
  readonly command: command.remote.Command;
  /** The certificate coturn serves after the delivery. */
  readonly certificate: pulumi.Output<InstalledCertificate>;
}

/** Runs `coturn-tls deliver` on the VM: again whenever the document changes or the VM is replaced. */
export function deliverTlsCertificate(name: string, args: TlsDeliveryArgs, opts: pulumi.ComponentResourceOptions): TlsDelivery {
  const delivery = new command.remote.Command(
    `${name}-tls-certificate`,
    {
      connection: deployConnection(args.host, args.access, args.access.tlsDeployPrivateKey),
      // The TLS deploy key's forced command runs this whatever is asked; asking for it keeps previews readable.
      create: TLS_DELIVER_COMMAND,
      stdin: pulumi.secret(JSON.stringify(tlsDeliveryDocument(args.config))),
      // A replaced VM starts with a placeholder certificate: deliver again.
      triggers: [args.host.instanceId],
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { ...opts, additionalSecretOutputs: ["stdin"] },
  );
  return { command: delivery, certificate: delivery.stdout.apply(parseInstalledCertificate) };
}
