/**
 * A lint of the rendered files for settings known to hurt a relay under load. It reads the files as coturn and the
 * kernel will (the last value of a key wins), so a template change that turns on per-packet logging, drops the kernel
 * buffer tuning or narrows the relay range below the sized load stops `pulumi up` and `npm run render` instead of
 * costing calls in production.
 */
import type { SizingPlan } from "../config/capacity";

/** What the kernel must allow: coturn asks for 2 MiB socket buffers; bursts of small packets need a deep backlog. */
export const REQUIRED_KERNEL_SETTINGS = {
  "net.core.rmem_max": 2_097_152,
  "net.core.wmem_max": 2_097_152,
  "net.core.netdev_max_backlog": 5_000,
} as const;

/** coturn options that log every packet: FACTS.md measured double the CPU and 11% packet loss under load. */
const PER_PACKET_LOGGING = /^(Verbose|V)\s*$|^(Verbose|V)\s*=/;

/** Last value of each `key=value` (or bare `key`) line of a coturn or sysctl file, comments skipped. */
function settings(text: string, separator: RegExp): Map<string, string> {
  const map = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const [key, ...rest] = line.split(separator);
    map.set(key.trim(), rest.join("=").trim());
  }
  return map;
}

/** The problems found in a rendered turnserver.conf and sysctl file; empty when the relay is set up for load. */
export function relayLintProblems(turnserverConf: string, sysctl: string, sizing?: SizingPlan): string[] {
  const problems: string[] = [];
  for (const line of turnserverConf.split("\n")) {
    if (PER_PACKET_LOGGING.test(line.trim())) {
      problems.push(`turnserver.conf turns on per-packet logging ("${line.trim()}"): it doubles coturn's CPU and loses packets under load. Use "verbose" (session events) or nothing`);
    }
  }
  const coturn = settings(turnserverConf, /=/);
  const min = Number(coturn.get("min-port"));
  const max = Number(coturn.get("max-port"));
  if (!Number.isInteger(min) || !Number.isInteger(max)) {
    problems.push("turnserver.conf sets no min-port/max-port: coturn would relay on its built-in range, which the firewall does not open");
  } else if (sizing && max - min + 1 < sizing.allocationsPerServer) {
    problems.push(`turnserver.conf relays on ${max - min + 1} ports (${min}-${max}), fewer than the ${sizing.allocationsPerServer} allocations sized per server`);
  }
  const kernel = settings(sysctl, /=/);
  for (const [key, least] of Object.entries(REQUIRED_KERNEL_SETTINGS)) {
    const value = Number(kernel.get(key));
    if (!Number.isFinite(value) || value < least) {
      problems.push(`the sysctl file sets ${key} to ${kernel.get(key) ?? "nothing"}; a relay needs at least ${least} (kernel default buffers drop bursts of media packets)`);
    }
  }
  return problems;
}
