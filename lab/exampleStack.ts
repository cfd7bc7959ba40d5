/**
 * The example stacks as the lab runs them: their stack files with lab-only values in place of the encrypted ones (a
 * secret, a Cloudflare token, provider settings) and placeholder SSH keys for rendering their VMs. The tests' mocks
 * (lab/mocks/mockCloud.ts, test/support/program.ts) use these same values, so what the lab runs is what the program renders
 * under mocks.
 */
import { CLOUD_PROFILES } from "../src/config/cloudProfiles";
import { DEPLOY_CLOUDS } from "../src/config/schema";
import type { StackConfig } from "../src/config/stackConfig";
import { readStackFile } from "../src/config/stackFile";
import { validateStackConfig } from "../src/config/validate";
import type { VmAccess } from "../src/render/deployChannel";

/** A 64-character secret used only by the lab and the tests; assertions check that it never shows up in outputs. */
export const LAB_SECRET = "T3st-only-secret-Zm9vYmFyYmF6cXV4LWNvdHVybi1wdWx1bWktdGVzdHM0NTY3OA";

/** A Cloudflare API token used only by the lab and the tests; assertions check that it never shows up in outputs or user-data. */
export const LAB_CLOUDFLARE_TOKEN = "T3st-only-cloudflare-token-0123456789abcdef";

/**
 * Placeholder keys for rendering a VM: the host key pair and the deploy keys' public halves. The tests' mocked tls
 * provider "generates" exactly these (lab/mocks/mockCloud.ts: MOCK_ACCESS).
 */
export const PLACEHOLDER_ACCESS: VmAccess = {
  hostKey: {
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nbW9jayBob3N0IGtleQ==\n-----END OPENSSH PRIVATE KEY-----\n",
    publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1vY2staG9zdC1rZXktbW9jay1ob3N0LWtleS0wMDAw\n",
  },
  deployPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1vY2stZGVwbG95LWtleS1tb2NrLWRlcGxveS0wMDAw\n",
  tlsDeployPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1vY2stdGxzLWRlcGxveS1rZXktbW9jay0wMDAw\n",
  metricsReadPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1vY2stbWV0cmljcy1yZWFkLWtleS1tb2NrLTAwMDA=\n",
  opsDeployPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG1vY2stbW9uaXRvcmluZy1kZXBsb3kta2V5LTAwMDA=\n",
};

/** An example stack's raw config: its stack name, config values, and which keys are secret. */
export interface ExampleStackValues {
  stack: string;
  values: Record<string, string>;
  secretKeys: string[];
}

/** The example region stack of every cloud `pulumi up` deploys to: stacks/Pulumi.<cloud>-example.yaml. */
export const EXAMPLE_REGION_STACKS: readonly string[] = DEPLOY_CLOUDS.map((cloud) => `${cloud}-example`);

/**
 * Provider settings an example stack needs besides its stack file (users set them, or their environment does): a
 * mock API token under the cloud's token key, for the clouds that take one.
 */
function providerSettings(values: Readonly<Record<string, string>>): Record<string, string> {
  const cloud = DEPLOY_CLOUDS.find((c) => c === values["coturn:cloud"]);
  const token = cloud && CLOUD_PROFILES[cloud].providerToken;
  return token ? { [token.configKey]: `mock-${cloud}-token` } : {};
}

/** An example stack's config values, with the lab's values in place of its encrypted ones. Default: the AWS example. */
export function exampleStackValues(stack = "aws-example"): ExampleStackValues {
  const raw = readStackFile(stack, { mode: "placeholder" });
  const provider = providerSettings(raw.values);
  const token: Record<string, string> =
    raw.values["coturn:cloudflareApiToken"] === undefined ? {} : { "coturn:cloudflareApiToken": LAB_CLOUDFLARE_TOKEN };
  return {
    stack: raw.stack,
    values: { ...raw.values, ...provider, "coturn:authSecret": LAB_SECRET, ...token },
    secretKeys: [...raw.secretKeys, ...Object.keys(provider)],
  };
}

/** An example stack's validated config, with the lab's secret: what the program deploys under mocks. */
export function exampleStackConfig(stack = "aws-example"): StackConfig {
  const raw = exampleStackValues(stack);
  return validateStackConfig({ stack: raw.stack, values: raw.values, secretKeys: new Set(raw.secretKeys) });
}
