/**
 * A small TURN client for checks against a real server, on top of werift-ice's TURN protocol code: allocate over
 * UDP, TCP or TLS (optionally an IPv6 relay), ask for permissions and channels, relay data, release the allocation,
 * and a plain STUN Binding. Every server refusal becomes a `TurnError` carrying the STUN error code.
 */
import { createSocket } from "node:dgram";
import { classes, Message, methods, parseMessage, TurnProtocol } from "werift-ice";
// werift-ice 0.2.3's entry point leaves its transports and transaction errors out (its type re-export points at a
// path missing from the package), so they come from their own modules.
import { TcpTransport, TlsTransport, UdpTransport, type TlsConnectionOptions, type Transport } from "werift-ice/lib/common/src/transport";
import type { Address } from "werift-ice/lib/common/src/network";
import { TransactionFailed } from "werift-ice/lib/ice/src/exceptions";

/** A TURN transport between client and server. */
export type TurnTransport = "udp" | "tcp" | "tls";

/** An IP address and port. */
export interface Endpoint {
  /** IPv4 or IPv6 address (or a host name where a server is meant). */
  readonly host: string;
  /** UDP or TCP port. */
  readonly port: number;
}

/** A STUN error response: the server understood the request and refused it. */
export class TurnError extends Error {
  override name = "TurnError";
  /** STUN error code (401, 403, 437, 441, 443, 486, 508, …). */
  readonly code: number;
  /** Reason phrase sent by the server. */
  readonly reason: string;

  constructor(code: number, reason: string, context: string) {
    super(`${context}: ${code} ${reason}`);
    this.code = code;
    this.reason = reason;
  }
}

/** Thrown when a request gets no answer in time. */
export class TurnTimeout extends Error {
  override name = "TurnTimeout";
}

/** What to allocate with. */
export interface AllocateOptions {
  /** The TURN server. */
  readonly server: Endpoint;
  /** Client-to-server transport. */
  readonly transport: TurnTransport;
  /** REST username (`<expiry>:<user>`), or empty to send no credentials at all. */
  readonly username: string;
  /** REST password. */
  readonly password: string;
  /** Relay address family (RFC 6156). Default: IPv4. */
  readonly family?: "ipv4" | "ipv6";
  /** TLS options: `ca` for a private CA, `servername` for SNI, `rejectUnauthorized: false` to skip verification. */
  readonly tls?: TlsConnectionOptions;
  /** Bound on connecting and on each request, in ms. Default 5000. */
  readonly timeoutMs?: number;
}

/** A live allocation on a TURN server. */
export interface Allocation {
  /** The relayed transport address the server allocated (what peers send to). */
  readonly relayed: Endpoint;
  /** The client's address as the server saw it. */
  readonly mapped: Endpoint;
  /** Installs a permission for a peer IP (CreatePermission). Rejects with TurnError on refusal. */
  createPermission(peer: Endpoint): Promise<void>;
  /** Binds a channel to a peer (ChannelBind). Rejects with TurnError on refusal. */
  channelBind(peer: Endpoint): Promise<void>;
  /** Sends data to a peer through the relay (permission first). */
  send(data: Buffer, peer: Endpoint): Promise<void>;
  /** Resolves with the next datagram relayed to us from `peer` (any peer when omitted), or rejects after `timeoutMs`. */
  receive(timeoutMs: number, peer?: Endpoint): Promise<{ data: Buffer; from: Endpoint }>;
  /** Extends the allocation (Refresh, RFC 8656 §7), as a client does before it expires. Rejects with TurnError on refusal. */
  refresh(lifetimeSeconds: number): Promise<void>;
  /** Deletes the allocation on the server (Refresh with lifetime 0) and closes the connection. */
  release(): Promise<void>;
}

const REQUESTED_ADDRESS_FAMILY_IPV6 = 0x02_00_00_00;
/** Allocations live this long; they are released explicitly, never refreshed. */
const ALLOCATION_LIFETIME_SECONDS = 600;

