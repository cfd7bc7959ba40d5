/**
 * Packet counters in the lab's client and peer namespaces (nftables named counters), read before and after each
 * measurement window. They count what the kernel delivered, independently of the generator: what the client sent to
 * coturn, what coturn relayed to the peer, what coturn relayed back to the client, and what reached the peer without
 * a relay. The peer's sink port drops its packets right there (no socket, no ICMP back to the sender).
 *
 * The client's two counters count UDP datagrams only. Over TCP and TLS the client's packets are segments, which say
 * nothing about datagrams (a segment carries several ChannelData messages, or part of one): there those two read 0,
 * and the generator's own counts stand in (what it offered, and the ChannelData messages it split out of the stream;
 * relaySamples.ts). The peer's counters count the relay's UDP datagrams whatever the client's transport.
 */
import { spawnSync } from "node:child_process";
import type { NetLab } from "../netlab";

/** The named counters. */
export type CounterName = "clientToServer" | "serverToClient" | "relayToPeer" | "clientToPeer";

/** Packets counted so far (or in a window), per counter. */
export type PacketCounts = Readonly<Record<CounterName, number>>;

/** Where the counters sit. */
export interface CounterPlacement {
  readonly lab: NetLab;
  readonly clientNs: string;
  readonly peerNs: string;
  /** The address the client reaches coturn on (the static public IP), which is also where relayed packets come from. */
  readonly serverIp: string;
  readonly serverPort: number;
  readonly clientIp: string;
  /** The peer port that drops everything it receives. */
  readonly sinkPort: number;
}

const TABLE = "coturn_bench";

function loadRules(ns: string, rules: string): void {
  const result = spawnSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], { input: rules, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`nft in ${ns} failed: ${result.stderr}`);
}

/** Installs the counters (and the peer's sink). */
export function installCounters(at: CounterPlacement): void {
  loadRules(
    at.clientNs,
    `table ip ${TABLE} {
  counter clientToServer {}
  counter serverToClient {}
  chain output {
    type filter hook output priority 0;
    ip daddr ${at.serverIp} udp dport ${at.serverPort} counter name "clientToServer"
  }
  chain input {
    type filter hook input priority 0;
    ip saddr ${at.serverIp} udp sport ${at.serverPort} counter name "serverToClient"
  }
}
`,
  );
  loadRules(
    at.peerNs,
    `table ip ${TABLE} {
  counter relayToPeer {}
  counter clientToPeer {}
  chain input {
    type filter hook input priority 0;
    ip saddr ${at.serverIp} ip protocol udp counter name "relayToPeer"
    ip saddr ${at.clientIp} ip protocol udp counter name "clientToPeer"
    udp dport ${at.sinkPort} drop
  }
}
`,
  );
}

function readTable(lab: NetLab, ns: string): Map<string, number> {
  const listing = JSON.parse(lab.exec(ns, "nft", "-j", "list", "table", "ip", TABLE)) as {
    nftables: Array<{ counter?: { name: string; packets: number } }>;
  };
  const counts = new Map<string, number>();
  for (const item of listing.nftables) if (item.counter) counts.set(item.counter.name, item.counter.packets);
  return counts;
}

/** Reads every counter. */
export function readCounters(at: CounterPlacement): PacketCounts {
  const client = readTable(at.lab, at.clientNs);
  const peer = readTable(at.lab, at.peerNs);
  return {
    clientToServer: client.get("clientToServer") ?? 0,
    serverToClient: client.get("serverToClient") ?? 0,
    relayToPeer: peer.get("relayToPeer") ?? 0,
    clientToPeer: peer.get("clientToPeer") ?? 0,
  };
}

/** after − before, per counter. */
export function countsBetween(before: PacketCounts, after: PacketCounts): PacketCounts {
  return {
    clientToServer: after.clientToServer - before.clientToServer,
    serverToClient: after.serverToClient - before.serverToClient,
    relayToPeer: after.relayToPeer - before.relayToPeer,
    clientToPeer: after.clientToPeer - before.clientToPeer,
  };
}
