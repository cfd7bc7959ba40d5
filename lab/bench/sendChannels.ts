/**
 * The generator's sockets. Over TURN: one UDP allocation per credential with a channel bound to the peer, set up
 * with werift-ice's TURN protocol code (as the project's probe does), after which the generator writes ChannelData
 * frames on the raw socket itself: werift's per-packet promises would make the generator, not coturn, the bottleneck.
 * Raw: plain UDP sockets connected to the peer. Every socket is connected to the address it sends to, which is the
 * cheapest way for Node to send a datagram. TURN over TCP and TLS opens its connections in streamChannels.ts.
 */
import { createSocket, type Socket } from "node:dgram";
import type { Socket as NetSocket } from "node:net";
import { TurnProtocol } from "werift-ice";
import { UdpTransport } from "werift-ice/lib/common/src/transport";
import { withTimeout, type Endpoint } from "../../src/probe/turnClient";
import { CHANNEL_DATA_HEADER_BYTES, type AllocationCredential } from "./generatorJob";

/** A UDP socket the generator sends datagrams on: one ChannelData message (or raw payload) each. */
export interface DatagramChannel {
  readonly kind: "datagram";
  /** Connected to the TURN server (TURN) or to the peer (raw). */
  readonly socket: Socket;
  /** The ChannelData header to put before each payload, or an empty buffer for raw UDP. */
  readonly header: Buffer;
}

/** A TCP or TLS connection to the TURN server carrying one allocation's ChannelData (streamChannels.ts). */
export interface StreamChannel {
  readonly kind: "stream";
  /** The connection (a TLSSocket is a net.Socket too), with nothing listening on its data yet. */
  readonly socket: NetSocket;
  /** The ChannelData header to put before each payload; the payload is then padded to a multiple of 4 bytes. */
  readonly header: Buffer;
  /** At most this many datagrams go in one write (over TLS 1: each is its own TLS record, as a caller's media is). */
  readonly framesPerWrite: number;
}

/** One allocation (or raw socket) the generator sends on. */
export type SendChannel = DatagramChannel | StreamChannel;

/** Allocations are released by coturn's restart after each measurement, so their lifetime only has to outlast one. */
const ALLOCATION_LIFETIME_SECONDS = 600;
/** How many allocations are set up at once (werift retransmits; hundreds at once would only add retransmissions). */
const SETUP_CONCURRENCY = 16;

/** The ChannelData header for `channel` and a payload of `payloadBytes`. */
export function channelDataHeader(channel: number, payloadBytes: number): Buffer {
  const header = Buffer.alloc(CHANNEL_DATA_HEADER_BYTES);
  header.writeUInt16BE(channel, 0);
  header.writeUInt16BE(payloadBytes, 2);
  return header;
}

function connect(socket: Socket, to: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once("error", reject);
    socket.connect(to.port, to.host, () => {
      socket.off("error", reject);
      resolve();
    });
  });
}

/** Allocates on `server` with one credential and binds a channel to `peer`; the socket is then the generator's. */
async function openTurnChannel(server: Endpoint, credential: AllocationCredential, peer: Endpoint, payloadBytes: number, timeoutMs: number): Promise<SendChannel> {
  const transport = await UdpTransport.init("udp4");
  const turn = new TurnProtocol([server.host, server.port], credential.username, credential.password, ALLOCATION_LIFETIME_SECONDS, transport);
  // werift refreshes allocations in a loop whose pending sleep outlives the socket; a measurement is far shorter
  // than one lifetime, so the loop is switched off (its property is private in the typings).
  Object.defineProperty(turn, "refresh", { value: () => undefined });
  try {
    await withTimeout(turn.connectionMade(), timeoutMs, `Allocate at ${server.host}:${server.port} as ${credential.username}`);
    const channel = await withTimeout(turn.getChannel([peer.host, peer.port]), timeoutMs, `ChannelBind to ${peer.host}:${peer.port}`);
    // From here on the socket carries only ChannelData: werift's listener goes, the generator adds its own.
    transport.socket.removeAllListeners("message");
    await connect(transport.socket, server);
    return { kind: "datagram", socket: transport.socket, header: channelDataHeader(channel.number, payloadBytes) };
  } catch (error) {
    transport.socket.close();
    throw error;
  }
}

/** Opens one channel per credential with `open`, a few at a time; closes what was opened if any of them fails. */
export async function openChannelsInBatches(
  credentials: readonly AllocationCredential[],
  open: (credential: AllocationCredential) => Promise<SendChannel>,
): Promise<SendChannel[]> {
  const opened: SendChannel[] = [];
  try {
    for (let start = 0; start < credentials.length; start += SETUP_CONCURRENCY) {
      const batch = credentials.slice(start, start + SETUP_CONCURRENCY);
      const settled = await Promise.allSettled(batch.map(open));
      for (const outcome of settled) if (outcome.status === "fulfilled") opened.push(outcome.value);
      const refused = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === "rejected");
      if (refused) throw refused.reason;
    }
    return opened;
  } catch (error) {
    closeChannels(opened);
    throw error;
  }
}

/** One UDP allocation and channel per credential, a few at a time; closes what was opened if any of them fails. */
export function openTurnChannels(
  server: Endpoint,
  credentials: readonly AllocationCredential[],
  peer: Endpoint,
  payloadBytes: number,
  timeoutMs = 10_000,
): Promise<SendChannel[]> {
  return openChannelsInBatches(credentials, (credential) => openTurnChannel(server, credential, peer, payloadBytes, timeoutMs));
}

/** `count` plain UDP sockets connected to `peer`. */
export async function openRawChannels(count: number, peer: Endpoint): Promise<SendChannel[]> {
  const opened: SendChannel[] = [];
  for (let i = 0; i < count; i++) {
    const socket = createSocket("udp4");
    opened.push({ kind: "datagram", socket, header: Buffer.alloc(0) });
    await connect(socket, peer);
  }
  return opened;
}

/** Closes every socket (coturn drops the allocations when it is stopped after the measurement). */
export function closeChannels(channels: readonly SendChannel[]): void {
  for (const channel of channels) {
    try {
      if (channel.kind === "datagram") channel.socket.close();
      else channel.socket.destroy();
    } catch {
      // Already closed.
    }
  }
}