/** werift's TURN protocol, asking for an IPv6 relay when told to, and sending no credentials when it has none. */
class FamilyTurnProtocol extends TurnProtocol {
  constructor(
    server: Address,
    username: string,
    password: string,
    transport: Transport,
    private readonly ipv6: boolean,
  ) {
    super(server, username, password, ALLOCATION_LIFETIME_SECONDS, transport);
    // werift refreshes allocations in a loop whose pending sleep outlives close() and keeps Node running for minutes.
    // Checks finish well within one lifetime, so the loop is switched off (its property is private in the typings).
    Object.defineProperty(this, "refresh", { value: () => undefined });
  }

  override requestWithRetry(request: Message, addr: Address): Promise<[Message, Address]> {
    if (this.ipv6 && request.messageMethod === methods.ALLOCATE) {
      request.setAttribute("REQUESTED-ADDRESS-FAMILY", REQUESTED_ADDRESS_FAMILY_IPV6);
    }
    // Without a username, send the bare request once, as a scanner looking for an open relay would: werift would
    // otherwise answer the 401 challenge with empty credentials.
    return this.username === "" ? this.request(request, addr) : super.requestWithRetry(request, addr);
  }
}

/** Rejects with TurnTimeout after `ms` unless `promise` settles first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TurnTimeout(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A server answers a request whose MESSAGE-INTEGRITY it cannot verify (wrong password, expired username) with an error
 * that carries no integrity itself (RFC 8489 §9.2.4). werift rightly ignores unauthenticated responses to authenticated
 * requests, so the request would only time out; this watches the transport and rejects with the server's error instead.
 */
function unauthenticatedRefusal(turn: TurnProtocol, transport: Transport, context: string): Promise<never> {
  return new Promise<never>((_, reject) => {
    const inner = transport.onData;
    transport.onData = (data, addr) => {
      const message = parseMessage(data);
      if (message?.messageClass === classes.ERROR && !message.attributesKeys.includes("MESSAGE-INTEGRITY")) {
        // Before werift has a key, an unauthenticated 401 is the normal challenge it answers with credentials.
        if (turn.integrityKey !== undefined) {
          const [code, reason] = message.getAttributeValue("ERROR-CODE") as [number, string];
          reject(new TurnError(code, reason, context));
        }
      }
      inner(data, addr);
    };
  });
}

/** Turns werift's transaction failures into TurnError; passes anything else through. */
function asTurnError(error: unknown, context: string): unknown {
  if (error instanceof TransactionFailed) {
    const [code, reason] = error.response.getAttributeValue("ERROR-CODE") as [number, string];
    return new TurnError(code, reason, context);
  }
  return error;
}

async function openTransport(options: AllocateOptions): Promise<Transport> {
  const address: Address = [options.server.host, options.server.port];
  switch (options.transport) {
    case "udp":
      return UdpTransport.init(options.server.host.includes(":") ? "udp6" : "udp4");
    case "tcp":
      return TcpTransport.init(address);
    case "tls":
      return TlsTransport.init(address, options.tls);
  }
}

const toEndpoint = (address: Address): Endpoint => ({ host: address[0], port: address[1] });
const sameEndpoint = (a: Endpoint, b: Endpoint): boolean => a.host === b.host && a.port === b.port;

/**
 * Allocates a UDP relay on a TURN server. Rejects with TurnError when the server refuses (401 for bad or missing
 * credentials, 486 over quota, 508 when the relay range is exhausted) and TurnTimeout when it does not answer.
 */
