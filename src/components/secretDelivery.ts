/**
 * The SSH path secrets take to a running VM, as Pulumi resources: keys the stack generates (the VM's host key and
 * two deploy keys, see tlsDelivery.ts for the second) and a remote command that runs `coturn-secrets apply` with the
 * secret set on stdin (what the VM's side expects: render/deployChannel.ts).
 * Rerunning it with the same set changes nothing; a new set is live on the next TURN request, without replacing the
 * VM or restarting coturn. Every key and the secret set stay secrets in Pulumi state; the command prints fingerprints.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import type { TurnHost } from "../clouds/cloudAdapter";
import { DEPLOY_USER, SECRETS_APPLY_COMMAND, parseAppliedSecretSet, secretSetDocument, type VmAccess } from "../render/deployChannel";

/**
 * Bounds on reaching a fresh VM: SSH answers 30-90 s after the VM is created. 60 failed attempts of up to 10 s each
 * (with the provider's backoff between them) give up after about 15 minutes, with the provider's "Dial 60/60 failed".
 */
const DIAL_ERROR_LIMIT = 60;
const PER_DIAL_TIMEOUT_SECONDS = 10;

/** The generated keys of one VM. */
export interface GeneratedVmAccess {
  /** What the VM is built with (the host key pair, the deploy keys' public halves). */
  readonly vmAccess: pulumi.Output<VmAccess>;
  /** Private half of the key that may only apply the TURN secret set (OpenSSH format, secret). */
  readonly deployPrivateKey: pulumi.Output<string>;
  /** Private half of the key that may only deliver the TLS material (OpenSSH format, secret). */
  readonly tlsDeployPrivateKey: pulumi.Output<string>;
  /** Private half of the key that may only read the metrics (OpenSSH format, secret; `npm run status` uses it). */
  readonly metricsReadPrivateKey: pulumi.Output<string>;
  /** Private half of the key that may only install the operations files (OpenSSH format, secret). */
  readonly opsDeployPrivateKey: pulumi.Output<string>;
  /** The host key's public half, which the connection must see. */
  readonly hostPublicKey: pulumi.Output<string>;
}

/** Generates the VM's host key and the two deploy keys (ED25519), kept in Pulumi state as secrets. */
export function generateVmAccess(name: string, opts: pulumi.ComponentResourceOptions): GeneratedVmAccess {
  const hostKey = new tls.PrivateKey(`${name}-ssh-host-key`, { algorithm: "ED25519" }, opts);
  const deployKey = new tls.PrivateKey(`${name}-secrets-deploy-key`, { algorithm: "ED25519" }, opts);
  const tlsDeployKey = new tls.PrivateKey(`${name}-tls-deploy-key`, { algorithm: "ED25519" }, opts);
  const metricsReadKey = new tls.PrivateKey(`${name}-metrics-read-key`, { algorithm: "ED25519" }, opts);
  const opsDeployKey = new tls.PrivateKey(`${name}-ops-deploy-key`, { algorithm: "ED25519" }, opts);
  return {
    vmAccess: pulumi
      .all([hostKey.privateKeyOpenssh, hostKey.publicKeyOpenssh, deployKey.publicKeyOpenssh, tlsDeployKey.publicKeyOpenssh, metricsReadKey.publicKeyOpenssh, opsDeployKey.publicKeyOpenssh])
      .apply(([privateKey, publicKey, deployPublicKey, tlsDeployPublicKey, metricsReadPublicKey, opsDeployPublicKey]) => ({
        hostKey: { privateKey, publicKey },
        deployPublicKey,
        tlsDeployPublicKey,
        metricsReadPublicKey,
        opsDeployPublicKey,
      })),
    deployPrivateKey: deployKey.privateKeyOpenssh,
    tlsDeployPrivateKey: tlsDeployKey.privateKeyOpenssh,
    metricsReadPrivateKey: metricsReadKey.privateKeyOpenssh,
    opsDeployPrivateKey: opsDeployKey.privateKeyOpenssh,
    hostPublicKey: hostKey.publicKeyOpenssh,
  };
}

/**
 * The SSH connection to the VM as the deploy user with one of its keys: the host key is pinned, and a fresh VM gets
 * bounded time to answer.
 */
export function deployConnection(host: TurnHost, access: GeneratedVmAccess, privateKey: pulumi.Output<string>): command.types.input.remote.ConnectionArgs {
  return {
    host: host.sshAddress,
    user: DEPLOY_USER,
    privateKey,
    hostKey: access.hostPublicKey.apply((key) => key.trim()),
    dialErrorLimit: DIAL_ERROR_LIMIT,
    perDialTimeout: PER_DIAL_TIMEOUT_SECONDS,
  };
}

/** What `deliverAuthSecrets` needs. */
export interface SecretDeliveryArgs {
  /** The VM to deliver to. */
  readonly host: TurnHost;
  /** Its generated keys. */
  readonly access: GeneratedVmAccess;
  /** Every secret the server must accept, the active one first. */
  readonly authSecrets: readonly string[];
}

/** The delivery and what the VM reported. */
export interface SecretDelivery {
  /** The remote command. */
  readonly command: command.remote.Command;
  /** Fingerprints of the accepted secrets, as printed by coturn-secrets on the VM. */
  readonly acceptedSecretFingerprints: pulumi.Output<string[]>;
}

/**
 * Runs `coturn-secrets apply` on the VM over SSH with the secret set on stdin: again whenever the set changes or the
 * VM is replaced, never otherwise.
 */
export function deliverAuthSecrets(name: string, args: SecretDeliveryArgs, opts: pulumi.ComponentResourceOptions): SecretDelivery {
  const { host, access } = args;
  const delivery = new command.remote.Command(
    `${name}-auth-secrets`,
    {
      connection: deployConnection(host, access, access.deployPrivateKey),
      // The deploy key's forced command runs this whatever is asked; asking for it keeps previews readable.
      create: SECRETS_APPLY_COMMAND,
      stdin: pulumi.secret(secretSetDocument(args.authSecrets)),
      // A replaced VM starts with an empty secret table: deliver again.
      triggers: [host.instanceId],
      // The previous run's output is of no use to the script; keep the environment minimal.
      addPreviousOutputInEnv: false,
      logging: "stdoutAndStderr",
    },
    { ...opts, additionalSecretOutputs: ["stdin"] },
  );
  return {
    command: delivery,
    acceptedSecretFingerprints: delivery.stdout.apply((stdout) => [...parseAppliedSecretSet(stdout).accepted]),
  };
}
