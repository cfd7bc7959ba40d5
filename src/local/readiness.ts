/**
 * Is a freshly started coturn serving? A STUN Binding request (RFC 8489) answered on each listener that a client can
 * reach without DTLS: UDP and TCP on the plain port, and TLS on the TLS port, where the answer also proves that
 * coturn serves the run's certificate. coturn opens its listeners a moment after it starts, and one at a time.
 */
import { X509Certificate, randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { connect as connectTcp, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";

/** The STUN magic cookie (RFC 8489 section 5). */
export const STUN_MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const HEADER_BYTES = 20;

/** A 20-byte STUN Binding request without attributes, and its transaction id. */
export function stunBindingRequest(): { message: Buffer; transactionId: Buffer } {
  const transactionId = randomBytes(12);
  const message = Buffer.alloc(HEADER_BYTES);
  message.writeUInt16BE(BINDING_REQUEST, 0);
  message.writeUInt16BE(0, 2);
  message.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  transactionId.copy(message, 8);
  return { message, transactionId };
}

/** True when `data` starts with a Binding success response to the request with `transactionId`. */
export function isBindingSuccess(data: Buffer, transactionId: Buffer): boolean {
  return (
    data.length >= HEADER_BYTES &&
    data.readUInt16BE(0) === BINDING_SUCCESS &&
    data.readUInt32BE(4) === STUN_MAGIC_COOKIE &&
    data.subarray(8, HEADER_BYTES).equals(transactionId)
  );
}

/** One way to ask coturn for a Binding response. */
export type StunProbe =
  | { readonly transport: "udp"; readonly address: string; readonly port: number }
  | { readonly transport: "tcp"; readonly address: string; readonly port: number }
  | { readonly transport: "tls"; readonly address: string; readonly port: number; readonly certificatePem: string };

/** Sends one Binding request; resolves true when it is answered within `timeoutMs`, false otherwise. */
export function stunAnswers(probe: StunProbe, timeoutMs: number): Promise<boolean> {
  const { message, transactionId } = stunBindingRequest();
  return new Promise((resolve) => {
    let settled = false;
    let cleanup = (): void => {};
    const finish = (answered: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      cleanup();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);

    if (probe.transport === "udp") {
      // Connected, so that a closed port fails at once (ICMP port unreachable) instead of at the timeout.
      const socket = createSocket("udp4");
      cleanup = () => socket.close();
      socket.on("error", () => finish(false));
      socket.on("message", (data) => {
        if (isBindingSuccess(data, transactionId)) finish(true);
      });
      socket.connect(probe.port, probe.address, () => socket.send(message));
      return;
    }

    // Over TCP and TLS, STUN messages are sent back to back; the header's length field frames them.
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= HEADER_BYTES) finish(isBindingSuccess(received, transactionId));
    };
    let socket: Socket;
    if (probe.transport === "tcp") {
      socket = connectTcp({ host: probe.address, port: probe.port }, () => socket.write(message));
    } else {
      const expected = new X509Certificate(probe.certificatePem).fingerprint256;
      // The run's own self-signed certificate: compared by fingerprint below instead of verified against a CA.
      const tls = connectTls({ host: probe.address, port: probe.port, rejectUnauthorized: false }, () => {
        if (tls.getPeerCertificate().fingerprint256 !== expected) finish(false);
        else tls.write(message);
      });
      socket = tls;
    }
    cleanup = () => socket.destroy();
    socket.on("data", onData);
    socket.on("error", () => finish(false));
    socket.on("close", () => finish(false));
  });
}

/** How long one attempt waits for its answer (coturn on this machine answers within a millisecond). */
const PROBE_TIMEOUT_MS = 500;

/** What `waitUntilServing` needs. */
export interface ReadinessOptions {
  /** The probes that must all be answered. */
  readonly probes: readonly StunProbe[];
  /** Throws (e.g. "coturn exited") to stop waiting early; called before each attempt. */
  readonly check: () => void;
  /** Overall limit. Default 10 s. */
  readonly timeoutMs?: number;
  /** Pause between attempts. Default 100 ms. */
  readonly intervalMs?: number;
}

/**
 * Resolves once every probe has been answered (each is retried until it is), or rejects when `check` throws or the
 * time is up, naming the listeners that never answered.
 */
export async function waitUntilServing(options: ReadinessOptions): Promise<void> {
  const { probes, check, timeoutMs = 10_000, intervalMs = 100 } = options;
  const deadline = Date.now() + timeoutMs;
  const pending = [...probes];
  while (pending.length > 0) {
    check();
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      const names = pending.map((p) => `${p.port}/${p.transport}`).join(", ");
      throw new Error(`coturn did not answer STUN on ${names} within ${Math.round(timeoutMs / 1000)} s`);
    }
    if (await stunAnswers(pending[0], Math.min(PROBE_TIMEOUT_MS, remaining))) {
      pending.shift();
      continue;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
