/**
 * Where a probe's target comes from: an `iceServers` JSON (what `npm run local -- --json` or an app's credential
 * endpoint returns), or a host with the shared secret to mint from.
 */
import { LISTENER_PORTS } from "../config/schema";
import type { TurnTransport } from "./turnClient";

/** Host, ports and transports read from TURN URLs. */
export interface UrlTarget {
  /** Host of the URLs (all must name the same one). */
  readonly host: string;
  /** Plain and TLS ports. */
  readonly ports: { plain: number; tls: number };
  /** Transports the URLs offer, in URL order. */
  readonly transports: TurnTransport[];
}

/** A credentialed `iceServers` entry as apps receive it. */
export interface IceServerInput {
  /** One URL or several. */
  readonly urls: string | readonly string[];
  /** Minted username. */
  readonly username?: string;
  /** Minted password. */
  readonly credential?: string;
}

/** Thrown for input the probe cannot use; the message names the value and the fix. */
export class ProbeInputError extends Error {
  override name = "ProbeInputError";
}

const TURN_URL = /^(turns?):(\[[0-9a-fA-F:.]+\]|[^:?\s]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;

/** Parses RFC 7065 TURN URLs into one target. Throws ProbeInputError for a bad URL or mixed hosts. */
export function targetFromUrls(urls: readonly string[]): UrlTarget {
  const ports: { plain: number; tls: number } = { plain: LISTENER_PORTS.plain, tls: LISTENER_PORTS.tls };
  const transports: TurnTransport[] = [];
  let host: string | undefined;
  for (const url of urls) {
    const match = TURN_URL.exec(url);
    if (!match) {
      throw new ProbeInputError(`URL ${JSON.stringify(url)} is not a TURN URL: use turn:HOST:PORT?transport=udp|tcp or turns:HOST:PORT?transport=tcp`);
    }
    const [, scheme, rawHost, rawPort, rawTransport] = match;
    const urlHost = rawHost.replace(/^\[|\]$/g, "");
    if (host !== undefined && urlHost !== host) {
      throw new ProbeInputError(`URLs name two hosts (${host} and ${urlHost}): probe one server at a time`);
    }
    host = urlHost;
    const secure = scheme === "turns";
    if (secure && rawTransport === "udp") continue; // DTLS: no client here speaks it to TURN (nor do browsers).
    const transport: TurnTransport = secure ? "tls" : rawTransport === "tcp" ? "tcp" : "udp";
    const port = rawPort === undefined ? (secure ? LISTENER_PORTS.tls : LISTENER_PORTS.plain) : Number(rawPort);
    if (transport === "tls") ports.tls = port;
    else ports.plain = port;
    if (!transports.includes(transport)) transports.push(transport);
  }
  if (host === undefined || transports.length === 0) {
    throw new ProbeInputError("no turn: or turns: URL to probe (DTLS-only URLs are not probed)");
  }
  return { host, ports, transports };
}

/** Reads an `iceServers` JSON document: the URLs and the one credential they carry. */
export function parseIceServers(json: string, source: string): UrlTarget & { username: string; password: string } {
  let servers: unknown;
  try {
    servers = JSON.parse(json);
  } catch (error) {
    throw new ProbeInputError(`${source} is not JSON (${(error as Error).message}): pass the iceServers array an app receives`);
  }
  const list = (Array.isArray(servers) ? servers : [servers]) as IceServerInput[];
  const withCredential = list.find((s) => typeof s?.username === "string" && typeof s?.credential === "string");
  if (!withCredential) {
    throw new ProbeInputError(`${source} has no iceServers entry with "username" and "credential": mint credentials first`);
  }
  const urls = typeof withCredential.urls === "string" ? [withCredential.urls] : [...(withCredential.urls ?? [])];
  return { ...targetFromUrls(urls), username: withCredential.username ?? "", password: withCredential.credential ?? "" };
}
