/**
 * The API-token check shared by the clouds whose provider takes one token (DigitalOcean, Hetzner, Vultr): which
 * config key and environment variables hold it is in the cloud's profile, so the error, the README table and the
 * lab's mock settings all come from one place.
 */
import * as pulumi from "@pulumi/pulumi";
import { CLOUD_PROFILES } from "../config/cloudProfiles";
import type { DeployCloud } from "../config/schema";

/** Throws a RunError naming the fix when neither the provider's config key nor its environment holds a token. */
export function requireProviderToken(cloud: DeployCloud): void {
  const token = CLOUD_PROFILES[cloud].providerToken;
  if (token === undefined) return;
  const [namespace, key] = token.configKey.split(":");
  if (new pulumi.Config(namespace).getSecret(key) !== undefined || token.environment.some((name) => process.env[name])) return;
  throw new pulumi.RunError(
    `${cloud}: no API token is set. Set it: pulumi config set --secret ${token.configKey} <token> (or export ${token.environment[0]})`,
  );
}
