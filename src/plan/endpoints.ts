/**
 * The URLs clients use to reach a TURN server, and the `iceServers` entry an app fills with minted credentials.
 */
import { LISTENER_PORTS, type Listener } from "../config/schema";
import type { StackConfig } from "../config/stackConfig";

/** One URL per listener, in RFC 7065 form. */
export interface TurnUrl {
  /** Listener that serves it. */
  readonly listener: Listener;
  /** `turn:` or `turns:` URL. */
  readonly url: string;
  /** Whether browsers can use it (no browser speaks DTLS to a TURN server). */
  readonly browsers: boolean;
}

/** An RTCIceServer without credentials: the app adds `username` and `credential` it mints per user. */
export interface IceServerTemplate {
  /** URLs of one server. */
  readonly urls: readonly string[];
}

/** Lists the TURN URLs of a stack, in the order clients should try them (UDP first, TLS on 443 last). */
export function turnUrls(config: StackConfig): TurnUrl[] {
  const { plain, tls, tls443 } = LISTENER_PORTS;
  const host = config.domain;
  const all: TurnUrl[] = [
    { listener: "udp", url: `turn:${host}:${plain}?transport=udp`, browsers: true },
    { listener: "tcp", url: `turn:${host}:${plain}?transport=tcp`, browsers: true },
    { listener: "tls", url: `turns:${host}:${tls}?transport=tcp`, browsers: true },
    { listener: "tls-443", url: `turns:${host}:${tls443}?transport=tcp`, browsers: true },
    { listener: "dtls", url: `turns:${host}:${tls}?transport=udp`, browsers: false },
  ];
  return all.filter((u) => config.listeners.has(u.listener));
}

/** The `iceServers` array for browsers, without credentials. */
export function iceServersTemplate(config: StackConfig): IceServerTemplate[] {
  return [{ urls: turnUrls(config).filter((u) => u.browsers).map((u) => u.url) }];
}
