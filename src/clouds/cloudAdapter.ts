/**
 * The small cloud-neutral interface every cloud implements: a static IP, a firewall, and a VM booted from user-data,
 * with coturn bound to the address the cloud delivers that IP to. `TurnServer` takes the typed stack config and one
 * adapter; adding a cloud means one adapter file (and its profile in config/cloudProfiles.ts).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config/stackConfig";
import type { VmAddresses } from "../plan/addresses";
import type { FirewallPlan } from "../plan/firewall";
import type { RenderedUserData } from "../render/vmFiles";

/** What an adapter is asked to build. */
export interface TurnHostArgs {
  /** The validated stack config (region, zone, size, image are read from it). */
  readonly config: StackConfig;
  /** Firewall rules, cloud-neutral. */
  readonly firewall: FirewallPlan;
  /** Renders the user-data for the addresses the host ends up with (it waits for the stack's SSH keys). */
  readonly render: (addresses: VmAddresses) => pulumi.Output<RenderedUserData>;
  /** Tags for every resource; the adapter maps them to its cloud's form (labels, `name:value` tags). */
  readonly tags: Readonly<Record<string, string>>;
  /** Protect the static IP from `pulumi destroy` (off for ephemeral test stacks). */
  readonly protectStaticIp: boolean;
}

/** What every cloud's host exposes. */
export interface TurnHost {
  /** The static public IP clients are given. */
  readonly publicIp: pulumi.Output<string>;
  /** The cloud's id of the VM. */
  readonly instanceId: pulumi.Output<string>;
  /** Name of the official image a new VM boots from. */
  readonly imageName: pulumi.Output<string>;
  /**
   * Where `pulumi up` reaches the VM's SSH server to deliver the secrets: the static IP, or on DigitalOcean the
   * Droplet's own IP (the Reserved IP answers from the anchor address only once the VM has routed it).
   */
  readonly sshAddress: pulumi.Output<string>;
}

/** One cloud. */
export interface CloudAdapter {
  /** Throws a RunError naming the fix when provider settings (project, token) are missing; creates nothing. */
  checkProviderSettings(): void;
  /** Creates the host's resources under `opts.parent`. Throws before creating anything when cloud settings are missing. */
  createHost(name: string, args: TurnHostArgs, opts: pulumi.ComponentResourceOptions): TurnHost;
}
