/**
 * The vocabulary of a call-outcome report (`POST /ice-report`), shared by the browser module that sends it and the
 * endpoint that validates and counts it. Plain values and types only: no DOM, no Node, so both sides can import it.
 */

/** Where a report goes, next to `/ice-servers`. */
export const ICE_REPORT_PATH = "/ice-report";

/** Whether the call connected. */
export const OUTCOMES = ["connected", "failed"] as const;

/** ICE candidate types (RTCIceCandidateType): on this machine, the NAT's address, a peer-reflexive one, the relay. */
export const CANDIDATE_TYPES = ["host", "srflx", "prflx", "relay"] as const;

/**
 * How the selected pair's local candidate reaches the network: for a relay candidate, how the browser reaches the
 * TURN server (`relayProtocol`: udp, tcp or tls); for the others, the candidate's own protocol (udp or tcp).
 */
export const PROTOCOLS = ["udp", "tcp", "tls"] as const;

/**
 * Why a call failed, most specific first (the browser module picks the first that applies):
 * - `turn-401`: the TURN server refused the credential (`icecandidateerror` with errorCode 401): expired or minted
 *   with another secret;
 * - `tls-failure`: a `turns:` server could not be reached over TLS (errorCode 701 on a `turns:` URL);
 * - `no-relay-candidate`: the call did not connect and no relay candidate was gathered: TURN unreachable (blocked
 *   ports, server down) or not configured at all (STUN only), so nothing could carry the call across strict NATs;
 * - `timeout`: relay candidates were gathered, but ICE neither connected nor failed within the app's time limit;
 * - `ice-failed`: ICE failed although relay candidates were gathered (no pair worked).
 */
export const FAILURE_REASONS = ["turn-401", "tls-failure", "no-relay-candidate", "timeout", "ice-failed"] as const;

/** The largest round-trip time a report may carry, in seconds (anything above is a broken clock, not a call). */
export const MAX_RTT_SECONDS = 60;

/** The largest report body the endpoint reads, in bytes (a real report is about 150). */
export const MAX_REPORT_BYTES = 4096;

/** One of OUTCOMES. */
export type Outcome = (typeof OUTCOMES)[number];
/** One of CANDIDATE_TYPES. */
export type CandidateType = (typeof CANDIDATE_TYPES)[number];
/** One of PROTOCOLS. */
export type CandidateProtocol = (typeof PROTOCOLS)[number];
/** One of FAILURE_REASONS. */
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** A call that connected: what its selected candidate pair was. */
export interface ConnectedReport {
  /** Discriminant. */
  readonly outcome: "connected";
  /** The type of this side's candidate of the selected pair. */
  readonly localCandidateType: CandidateType;
  /** The type of the other side's candidate of the selected pair. */
  readonly remoteCandidateType: CandidateType;
  /** See PROTOCOLS. */
  readonly protocol: CandidateProtocol;
  /** The selected pair's `currentRoundTripTime` from getStats, 0 to MAX_RTT_SECONDS; absent when not yet measured. */
  readonly rttSeconds?: number;
}

/** A call that did not connect, and why. */
export interface FailedReport {
  /** Discriminant. */
  readonly outcome: "failed";
  /** See FAILURE_REASONS. */
  readonly reason: FailureReason;
}

/** The body of `POST /ice-report` (JSON, `Content-Type: application/json`). */
export type IceReport = ConnectedReport | FailedReport;
