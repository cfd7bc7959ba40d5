/**
 * The URLs clients use to reach a TURN server, and the `iceServers` entry an app fills with minted credentials.
 */
import { LISTENER_PORTS, type Listener } from "../config/schema";
import type { CoturnSettings } from "../config/stackConfig";

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

/** Which name the URLs give clients. */
export interface UrlOptions {
  /**
   * Host in the URLs. Default: the stack's `domain`. A local stack has no DNS record, so `npm run local` passes the
   * IPv4 address coturn listens on (its self-signed certificate names that address too).
   */
  readonly host?: string;
}

/** What the URLs depend on: the domain and the listeners (cloud and local stacks alike). */
export type EndpointSettings = Pick<CoturnSettings, "domain" | "listeners">;

/** Lists the TURN URLs of a stack, in the order clients should try them (UDP first, TLS on 443 last). */
export function turnUrls(config: EndpointSettings, options: UrlOptions = {}): TurnUrl[] {
  const { plain, tls, tls443 } = LISTENER_PORTS;
  const host = options.host ?? config.domain;
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
export function iceServersTemplate(config: EndpointSettings, options: UrlOptions = {}): IceServerTemplate[] {
  return [{ urls: turnUrls(config, options).filter((u) => u.browsers).map((u) => u.url) }];
}
