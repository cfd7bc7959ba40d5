/**
 * The generator's TURN allocations over TCP and TLS (what callers behind corporate firewalls use): one connection per
 * allocation to coturn's plain port (TCP) or its TLS port, Allocate and ChannelBind over the stream with werift-ice's
 * TURN protocol code (it frames STUN on streams itself), after which the connection is the generator's: it writes
 * ChannelData on it, padded to a multiple of 4 bytes (RFC 8656 §12.5), and parses the echoes coturn writes back
 * (streamFraming.ts). The relay's leg to the peer stays UDP. The lab's coturn has a self-signed certificate, which
 * is not verified: the bench measures relaying, not the certificate.
 */
import { connect as connectTcp, type AddressInfo, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { TurnProtocol } from "werift-ice";
import type { Transport } from "werift-ice/lib/common/src/transport";
import type { Address } from "werift-ice/lib/common/src/network";
import { withTimeout, type Endpoint } from "../../src/probe/turnClient";
import type { AllocationCredential } from "./generatorJob";
import { channelDataHeader, openChannelsInBatches, type SendChannel, type StreamChannel } from "./sendChannels";

/** The stream transports between client and coturn. */
export type StreamTransport = "tcp" | "tls";

/** Allocations are released by coturn's restart after each measurement, so their lifetime only has to outlast one. */
const ALLOCATION_LIFETIME_SECONDS = 600;

/**
 * Datagrams per write, at most. Over TCP, frames written together reach coturn as the same bytes as frames written one
 * by one once a connection is backed up (the kernel fills each segment from its queue), so the generator gathers up
 * to 16 per write and saves its core for sending more. Over TLS each write is a TLS record, which coturn decrypts on
 * its own: one datagram per write, as a caller sends its media, so that coturn pays for a record per datagram.
 */
export const FRAMES_PER_WRITE: Readonly<Record<StreamTransport, number>> = { tcp: 16, tls: 1 };

/**
 * werift's view of one of our connections while the allocation is set up: what arrives goes to werift (which splits
 * the stream into STUN messages) until `release()`, after which the connection carries only the generator's traffic.
 */
class SetupTransport implements Transport {
  onData: (data: Buffer, addr: Address) => void = () => undefined;
  closed = false;
  private readonly forward = (data: Buffer): void => this.onData(data, [this.socket.remoteAddress ?? "", this.socket.remotePort ?? 0]);
  // A connection that fails during setup makes the pending request time out (with its own message); without a
  // listener its error event would end the generator instead.
  private readonly ignoreError = (): void => undefined;

  constructor(
    readonly type: StreamTransport,
    private readonly socket: Socket,
  ) {
    socket.on("data", this.forward);
    socket.on("error", this.ignoreError);
  }

  get address(): AddressInfo {
    return this.socket.address() as AddressInfo;
  }

  send = (data: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      this.socket.write(data, (error) => (error ? reject(error) : resolve()));
    });

  close = async (): Promise<void> => {
    this.closed = true;
    this.socket.destroy();
  };

  /** Hands the connection over: werift hears nothing more. */
  release(): Socket {
    this.socket.off("data", this.forward);
    this.socket.off("error", this.ignoreError);
    this.onData = () => undefined;
    return this.socket;
  }
}

/** Connects to `server` over TCP or TLS (certificate not verified); resolves once the connection (and handshake) is up. */
function openConnection(server: Endpoint, transport: StreamTransport): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket =
      transport === "tcp"
        ? connectTcp({ host: server.host, port: server.port })
        : connectTls({ host: server.host, port: server.port, rejectUnauthorized: false });
    const ready = transport === "tcp" ? "connect" : "secureConnect";
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", fail);
    socket.once(ready, () => {
      socket.off("error", fail);
      // A call's media is sent as it comes: no Nagle delay on small frames (it would also distort the round trips).
      socket.setNoDelay(true);
      resolve(socket);
    });
  });
}

/** Allocates over one new connection with one credential and binds a channel to `peer`; the connection is then the generator's. */
export async function openStreamChannel(
  server: Endpoint,
  transport: StreamTransport,
  credential: AllocationCredential,
  peer: Endpoint,
  payloadBytes: number,
  timeoutMs: number,
): Promise<StreamChannel> {
  const socket = await withTimeout(openConnection(server, transport), timeoutMs, `${transport.toUpperCase()} connection to ${server.host}:${server.port}`);
  const setup = new SetupTransport(transport, socket);
  const turn = new TurnProtocol([server.host, server.port], credential.username, credential.password, ALLOCATION_LIFETIME_SECONDS, setup);
  // As over UDP: werift's refresh loop would outlive the measurement; its property is private in the typings.
  Object.defineProperty(turn, "refresh", { value: () => undefined });
  try {
    await withTimeout(turn.connectionMade(), timeoutMs, `Allocate over ${transport} at ${server.host}:${server.port} as ${credential.username}`);
    const channel = await withTimeout(turn.getChannel([peer.host, peer.port]), timeoutMs, `ChannelBind over ${transport} to ${peer.host}:${peer.port}`);
    return { kind: "stream", socket: setup.release(), header: channelDataHeader(channel.number, payloadBytes), framesPerWrite: FRAMES_PER_WRITE[transport] };
  } catch (error) {
    socket.destroy();
    throw error;
  }
}

/** One connection, allocation and channel per credential, a few at a time; closes what was opened if any of them fails. */
export function openStreamChannels(
  server: Endpoint,
  transport: StreamTransport,
  credentials: readonly AllocationCredential[],
  peer: Endpoint,
  payloadBytes: number,
  timeoutMs = 10_000,
): Promise<SendChannel[]> {
  return openChannelsInBatches(credentials, (credential) => openStreamChannel(server, transport, credential, peer, payloadBytes, timeoutMs));
}
