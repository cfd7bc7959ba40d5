/**
 * Reads the running stack's config from the Pulumi engine and validates it before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { StackConfigError, validateStackConfig, type RawStackConfig } from "./validate";
import type { StackConfig } from "./stackConfig";

// `isConfigSecret` is exported by the SDK's runtime but marked @internal, so its type is declared here. It is the
// only way to tell whether a key was set with --secret, which validation must enforce.
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** The raw config of the running stack, as the engine passed it. */
export function rawConfigFromEngine(): RawStackConfig {
  const values = pulumi.runtime.allConfig();
  const secretKeys = new Set(Object.keys(values).filter((k) => runtimeConfig.isConfigSecret(k)));
  return { stack: pulumi.getStack(), values, secretKeys };
}

/**
 * Loads and validates the running stack's config. Invalid config becomes a `RunError`, which the CLI shows as the
 * message alone (no stack trace) before anything is created.
 */
export function loadStackConfig(): StackConfig {
  try {
    return validateStackConfig(rawConfigFromEngine());
  } catch (error) {
    if (error instanceof StackConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
}
