/**
 * The NoCloud seed of a boot (its user-data is `userDataOnVm` of src/clouds/userData.ts): a meta-data, and a network-config that
 * gives the guest the addresses its cloud would. Pure.
 */
import { stringify } from "yaml";

/** NoCloud meta-data: a fresh instance id per boot (cloud-init runs its once-per-instance steps) and a hostname. */
export function metaData(instanceId: string, hostname: string): string {
  return stringify({ "instance-id": instanceId, "local-hostname": hostname });
}

/** One guest interface: its addresses (CIDR) and, for the main one, the default gateway. */
export interface GuestInterface {
  readonly addresses: readonly string[];
  readonly gateway?: string;
}

/**
 * A version 2 network-config giving each interface its addresses and default route; an interface with a MAC address
 * in `macs` is matched by it and given its name (a virtual machine names its NICs itself).
 */
export function networkConfig(interfaces: Readonly<Record<string, GuestInterface>>, macs: Readonly<Record<string, string>> = {}): string {
  const ethernets = Object.fromEntries(
    Object.entries(interfaces).map(([name, { addresses, gateway }]) => [
      name,
      {
        ...(macs[name] ? { match: { macaddress: macs[name] }, "set-name": name } : {}),
        addresses: [...addresses],
        // gateway4, not a route: cloud-init renders routes for ifupdown as `route add`, which minimal images lack.
        ...(gateway ? { gateway4: gateway } : {}),
      },
    ]),
  );
  return stringify({ version: 2, ethernets });
}
