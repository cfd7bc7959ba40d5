/**
 * Reads the running stack's config from the Pulumi engine and validates it before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { validateGlobalStackConfig, validateStackConfig } from "./validate";
import { StackConfigError } from "./configProblems";
import { isLocalStack, type RawStackConfig } from "./rawStackConfig";
import { DEPLOY_CLOUDS } from "./schema";
import type { GlobalStackConfig, StackConfig } from "./stackConfig";

// `isConfigSecret` is exported by the SDK's runtime but marked @internal, so its type is declared here. It is the
// only way to tell whether a key was set with --secret, which validation must enforce.
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** The raw config of the running stack, as the engine passed it. */
export function rawConfigFromEngine(): RawStackConfig {
  const values = pulumi.runtime.allConfig();
  const secretKeys = new Set(Object.keys(values).filter((k) => runtimeConfig.isConfigSecret(k)));
  return { stack: pulumi.getStack(), values, secretKeys };
}

/** Why `pulumi up` does not deploy a local stack, and what runs it instead. */
export function localStackRefusal(stack: string): string {
  const clouds = `${DEPLOY_CLOUDS.slice(0, -1).join(", ")} and ${DEPLOY_CLOUDS.at(-1)}`;
  return `stack ${stack} has coturn:cloud local: run it with \`npm run local\`, \`pulumi up\` deploys ${clouds} stacks`;
}

/**
 * Loads and validates the running stack's config. Invalid config becomes a `RunError`, which the CLI shows as the
 * message alone (no stack trace) before anything is created. A local stack is refused first, before its config is
 * validated (it has no secret of its own to validate).
 */
export function loadStackConfig(raw: RawStackConfig = rawConfigFromEngine()): StackConfig {
  if (isLocalStack(raw)) throw new pulumi.RunError(localStackRefusal(raw.stack));
  return asRunError(() => validateStackConfig(raw));
}

/** Loads and validates a global stack's config (`coturn:cloud: global`); invalid config becomes a `RunError`. */
export function loadGlobalStackConfig(raw: RawStackConfig = rawConfigFromEngine()): GlobalStackConfig {
  return asRunError(() => validateGlobalStackConfig(raw));
}

/** Runs `load`, turning a `StackConfigError` into the `RunError` the CLI shows as the message alone. */
function asRunError<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof StackConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}
