/**
 * The address a local coturn listens and relays on: one IPv4 address that an interface of this machine has. coturn
 * itself would not say that an address is wrong: it retries binding it forever.
 */
import { isIPv4 } from "node:net";
import { networkInterfaces } from "node:os";

/** The default listening address: loopback, reachable by browsers on this machine only. */
export const DEFAULT_LISTEN_ADDRESS = "127.0.0.1";

/** The IPv4 addresses the interfaces of this machine (of this network namespace) have, loopback first. */
export function localIpv4Addresses(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => entry.family === "IPv4")
    .map((entry) => entry.address);
  return [...new Set(addresses)].sort((a, b) => Number(!a.startsWith("127.")) - Number(!b.startsWith("127.")));
}

/**
 * Why `address` cannot be listened on, or undefined when it can: it must be one IPv4 address (not the wildcard) that
 * an interface here has. `available` defaults to the machine's addresses (tests pass their own).
 */
export function listenAddressProblem(address: string, available: readonly string[] = localIpv4Addresses()): string | undefined {
  const choices = available.length > 0 ? ` Addresses here: ${available.join(", ")}.` : "";
  if (!isIPv4(address)) {
    return `--listen ${JSON.stringify(address)} is not an IPv4 address: give one address of this machine, e.g. --listen ${DEFAULT_LISTEN_ADDRESS}.${choices}`;
  }
  if (address === "0.0.0.0") {
    return `--listen 0.0.0.0 is the wildcard: coturn needs one address to relay on and the URLs need one to name.${choices}`;
  }
  if (!available.includes(address)) {
    return `--listen ${address}: no interface of this machine has that address (coturn would retry binding it forever).${choices}`;
  }
  return undefined;
}
