/**
 * Real SSH keys for tests that check rendered files with real tools (cloud-init's schema, sshd), made with
 * ssh-keygen the way Pulumi's tls provider makes them (ED25519, OpenSSH format), once per test process.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { VmAccess } from "../src/render/deployChannel";
import { requireCommands } from "./netlab";

/** An ED25519 key pair in OpenSSH format. */
export interface SshKeyPair {
  readonly privateKey: string;
  readonly publicKey: string;
}

/** Generates an ED25519 key pair with ssh-keygen (openssh-client). */
export function generateSshKeyPair(comment: string): SshKeyPair {
  requireCommands([["/usr/bin/ssh-keygen", "openssh-client"]]);
  const dir = mkdtempSync(join(tmpdir(), "sshkey-"));
  try {
    const file = join(dir, "key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file]);
    return { privateKey: readFileSync(file, "utf8"), publicKey: readFileSync(`${file}.pub`, "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let cached: { access: VmAccess; deployPrivateKey: string } | undefined;

/** A VM's host key and a deploy key, generated once per process. */
export function testVmAccess(): { access: VmAccess; deployPrivateKey: string } {
  if (!cached) {
    const host = generateSshKeyPair("test-host");
    const deploy = generateSshKeyPair("test-deploy");
    const tlsDeploy = generateSshKeyPair("test-tls-deploy");
    const metricsRead = generateSshKeyPair("test-metrics-read");
    const opsDeploy = generateSshKeyPair("test-ops-deploy");
    cached = {
      access: { hostKey: host, deployPublicKey: deploy.publicKey, tlsDeployPublicKey: tlsDeploy.publicKey, metricsReadPublicKey: metricsRead.publicKey,
        opsDeployPublicKey: opsDeploy.publicKey,
      },
      deployPrivateKey: deploy.privateKey,
    };
  }
  return cached;
}