export async function allocate(options: AllocateOptions): Promise<Allocation> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const context = `Allocate over ${options.transport} at ${options.server.host}:${options.server.port}`;
  const transport = await withTimeout(openTransport(options), timeoutMs, `${context} (connect)`);
  const turn = new FamilyTurnProtocol(
    [options.server.host, options.server.port],
    options.username,
    options.password,
    transport,
    options.family === "ipv6",
  );
  try {
    const made = turn.connectionMade();
    await withTimeout(Promise.race([made, unauthenticatedRefusal(turn, transport, context)]), timeoutMs, context);
  } catch (error) {
    await transport.close().catch(() => undefined);
    throw asTurnError(error, context);
  }

  const inbox: Array<{ data: Buffer; from: Endpoint }> = [];
  const waiters: Array<() => void> = [];
  turn.onData.subscribe((data, from) => {
    inbox.push({ data, from: toEndpoint(from) });
    waiters.splice(0).forEach((wake) => wake());
  });

  const guarded = async (what: string, run: () => Promise<unknown>): Promise<void> => {
    try {
      await withTimeout(run(), timeoutMs, what);
    } catch (error) {
      throw asTurnError(error, what);
    }
  };

  return {
    relayed: toEndpoint(turn.relayedAddress),
    mapped: toEndpoint(turn.mappedAddress),
    createPermission: (peer) => guarded(`CreatePermission for ${peer.host}`, () => turn.getPermission([peer.host, peer.port])),
    channelBind: (peer) => guarded(`ChannelBind to ${peer.host}:${peer.port}`, () => turn.getChannel([peer.host, peer.port])),
    send: (data, peer) => guarded(`Send to ${peer.host}:${peer.port}`, () => turn.sendData(data, [peer.host, peer.port])),
    receive: async (ms, peer) => {
      const deadline = Date.now() + ms;
      for (;;) {
        const index = inbox.findIndex((m) => peer === undefined || sameEndpoint(m.from, peer));
        if (index >= 0) return inbox.splice(index, 1)[0];
        const left = deadline - Date.now();
        if (left <= 0) throw new TurnTimeout(`nothing relayed to ${turn.relayedAddress.join(":")} within ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    refresh: (lifetimeSeconds) =>
      guarded("Refresh", () =>
        turn.requestWithRetry(new Message(methods.REFRESH, classes.REQUEST).setAttribute("LIFETIME", lifetimeSeconds), turn.server),
      ),
    release: async () => {
      try {
        const refresh = new Message(methods.REFRESH, classes.REQUEST).setAttribute("LIFETIME", 0);
        await withTimeout(turn.requestWithRetry(refresh, turn.server), timeoutMs, "Refresh (release)");
      } catch {
        // The server drops the allocation at expiry anyway; closing the connection is what matters here.
      } finally {
        await turn.close();
      }
    },
  };
}

/** Sends a STUN Binding request over UDP and resolves with the reflexive address the server saw. */
export async function stunBinding(server: Endpoint, timeoutMs = 3000): Promise<Endpoint> {
  const socket = createSocket(server.host.includes(":") ? "udp6" : "udp4");
  const request = new Message(methods.BINDING, classes.REQUEST).addFingerprint();
  try {
    return await withTimeout(
      new Promise<Endpoint>((resolve, reject) => {
        socket.on("error", reject);
        socket.on("message", (data) => {
          const response = parseMessage(data);
          if (!response || !response.transactionId.equals(request.transactionId)) return;
          const mapped = response.getAttributeValue("XOR-MAPPED-ADDRESS") as Address | undefined;
          if (mapped) resolve(toEndpoint(mapped));
          else reject(new Error("STUN Binding response without XOR-MAPPED-ADDRESS"));
        });
        // UDP may drop a datagram: resend a few times within the bound, as STUN's retransmission rule says.
        const sendOnce = (): void => socket.send(request.bytes, server.port, server.host);
        sendOnce();
        for (const delay of [250, 750, 1750]) setTimeout(() => socket.listenerCount("message") > 0 && sendOnce(), delay).unref();
      }),
      timeoutMs,
      `STUN Binding to ${server.host}:${server.port}`,
    );
  } finally {
    socket.removeAllListeners("message");
    socket.close();
  }
}
