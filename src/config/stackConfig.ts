/**
 * The typed, validated description of one region stack that everything downstream takes.
 */
import type { Cloud, ImageChoice, Listener } from "./schema";

/** An inclusive UDP port range. */
export interface PortRange {
  /** First port, inclusive. */
  readonly min: number;
  /** Last port, inclusive. */
  readonly max: number;
}

/** TLS material for `turns:` listeners. */
export type TlsSource =
  | { readonly mode: "self-signed" }
  | { readonly mode: "provided"; readonly certificateChain: string; readonly privateKey: string };

/** Allocation and bandwidth limits, in coturn's terms (0 = no limit where allowed). */
export interface Quotas {
  /** coturn `user-quota`. */
  readonly allocationsPerUser: number;
  /** coturn `total-quota`. */
  readonly totalAllocations: number;
  /** coturn `max-bps`. */
  readonly bytesPerSecondPerAllocation: number;
  /** coturn `bps-capacity`. */
  readonly totalBytesPerSecond: number;
}

/** SSH access; closed when `allowedCidrs` is empty. */
export interface SshAccess {
  /** IPv4 CIDRs allowed to reach port 22. */
  readonly allowedCidrs: readonly string[];
  /** OpenSSH public keys installed for the image's default user. */
  readonly publicKeys: readonly string[];
}

/** Everything a region stack needs, validated, with defaults applied. */
export interface StackConfig {
  /** Pulumi stack name. */
  readonly stack: string;
  /** Cloud provider. */
  readonly cloud: Cloud;
  /** Cloud region. */
  readonly region: string;
  /** Zone inside the region, when pinned by config. */
  readonly availabilityZone?: string;
  /** DNS name clients connect to. */
  readonly domain: string;
  /** TURN realm. */
  readonly realm: string;
  /** VM size. */
  readonly instanceType: string;
  /** OS image. */
  readonly image: ImageChoice;
  /** UDP relay range. */
  readonly relayPorts: PortRange;
  /** Listeners that are on. */
  readonly listeners: ReadonlySet<Listener>;
  /** Auth secrets: the first is the one apps mint with, the rest are still accepted during a rotation. */
  readonly authSecrets: readonly [string, ...string[]];
  /** TLS certificate source. */
  readonly tls: TlsSource;
  /** Quotas. */
  readonly quotas: Quotas;
  /** SSH access. */
  readonly ssh: SshAccess;
  /** Extra resource tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** Throw-away test stack. */
  readonly ephemeral: boolean;
}
