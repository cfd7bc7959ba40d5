/**
 * What the bench's load generator is asked to do and what it answers. The generator runs as its own process inside
 * the lab's client namespace (`generatorProcess.ts`); the bench hands it one job in an environment variable (it holds
 * minted TURN passwords, which never go in arguments) and reads JSON lines from its stdout. The measurement window is
 * set from outside by signals, so the bench's CPU and counter samples and the generator's own counts cover the same
 * interval.
 */
import type { Endpoint, TurnTransport } from "../../src/probe/turnClient";

/** The environment variable that carries the JSON job. */
export const GENERATOR_JOB_VARIABLE = "BENCH_GENERATOR_JOB";

/** Sent by the bench when the measurement window opens (warm-up is over). */
export const WINDOW_START_SIGNAL = "SIGUSR1";

/** Sent by the bench when the window closes: the generator stops sending, waits for late echoes, reports, exits. */
export const WINDOW_END_SIGNAL = "SIGUSR2";

/** The bytes ChannelData puts in front of each relayed datagram (channel number and length, RFC 8656 §12.4). */
export const CHANNEL_DATA_HEADER_BYTES = 4;

/** A TURN REST credential for one allocation. */
export interface AllocationCredential {
  readonly username: string;
  readonly password: string;
}

/** Where the packets go: through TURN allocations as ChannelData, or straight to the peer as plain UDP. */
export type GeneratorRoute =
  /**
   * One allocation (own socket or connection, own channel to the peer) per credential, over `transport` between
   * client and server (the relay's leg to the peer is UDP whatever it is).
   */
  | { readonly kind: "turn"; readonly transport: TurnTransport; readonly server: Endpoint; readonly credentials: readonly AllocationCredential[] }
  /** Plain UDP from `sockets` sockets, no relay: the network's ceiling. */
  | { readonly kind: "raw"; readonly sockets: number };

/** How fast to send, in datagrams per second summed over every allocation or socket. */
export type GeneratorPace =
  /** As fast as the generator can, but never above `ceilingPerSecond` (what keeps each allocation under max-bps). */
  | { readonly kind: "unpaced"; readonly ceilingPerSecond: number }
  /** Evenly spread at `perSecond`, in bursts of one timer tick (about 1 ms). */
  | { readonly kind: "paced"; readonly perSecond: number };

/** One generator run. */
export interface GeneratorJob {
  readonly route: GeneratorRoute;
  /** The peer packets are sent to (an echo server when `echo`, a port that drops them otherwise). */
  readonly peer: Endpoint;
  /** Bytes of payload in each datagram the peer receives. */
  readonly payloadBytes: number;
  readonly pace: GeneratorPace;
  /** Whether the peer echoes: then every packet carries a sequence number and round trips are timed. */
  readonly echo: boolean;
  /** After the window closes, how long to wait for echoes still in flight before counting the rest as lost. */
  readonly graceMs: number;
  /** The generator exits on its own after this long, whatever happens (bounded even if the bench dies). */
  readonly lifetimeMs: number;
}

/** Round-trip time percentiles in milliseconds. */
export interface RoundTripPercentiles {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** The lines the generator prints, one JSON object each. */
export type GeneratorEvent =
  /** Allocations and channels are set up (or raw sockets open); sending has started (warm-up). */
  | { readonly event: "ready"; readonly channels: number; readonly setupMs: number }
  /** What happened inside the window. */
  | { readonly event: "result"; readonly result: GeneratorResult }
  /** The job could not run (e.g. an allocation was refused). */
  | { readonly event: "error"; readonly message: string };

/** The generator's own account of the window. */
export interface GeneratorResult {
  /** Window length as the generator saw it. */
  readonly windowMs: number;
  /** Datagrams sent inside the window. */
  readonly sent: number;
  /** Sent datagrams whose echo came back (echo jobs only; 0 otherwise). */
  readonly echoed: number;
  /** sent − echoed (echo jobs only). */
  readonly lost: number;
  /** Round-trip percentiles of the echoed datagrams, or null without echoes. */
  readonly roundTripMs: RoundTripPercentiles | null;
  /** Sends the socket refused (e.g. a full send buffer). */
  readonly sendErrors: number;
  /** ChannelData messages received inside the window, whenever they were sent (what coturn relayed back to the client). */
  readonly received: number;
  /**
   * Over TCP and TLS: datagrams the pace asked for inside the window while their connection already had more than the
   * generator's backlog bound unwritten (coturn was not reading fast enough). They count as sent, so as lost when
   * echoed; never written. Always 0 over UDP, where the kernel drops what coturn cannot read.
   */
  readonly heldBack: number;
}
