/**
 * Are coturn's ports free? coturn says nothing useful about a busy port: it shares the port with another coturn
 * (both set SO_REUSEPORT; the kernel then spreads clients over the two) and retries binding a port that another
 * program holds forever, logging "Cannot bind" but never exiting. So `npm run local` binds each listener port itself
 * first (exclusively, then closes it) and refuses to start on a busy one. Also the sanity check of the relay range
 * for a run on one machine.
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { LISTENER_PORTS, type Listener } from "../config/schema";
import type { PortRange } from "../config/stackConfig";

/** One socket coturn opens for a listener. */
export interface ListenerSocket {
  /** The listener it belongs to. */
  readonly listener: Listener;
  /** Port number. */
  readonly port: number;
  /** Transport protocol. */
  readonly protocol: "udp" | "tcp";
  /** What the socket serves, for messages. */
  readonly serves: string;
}

/** A listener socket that could not be bound, and why. */
export interface BusyPort extends ListenerSocket {
  /** The address that was tried. */
  readonly address: string;
  /** The bind error code, e.g. EADDRINUSE or EACCES. */
  readonly code: string;
}

/** The sockets coturn opens for the given listeners (`tls-443` is not possible locally and is not listed). */
export function listenerSockets(listeners: ReadonlySet<Listener>): ListenerSocket[] {
  const { plain, tls } = LISTENER_PORTS;
  const all: ListenerSocket[] = [
    { listener: "udp", port: plain, protocol: "udp", serves: "turn: over UDP" },
    { listener: "tcp", port: plain, protocol: "tcp", serves: "turn: over TCP" },
    { listener: "tls", port: tls, protocol: "tcp", serves: "turns: over TLS" },
    { listener: "dtls", port: tls, protocol: "udp", serves: "turns: over DTLS" },
  ];
  return all.filter((s) => listeners.has(s.listener));
}

/** Binds one socket exclusively and closes it again; resolves with the bind error code, or undefined when free. */
function tryBind(address: string, socket: ListenerSocket): Promise<string | undefined> {
  return new Promise((resolve) => {
    const codeOf = (error: Error): string => (error as NodeJS.ErrnoException).code ?? error.message;
    if (socket.protocol === "udp") {
      const udp = createSocket({ type: "udp4", reuseAddr: false });
      udp.once("error", (error) => {
        udp.close();
        resolve(codeOf(error));
      });
      udp.bind({ address, port: socket.port, exclusive: true }, () => udp.close(() => resolve(undefined)));
    } else {
      const server = createServer();
      server.once("error", (error) => resolve(codeOf(error)));
      server.listen({ host: address, port: socket.port, exclusive: true }, () => server.close(() => resolve(undefined)));
    }
  });
}

/** Tries every socket on `address`; returns the ones that are taken (or not allowed), in order. */
export async function findBusyPorts(address: string, sockets: readonly ListenerSocket[]): Promise<BusyPort[]> {
  const busy: BusyPort[] = [];
  for (const socket of sockets) {
    const code = await tryBind(address, socket);
    if (code !== undefined) busy.push({ ...socket, address, code });
  }
  return busy;
}

/** A message for one busy port: which one, why it matters and how to find what holds it. */
export function busyPortMessage(busy: BusyPort): string {
  const where = `port ${busy.port}/${busy.protocol} on ${busy.address} (${busy.serves})`;
  if (busy.code === "EADDRINUSE") {
    return (
      `${where} is already in use (coturn would share it with another coturn without a word, or retry binding it forever). ` +
      `\`ss -lntup 'sport = :${busy.port}'\` shows which process holds it (a coturn system service? \`sudo systemctl stop coturn\`); ` +
      `stop it, or use another address with --listen`
    );
  }
  return `${where} cannot be bound (${busy.code}). Use another address with --listen`;
}

/** Fewest relay ports a local run accepts: two browsers on one machine with up to 3 allocations each. */
export const MIN_LOCAL_RELAY_PORTS = 6;

/** Why a relay range does not suit a local run, or undefined when it does. */
export function localRelayRangeProblem(range: PortRange): string | undefined {
  const size = range.max - range.min + 1;
  if (size < MIN_LOCAL_RELAY_PORTS) {
    return (
      `coturn:relayPorts = "${range.min}-${range.max}" holds ${size} ports; two browsers need up to ${MIN_LOCAL_RELAY_PORTS} ` +
      `(one allocation per port, up to 3 per browser). Use e.g. "49152-49407" in the stack file`
    );
  }
  return undefined;
}
