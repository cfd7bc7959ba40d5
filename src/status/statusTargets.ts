/**
 * What `npm run status` reads, from a region stack's outputs (`servers`, and `metricsAccess`, the secret one) and
 * config: one target per server, with its SSH read access and, when the stack has scrapers, the metrics password.
 * Pure: the command runs the Pulumi CLI and hands the outputs' JSON here.
 */
import { z } from "zod";
import type { MetricsReadAccess } from "../monitoring/metricsReadAccess";
import type { RawStackConfig } from "../config/rawStackConfig";
import type { ServerRef } from "./serverStatus";

/** Input the status cannot use (a stack output of the wrong shape, a missing key): the message names the fix. */
export class StatusInputError extends Error {
  override name = "StatusInputError";
}

/** One server to read. */
export interface StatusTarget {
  /** Which server. */
  readonly ref: ServerRef;
  /** How to read it; absent when the stack has no read key for it (then `missing` says why). */
  readonly access?: MetricsReadAccess;
  /** Why there is nothing to read it with. */
  readonly missing?: string;
  /** The metrics password to send (the stack has scrapers). */
  readonly password?: string;
}

const accessSchema = z.array(
  z.object({ server: z.string().min(1), address: z.string().min(1), user: z.string().min(1), hostPublicKey: z.string().min(1), privateKey: z.string().min(1) }),
);
const serversSchema = z.array(z.object({ name: z.string().min(1), publicIp: z.string().min(1) }));

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A region stack's `metricsAccess` output (JSON text); the error never shows its content (it holds keys). */
export function parseMetricsAccess(stack: string, json: string): MetricsReadAccess[] {
  const result = accessSchema.safeParse(parseJson(json));
  if (!result.success) {
    throw new StatusInputError(`the metricsAccess output of stack "${stack}" is not a list of server read keys: run \`pulumi up\` on it with this version`);
  }
  return result.data;
}

/** A region stack's `servers` output (JSON text). */
export function parseServers(stack: string, json: string): Array<{ name: string; publicIp: string }> {
  const result = serversSchema.safeParse(parseJson(json));
  if (!result.success) throw new StatusInputError(`the servers output of stack "${stack}" is not a list of servers: run \`pulumi up\` on it with this version`);
  return result.data;
}

/** Whether a region stack's config lists scrapers (`coturn:monitoring.allowedCidrs`): its VMs then want the password. */
export function stackHasScrapers(raw: RawStackConfig): boolean {
  const text = raw.values["coturn:monitoring"];
  if (text === undefined) return false;
  const parsed = parseJson(text) as { allowedCidrs?: unknown } | undefined;
  return Array.isArray(parsed?.allowedCidrs) && parsed.allowedCidrs.length > 0;
}

/**
 * One target per server of a region (the `servers` order), each with its read access; a server the access list
 * lacks gets a target that says so. An access entry without a server in `servers` is read too (named as given).
 */
export function regionTargets(
  stack: string,
  drained: boolean,
  servers: readonly { name: string; publicIp: string }[],
  access: readonly MetricsReadAccess[],
  password?: string,
): StatusTarget[] {
  const byName = new Map(access.map((a) => [a.server, a]));
  const targets: StatusTarget[] = servers.map((server) => {
    const entry = byName.get(server.name);
    const ref: ServerRef = { stack, server: server.name, address: entry?.address ?? server.publicIp, drained };
    return entry
      ? { ref, access: entry, ...(password === undefined ? {} : { password }) }
      : { ref, missing: `no metrics read key for ${server.name} in the metricsAccess output: run \`pulumi up\` on stack "${stack}" with this version` };
  });
  for (const entry of access) {
    if (servers.some((s) => s.name === entry.server)) continue;
    targets.push({ ref: { stack, server: entry.server, address: entry.address, drained }, access: entry, ...(password === undefined ? {} : { password }) });
  }
  return targets;
}
