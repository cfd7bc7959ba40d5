/**
 * The NoCloud seed of a boot: the user-data as each cloud hands it to its VM, a meta-data, and a network-config that
 * gives the guest the addresses its cloud would. Pure.
 */
import { encodeAwsUserData } from "../../src/clouds/aws";
import { checkDigitalOceanUserData } from "../../src/clouds/digitalocean";
import type { DeployCloud } from "../../src/config/schema";
import { stringify } from "yaml";

/** The user-data bytes a cloud's VM receives: EC2 gets it gzipped (base64 only on the API), the others as text. */
export function cloudUserData(cloud: DeployCloud, userData: string): Buffer {
  switch (cloud) {
    case "aws":
      return Buffer.from(encodeAwsUserData(userData), "base64");
    case "digitalocean":
      return Buffer.from(checkDigitalOceanUserData(userData), "utf8");
    case "gcp":
      return Buffer.from(userData, "utf8");
  }
}

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
