/**
 * An `/ice-servers` endpoint for your backend: `GET /ice-servers` answers the signed-in user with credentialed TURN
 * `iceServers` for `new RTCPeerConnection({ iceServers })`, minted with coturn's TURN REST API (use-auth-secret) from
 * the stack's shared secret. `POST /ice-report` takes the apps' call outcomes (the browser module,
 * `coturn-pulumi/browser`, sends them) and counts them in Prometheus metrics, served on a separate listener
 * (METRICS_PORT) that app users never reach. Node's own `node:http`, no framework: copy `createIceServersHandler`
 * (and examples/ice-report.ts) into your backend, or run this file as it is behind your HTTPS reverse proxy.
 *
 *   TURN_AUTH_SECRET=… TURN_URLS="$(pulumi stack output urls --json)" DEMO_BEARER_TOKEN=… npm run ice-endpoint
 *
 * Environment (read only when this file is run directly):
 *   TURN_AUTH_SECRET     required: the stack's coturn:authSecret (32+ characters). Never printed.
 *   TURN_URLS            required: turn:/turns: URLs, comma-separated or a JSON array (`pulumi stack output urls --json`)
 *   ALLOWED_ORIGIN       optional: the one web origin allowed to call it cross-origin, e.g. https://app.example.com
 *   TURN_CREDENTIAL_TTL  optional: credential lifetime in seconds, 1 to 86400 (default 3600)
 *   HOST, PORT           optional: where to listen (default 127.0.0.1 and 8080; PORT=0 picks a free port)
 *   METRICS_PORT         optional: serve GET /metrics (Prometheus) on this port of a separate listener (default: off;
 *                        0 picks a free port)
 *   METRICS_HOST         optional: where the metrics listener binds (default 127.0.0.1: only this machine's scraper)
 *   DEMO_BEARER_TOKEN    required by the DEMO authentication only (16+ characters); replace `demoBearerAuthenticate`
 *                        with your app's session check and this goes away.
 *
 * Exit status: 0 after SIGTERM or SIGINT, 1 when the server cannot listen, 2 for bad environment (before listening).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type RequestListener, type Server } from "node:http";
import { isIP } from "node:net";
// In your backend: from "coturn-pulumi/credentials" (the same module, without Pulumi).
import { MAX_CREDENTIAL_TTL_SECONDS, mintIceServers, userIdProblem, type IceServer } from "../src/credentials";
import {
  ICE_REPORT_PATH,
  IceReportMetrics,
  MAX_REPORT_BYTES,
  TokenBuckets,
  createMetricsHandler,
  isJsonContentType,
  parseIceReport,
  readBody,
  type RateLimitOptions,
} from "./ice-report";

export { ICE_REPORT_PATH, IceReportMetrics, createMetricsHandler, type RateLimitOptions } from "./ice-report";

/** The one path this endpoint serves. */
export const ICE_SERVERS_PATH = "/ice-servers";

/** Credential lifetime when none is configured: one hour. */
export const DEFAULT_TTL_SECONDS = 3600;

/** The stack refuses shorter auth secrets (coturn:authSecret), so a shorter one here is a mistake. */
export const MIN_SECRET_LENGTH = 32;

/** How long browsers may cache a successful CORS preflight. */
export const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** The `WWW-Authenticate` challenge sent with 401 by default (RFC 6750 bearer tokens). */
export const DEFAULT_CHALLENGE = 'Bearer realm="ice-servers"';

/**
 * Your app's authentication: the id of the user the request belongs to, or `undefined` when it has none (the
 * endpoint answers 401). Check a session cookie or a bearer token here. The id goes into the TURN username, shows in
 * coturn's logs and counts against coturn's per-user allocation quota: use a stable, non-secret id without `:` or
 * whitespace (not an e-mail address if coturn's logs must not hold one). A thrown error becomes a 500 whose body says
 * nothing about it; the log line names it.
 */
export type Authenticate = (request: IncomingMessage) => Promise<string | undefined>;

/** Settings of `createIceServersHandler`. */
export interface IceServersHandlerOptions {
  /** The TURN REST shared secret coturn holds (the stack's `coturn:authSecret`, 32+ characters). */
  readonly secret: string;
  /**
   * The server's `turn:`/`turns:` URLs, e.g. the stack's `urls` output. DTLS URLs (`turns:…?transport=udp`) are
   * accepted and left out of the answer: no browser speaks DTLS to a TURN server.
   */
  readonly urls: readonly string[];
  /** Credential lifetime in seconds, 1 to MAX_CREDENTIAL_TTL_SECONDS. Default: DEFAULT_TTL_SECONDS. */
  readonly ttlSeconds?: number;
  /**
   * The one origin (`https://app.example.com`, no path) whose pages may call this endpoint cross-origin. Unset: no
   * CORS headers at all, which is right when the endpoint is served from your app's own origin.
   */
  readonly allowedOrigin?: string;
  /**
   * Send `Access-Control-Allow-Credentials: true` to the allowed origin: needed when a page on another origin calls
   * with cookies (`fetch(url, { credentials: "include" })`); not needed for bearer tokens. Default false.
   */
  readonly allowCredentials?: boolean;
  /** The hook for your app's own authentication. */
  readonly authenticate: Authenticate;
  /** Receives one line per request (method, path without query, status, user id, duration). Default: console.log. */
  readonly log?: (line: string) => void;
  /** The `WWW-Authenticate` header of a 401. Default: DEFAULT_CHALLENGE. */
  readonly wwwAuthenticate?: string;
  /** Clock to mint against and to refill the report rate limit with (tests pass a fixed one). Default: now. */
  readonly now?: () => Date;
  /** Where `POST /ice-report` counts reports; serve it with `createMetricsHandler`. Default: a registry of its own. */
  readonly metrics?: IceReportMetrics;
  /** The per-user rate limit of `POST /ice-report`. Default: a burst of 20, then 10 a minute, 10000 users tracked. */
  readonly rateLimit?: RateLimitOptions;
}

/** The body of a 200 answer. */
export interface IceServersResponse {
  /** One credentialed entry, ready for `new RTCPeerConnection({ iceServers })`. */
  readonly iceServers: IceServer[];
  /** When coturn stops accepting the credential (ISO 8601): fetch new ones for calls that start after it. */
  readonly expiresAt: string;
}

/** Thrown for settings the endpoint cannot work with; the message lists every problem with its name and fix. */
export class IceEndpointConfigError extends Error {
  override name = "IceEndpointConfigError";

  /** One line per problem, each naming the setting, its bad value (never a secret's) and the fix. */
  readonly problems: readonly string[];

  /** Builds the error from its problems. */
  constructor(problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  - ${problems.join("\n  - ")}`);
    this.problems = problems;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Validation, shared by the options and the environment (each names the setting the way its user wrote it).
// ---------------------------------------------------------------------------------------------------------------

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/** RFC 7065 TURN URL: scheme, host (DNS name, IPv4 or [IPv6]), optional port and transport. */
const TURN_URL = new RegExp(`^(turns?):(\\[[0-9A-Fa-f:.]+\\]|${HOST_LABEL}(?:\\.${HOST_LABEL})*)(?::(\\d{1,5}))?(?:\\?transport=(udp|tcp))?$`);

/** Whether a TURN URL is DTLS (`turns:` over UDP), which browsers do not speak. */
function isDtls(url: string): boolean {
  return url.startsWith("turns:") && url.endsWith("?transport=udp");
}

/** The problem with a shared secret, if any. Never includes the secret or any part of it. */
function secretProblem(secret: unknown, name: string): string | undefined {
  const fix = "use the stack's coturn:authSecret (`pulumi config get coturn:authSecret`)";
  if (typeof secret !== "string" || secret.length === 0) return `${name} is not set: ${fix}`;
  if (secret.length < MIN_SECRET_LENGTH) {
    return `${name} is ${secret.length} characters long (value not shown); it must be ${MIN_SECRET_LENGTH}+ characters: ${fix}`;
  }
  if (secret.trim() !== secret) {
    return `${name} starts or ends with whitespace (value not shown; a newline from a file?): strip it, coturn's secret has none`;
  }
  return undefined;
}

/** The problems with a list of TURN URLs. */
function urlProblems(urls: readonly unknown[], name: string): string[] {
  const form = "use turn:HOST:PORT?transport=udp|tcp or turns:HOST:PORT?transport=tcp, e.g. the stack's `urls` output";
  if (urls.length === 0) return [`${name} is empty: ${form}`];
  const problems: string[] = [];
  for (const url of urls) {
    const match = typeof url === "string" ? TURN_URL.exec(url) : null;
    if (!match) {
      problems.push(`${name} entry ${JSON.stringify(url)} is not a TURN URL: ${form}`);
      continue;
    }
    const [, , host, port] = match;
    const bracketed = host.startsWith("[");
    const numeric = /^[0-9.]+$/.test(host);
    if ((bracketed && isIP(host.slice(1, -1)) !== 6) || (numeric && isIP(host) !== 4)) {
      problems.push(`${name} entry ${JSON.stringify(url)} has an invalid IP address ${host}: use a DNS name, an IPv4 address or [IPv6]`);
    }
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) {
      problems.push(`${name} entry ${JSON.stringify(url)} has port ${port}: use a port from 1 to 65535 (3478 for turn:, 5349 or 443 for turns:)`);
    }
  }
  if (problems.length === 0 && urls.every((url) => isDtls(url as string))) {
    problems.push(`${name} has only DTLS URLs (turns:…?transport=udp), which no browser speaks: add the turn: and turns:…?transport=tcp URLs`);
  }
  return problems;
}

/** The problem with a credential lifetime, if any; `shown` is the value as the user wrote it. */
function ttlProblem(ttl: number, shown: string, name: string): string | undefined {
  if (Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_CREDENTIAL_TTL_SECONDS) return undefined;
  return `${name} ${shown} is not a whole number of seconds from 1 to ${MAX_CREDENTIAL_TTL_SECONDS} (a day): use e.g. ${DEFAULT_TTL_SECONDS} (one hour)`;
}

/** The problem with an allowed origin, if any. */
function originProblem(origin: string, name: string): string | undefined {
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (parsed && (parsed.protocol === "https:" || parsed.protocol === "http:") && parsed.origin === origin) return undefined;
  const suggestion =
    parsed && (parsed.protocol === "https:" || parsed.protocol === "http:") && parsed.origin !== "null"
      ? `use ${JSON.stringify(parsed.origin)}`
      : 'use the exact origin of your web app, e.g. "https://app.example.com"';
  return `${name} ${JSON.stringify(origin)} is not a web origin (scheme://host[:port], no path, no trailing slash, no wildcard): ${suggestion}`;
}

/** The settings of a handler after validation. */
interface Settings {
  readonly secret: string;
  readonly browserUrls: string[];
  readonly ttlSeconds: number;
  readonly allowedOrigin: string | undefined;
}

/** Validates the handler options; throws IceEndpointConfigError listing every problem. */
function validateOptions(options: IceServersHandlerOptions): Settings {
  const problems: string[] = [];
  const secret = secretProblem(options.secret, "options.secret");
  if (secret) problems.push(secret);
  if (!Array.isArray(options.urls)) problems.push("options.urls is not an array: pass the stack's `urls` output");
  else problems.push(...urlProblems(options.urls, "options.urls"));
  const ttlSeconds = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
  const ttl = ttlProblem(ttlSeconds, String(ttlSeconds), "options.ttlSeconds");
  if (ttl) problems.push(ttl);
  if (options.allowedOrigin !== undefined) {
    const origin = originProblem(options.allowedOrigin, "options.allowedOrigin");
    if (origin) problems.push(origin);
  }
  if (typeof options.authenticate !== "function") {
    problems.push("options.authenticate is not a function: pass your app's check, (request) => Promise<user id | undefined>");
  }
  if (problems.length > 0) throw new IceEndpointConfigError(problems);
  return {
    secret: options.secret,
    browserUrls: options.urls.filter((url) => !isDtls(url)),
    ttlSeconds,
    allowedOrigin: options.allowedOrigin,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The handler.
// ---------------------------------------------------------------------------------------------------------------

/** What one request gets, and what its log line says. */
interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: object;
  /** The authenticated user, for the log. */
  readonly user?: string;
  /** Why it failed, for the log only (never sent to the client). */
  readonly note?: string;
}

const ALLOW = "GET, OPTIONS";
const ALLOW_REPORT = "POST, OPTIONS";

/** A short, single-line, quoted form of an untrusted value for a log line. */
function quoted(value: string, max = 100): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

/** An error as one log-safe phrase (its class and message, no stack). */
function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : `non-Error thrown: ${String(error)}`;
}

/**
 * Creates the request listener for `GET /ice-servers`. Validates the options first (throws IceEndpointConfigError).
 *
 * - `GET /ice-servers`: 200 `{ iceServers: [{ urls, username, credential }], expiresAt }`, `Cache-Control: no-store`;
 *   401 with `WWW-Authenticate` when `authenticate` returns undefined; 500 (with nothing about why in the body) when
 *   it throws or returns an id coturn cannot use.
 * - `OPTIONS /ice-servers`: the CORS preflight. 204 with `Access-Control-Allow-*` for the allowed origin, 403 for
 *   any other origin, 204 with `Allow` when it is no preflight at all.
 * - `POST /ice-report`: a call outcome (`IceReport` as JSON, at most MAX_REPORT_BYTES), authenticated like
 *   `/ice-servers`: 204 when counted in `metrics`; 401; 415 unless `Content-Type: application/json`; 429 with
 *   `Retry-After` past the user's rate limit; 413 for a larger body; 400 naming the bad field. Its preflight allows
 *   POST with Authorization and Content-Type. Its log line adds the outcome and reason, nothing else of the body.
 * - Other methods: 405 with `Allow`; other paths: 404.
 *
 * CORS headers go only to the exact allowed origin, on every answer (so its pages can read a 401); every answer has
 * `Vary: Origin`. Each request gives one call to `log`; no line holds the secret, a credential, the query string or
 * the Authorization or Cookie header (the Origin header is logged, quoted and shortened).
 * Mount it with `http.createServer(handler)`, or call it from a route of your framework that hands over Node's
 * request and response.
 */
export function createIceServersHandler(options: IceServersHandlerOptions): RequestListener {
  const settings = validateOptions(options);
  const log = options.log ?? ((line: string) => console.log(line));
  const challenge = options.wwwAuthenticate ?? DEFAULT_CHALLENGE;
  const now = options.now ?? (() => new Date());
  const metrics = options.metrics ?? new IceReportMetrics();
  const buckets = new TokenBuckets(options.rateLimit);

  const corsHeaders = (origin: string | undefined): Record<string, string> => {
    if (settings.allowedOrigin === undefined || origin !== settings.allowedOrigin) return {};
    return {
      "access-control-allow-origin": origin,
      ...(options.allowCredentials ? { "access-control-allow-credentials": "true" } : {}),
    };
  };

  /** The user a request belongs to, or the reply that refuses it. */
  const authenticated = async (request: IncomingMessage): Promise<{ user: string } | { refused: Reply }> => {
    let user: unknown;
    try {
      user = await options.authenticate(request);
    } catch (error) {
      return { refused: { status: 500, body: { error: "internal error" }, note: `authenticate() threw ${describeError(error)}` } };
    }
    if (user === undefined) {
      return { refused: { status: 401, headers: { "www-authenticate": challenge }, body: { error: "authentication required" } } };
    }
    if (typeof user !== "string") {
      return { refused: { status: 500, body: { error: "internal error" }, note: `authenticate() returned a ${typeof user}, not a user id string or undefined` } };
    }
    // The user id comes from the app, not the client: an id coturn cannot use is the app's bug, hence 500.
    const unusable = userIdProblem(user);
    if (unusable !== undefined) {
      return { refused: { status: 500, body: { error: "internal error" }, user, note: `authenticate() returned an unusable id: ${unusable}` } };
    }
    return { user };
  };

  /** `POST /ice-report`, after the method check. */
  const acceptReport = async (request: IncomingMessage): Promise<Reply> => {
    const auth = await authenticated(request);
    if ("refused" in auth) return auth.refused;
    const { user } = auth;
    // Refused before the body is read: the connection closes rather than draining what the client still sends.
    const close = { connection: "close" };
    const contentType = request.headers["content-type"];
    if (!isJsonContentType(contentType)) {
      metrics.refuse("415");
      const got = contentType === undefined ? "none" : quoted(contentType, 60);
      return { status: 415, headers: close, user, body: { error: `Content-Type is ${got}: send the report as JSON with Content-Type: application/json` }, note: "not JSON" };
    }
    const wait = buckets.take(user, now().getTime());
    if (wait > 0) {
      metrics.refuse("429");
      return { status: 429, headers: { ...close, "retry-after": String(wait) }, user, body: { error: `too many reports: try again in ${wait} s` }, note: "rate limited" };
    }
    const text = await readBody(request, MAX_REPORT_BYTES);
    if (text === undefined) {
      metrics.refuse("413");
      return { status: 413, headers: close, user, body: { error: `the report is larger than ${MAX_REPORT_BYTES} bytes: a report is one small JSON object` }, note: "too large" };
    }
    const parsed = parseIceReport(text);
    if ("problem" in parsed) {
      metrics.refuse("400");
      return { status: 400, user, body: { error: parsed.problem }, note: "bad report" };
    }
    metrics.record(parsed.report);
    const { report } = parsed;
    return { status: 204, user, note: report.outcome === "failed" ? `outcome=failed reason=${report.reason}` : "outcome=connected" };
  };

  const answer = async (request: IncomingMessage, path: string, origin: string | undefined): Promise<Reply> => {
    if (path !== ICE_SERVERS_PATH && path !== ICE_REPORT_PATH) {
      return { status: 404, body: { error: `not found: this endpoint serves GET ${ICE_SERVERS_PATH} and POST ${ICE_REPORT_PATH}` } };
    }
    const report = path === ICE_REPORT_PATH;
    if (request.method === "OPTIONS") {
      if (origin === undefined) return { status: 204, headers: { allow: report ? ALLOW_REPORT : ALLOW } };
      if (origin !== settings.allowedOrigin) {
        return { status: 403, body: { error: "origin not allowed" }, note: "preflight from an origin that is not the allowed one" };
      }
      return {
        status: 204,
        headers: {
          "access-control-allow-methods": report ? "POST" : "GET",
          "access-control-allow-headers": report ? "Authorization, Content-Type" : "Authorization",
          "access-control-max-age": String(PREFLIGHT_MAX_AGE_SECONDS),
        },
      };
    }
    if (report) {
      if (request.method !== "POST") {
        return { status: 405, headers: { allow: ALLOW_REPORT }, body: { error: `method not allowed: use POST ${ICE_REPORT_PATH}` } };
      }
      return acceptReport(request);
    }
    if (request.method !== "GET") {
      return { status: 405, headers: { allow: ALLOW }, body: { error: `method not allowed: use GET ${ICE_SERVERS_PATH}` } };
    }
    const auth = await authenticated(request);
    if ("refused" in auth) return auth.refused;
    const { user } = auth;
    const minted = mintIceServers({ secret: settings.secret, user, ttlSeconds: settings.ttlSeconds, now: now(), urls: settings.browserUrls });
    const body: IceServersResponse = { iceServers: minted.iceServers, expiresAt: minted.expiresAt.toISOString() };
    return { status: 200, body, user };
  };

  return (request, response) => {
    const started = process.hrtime.bigint();
    const originHeader = request.headers.origin;
    const origin = typeof originHeader === "string" ? originHeader : undefined;
    let path = "?";
    const reply = (async (): Promise<Reply> => {
      try {
        // Only the path: a query string may carry tokens, and it never reaches the log.
        path = new URL(request.url ?? "/", "http://endpoint.invalid").pathname;
      } catch {
        return { status: 400, body: { error: "bad request target" } };
      }
      return answer(request, path, origin);
    })().catch((error: unknown): Reply => ({ status: 500, body: { error: "internal error" }, note: `unexpected ${describeError(error)}` }));

    void reply.then((replied) => {
      let result = replied;
      const headers: Record<string, string> = {
        "cache-control": "no-store",
        vary: "Origin",
        "x-content-type-options": "nosniff",
        ...corsHeaders(origin),
        ...result.headers,
      };
      let payload: string | undefined;
      if (result.body !== undefined) {
        payload = JSON.stringify(result.body);
        headers["content-type"] = "application/json; charset=utf-8";
        headers["content-length"] = String(Buffer.byteLength(payload));
      }
      let status = result.status;
      try {
        if (!response.headersSent && !response.destroyed) {
          response.writeHead(status, headers);
          response.end(payload);
        }
      } catch (error) {
        // E.g. a wwwAuthenticate option that is not a valid header value: the client gets a bare 500.
        status = 500;
        result = { ...result, note: `${result.note ?? ""} response failed: ${describeError(error)}`.trim() };
        if (!response.headersSent) response.writeHead(500, { "cache-control": "no-store", vary: "Origin" });
        response.end();
      }
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const parts = [
        request.method ?? "?",
        quoted(path, 200),
        String(status),
        `user=${result.user === undefined ? "-" : quoted(result.user)}`,
        ...(origin === undefined ? [] : [`origin=${quoted(origin)}`]),
        `${ms.toFixed(1)}ms`,
        ...(result.note === undefined ? [] : [`(${result.note})`]),
      ];
      // The secret can appear nowhere above; this is the belt to those braces (it is 32+ characters, so no false hits).
      const line = parts.join(" ").replace(/[\r\n]+/g, " ").split(settings.secret).join("[redacted]");
      try {
        log(line);
      } catch {
        // A broken logger must not take the endpoint down.
      }
    });
  };
}

// ---------------------------------------------------------------------------------------------------------------
// DEMO authentication: replace it with your app's session check.
// ---------------------------------------------------------------------------------------------------------------

/** The user id the demo authentication gives every request that carries the token. */
export const DEMO_USER_ID = "demo-user";

/**
 * DEMO ONLY, replace it: accepts `Authorization: Bearer <token>` with one fixed token and calls everyone who has it
 * `DEMO_USER_ID`. Compared in constant time (SHA-256 of both sides, so lengths leak nothing either). A real app looks
 * up its session (cookie or token) and returns that user's id.
 */
export function demoBearerAuthenticate(token: string, userId: string = DEMO_USER_ID): Authenticate {
  const expected = createHash("sha256").update(token, "utf8").digest();
  return async (request) => {
    const header = request.headers.authorization;
    const match = typeof header === "string" ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    if (!match) return undefined;
    const given = createHash("sha256").update(match[1], "utf8").digest();
    return timingSafeEqual(given, expected) ? userId : undefined;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running it: settings from the environment, listen, stop on SIGTERM/SIGINT.
// ---------------------------------------------------------------------------------------------------------------

/** Minimum length of DEMO_BEARER_TOKEN. */
export const MIN_DEMO_TOKEN_LENGTH = 16;

/** What the runnable endpoint reads from its environment. */
export interface EndpointEnvironment {
  /** Options for `createIceServersHandler`, without `authenticate` and `log`. */
  readonly options: Pick<IceServersHandlerOptions, "secret" | "urls" | "ttlSeconds" | "allowedOrigin">;
  /** Address to listen on (HOST). */
  readonly host: string;
  /** Port to listen on (PORT; 0 = any free port). */
  readonly port: number;
  /** The DEMO authentication's token (DEMO_BEARER_TOKEN). */
  readonly demoToken: string;
  /** Where the metrics listener listens (METRICS_HOST, METRICS_PORT); undefined when METRICS_PORT is unset. */
  readonly metrics?: { readonly host: string; readonly port: number };
}

/** Splits TURN_URLS: a JSON array (`pulumi stack output urls --json`) or comma-separated. */
function splitUrls(raw: string): unknown[] | string {
  const text = raw.trim();
  if (!text.startsWith("[")) return text.split(",").map((url) => url.trim()).filter((url) => url.length > 0);
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : `TURN_URLS starts with "[" but is not a JSON array: pass \`pulumi stack output urls --json\` or comma-separated URLs`;
  } catch (error) {
    return `TURN_URLS starts with "[" but is not JSON (${(error as Error).message}): pass \`pulumi stack output urls --json\` or comma-separated URLs`;
  }
}

/**
 * Reads and validates the environment. Throws IceEndpointConfigError listing every problem, each naming its
 * variable, the bad value (never a secret's or a token's) and the fix.
 */
export function readEnvironment(env: NodeJS.ProcessEnv): EndpointEnvironment {
  const problems: string[] = [];
  const secret = env.TURN_AUTH_SECRET ?? "";
  const secretIssue = secretProblem(secret, "TURN_AUTH_SECRET");
  if (secretIssue) problems.push(secretIssue);

  let urls: string[] = [];
  const rawUrls = env.TURN_URLS;
  if (rawUrls === undefined || rawUrls.trim() === "") {
    problems.push("TURN_URLS is not set: pass the stack's URLs, TURN_URLS=\"$(pulumi stack output urls --json)\" or comma-separated turn:/turns: URLs");
  } else {
    const split = splitUrls(rawUrls);
    if (typeof split === "string") problems.push(split);
    else {
      const urlIssues = urlProblems(split, "TURN_URLS");
      problems.push(...urlIssues);
      // urlProblems found none, so every entry is a TURN URL string.
      if (urlIssues.length === 0) urls = split as string[];
    }
  }

  const rawTtl = env.TURN_CREDENTIAL_TTL;
  let ttlSeconds = DEFAULT_TTL_SECONDS;
  if (rawTtl !== undefined && rawTtl !== "") {
    ttlSeconds = /^\d{1,9}$/.test(rawTtl) ? Number(rawTtl) : NaN;
    const ttlIssue = ttlProblem(ttlSeconds, JSON.stringify(rawTtl), "TURN_CREDENTIAL_TTL");
    if (ttlIssue) problems.push(ttlIssue);
  }

  const allowedOrigin = env.ALLOWED_ORIGIN === "" ? undefined : env.ALLOWED_ORIGIN;
  if (allowedOrigin !== undefined) {
    const originIssue = originProblem(allowedOrigin, "ALLOWED_ORIGIN");
    if (originIssue) problems.push(originIssue);
  }

  const host = env.HOST === undefined || env.HOST === "" ? "127.0.0.1" : env.HOST;
  if (!isIP(host) && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) {
    problems.push(`HOST ${JSON.stringify(host)} is not an IP address or host name: use 127.0.0.1 behind a reverse proxy on this machine, or 0.0.0.0`);
  }
  const rawPort = env.PORT === undefined || env.PORT === "" ? "8080" : env.PORT;
  const port = /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    problems.push(`PORT ${JSON.stringify(rawPort)} is not a port number from 0 to 65535: use e.g. 8080 (0 picks a free port)`);
  }

  let metrics: EndpointEnvironment["metrics"];
  const rawMetricsPort = env.METRICS_PORT ?? "";
  const metricsHost = env.METRICS_HOST === undefined || env.METRICS_HOST === "" ? "127.0.0.1" : env.METRICS_HOST;
  if (rawMetricsPort !== "") {
    const metricsPort = /^\d{1,5}$/.test(rawMetricsPort) ? Number(rawMetricsPort) : NaN;
    if (!(metricsPort >= 0 && metricsPort <= 65535)) {
      problems.push(`METRICS_PORT ${JSON.stringify(rawMetricsPort)} is not a port number from 0 to 65535: use e.g. 9464, or leave it unset to serve no metrics`);
    } else if (metricsPort !== 0 && metricsPort === port && metricsHost === host) {
      problems.push(`METRICS_PORT ${metricsPort} is the app's PORT: the metrics need a listener of their own (e.g. 9464), which app users never reach`);
    }
    metrics = { host: metricsHost, port: metricsPort };
  } else if (env.METRICS_HOST !== undefined && env.METRICS_HOST !== "") {
    problems.push(`METRICS_HOST is set but METRICS_PORT is not: set METRICS_PORT (e.g. 9464) to serve metrics, or unset METRICS_HOST`);
  }
  if (!isIP(metricsHost) && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(metricsHost)) {
    problems.push(`METRICS_HOST ${JSON.stringify(metricsHost)} is not an IP address or host name: use 127.0.0.1 (a scraper on this machine) or the address your scraper reaches`);
  }

  const demoToken = env.DEMO_BEARER_TOKEN ?? "";
  if (demoToken.length < MIN_DEMO_TOKEN_LENGTH || /\s/.test(demoToken)) {
    problems.push(
      `DEMO_BEARER_TOKEN is ${demoToken.length === 0 ? "not set" : "too short or has whitespace (value not shown)"}: the DEMO ` +
        `authentication needs a token of ${MIN_DEMO_TOKEN_LENGTH}+ characters without spaces, e.g. DEMO_BEARER_TOKEN="$(openssl rand -hex 24)"; ` +
        "in your app, replace demoBearerAuthenticate with your session check",
    );
  }
  if (problems.length > 0) throw new IceEndpointConfigError(problems);
  return {
    options: { secret, urls, ttlSeconds, ...(allowedOrigin === undefined ? {} : { allowedOrigin }) },
    host,
    port,
    demoToken,
    ...(metrics === undefined ? {} : { metrics }),
  };
}

/** `http://host:port/ice-servers` (or another path), with brackets for IPv6. */
function endpointUrl(server: Server, path = ICE_SERVERS_PATH): string {
  const address = server.address();
  if (address === null || typeof address === "string") return String(address);
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}${path}`;
}

/** Runs the endpoint until SIGTERM or SIGINT. */
function main(): void {
  let environment: EndpointEnvironment;
  try {
    environment = readEnvironment(process.env);
  } catch (error) {
    if (!(error instanceof IceEndpointConfigError)) throw error;
    console.error(`ice-servers-endpoint: ${error.message}`);
    process.exit(2);
  }
  const { options, host, port, demoToken } = environment;
  const metrics = new IceReportMetrics();
  const handler = createIceServersHandler({
    ...options,
    metrics,
    // DEMO ONLY: replace with your app's session check, e.g. async (req) => (await sessions.fromRequest(req))?.userId.
    authenticate: demoBearerAuthenticate(demoToken),
    log: (line) => console.log(`${new Date().toISOString()} ${line}`),
  });
  const server = createServer(handler);
  server.on("error", (error: NodeJS.ErrnoException) => {
    const hint = error.code === "EADDRINUSE" ? ": another process uses it; pick another PORT" : error.code === "EADDRNOTAVAIL" ? ": this machine has no such address; check HOST" : "";
    console.error(`ice-servers-endpoint: cannot listen on ${host}:${port} (${error.code ?? error.message})${hint}`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const served = (options.urls ?? []).filter((url) => !isDtls(url));
    const dropped = (options.urls ?? []).length - served.length;
    console.log(
      `ice-servers endpoint listening on ${endpointUrl(server)}: ${served.length} TURN URL${served.length === 1 ? "" : "s"}` +
        `${dropped > 0 ? ` (${dropped} DTLS URL${dropped === 1 ? "" : "s"} left out: no browser speaks DTLS to TURN)` : ""}, ` +
        `credentials valid ${options.ttlSeconds ?? DEFAULT_TTL_SECONDS} s, ` +
        `CORS ${options.allowedOrigin === undefined ? "off (same-origin callers only)" : `for ${options.allowedOrigin}`}`,
    );
    console.error("ice-servers-endpoint: DEMO authentication (one bearer token from DEMO_BEARER_TOKEN): replace demoBearerAuthenticate with your session check");
    if (metricsServer !== undefined && environment.metrics !== undefined) {
      const { host: mHost, port: mPort } = environment.metrics;
      metricsServer.listen(mPort, mHost, () => console.log(`metrics listening on ${endpointUrl(metricsServer as Server, "/metrics")} (Prometheus; keep it off the app's network)`));
    }
  });

  // The metrics listener: its own port (and by default loopback), so that app users never see it.
  const metricsServer = environment.metrics === undefined ? undefined : createServer(createMetricsHandler(metrics));
  metricsServer?.on("error", (error: NodeJS.ErrnoException) => {
    const where = `${environment.metrics?.host}:${environment.metrics?.port}`;
    const hint = error.code === "EADDRINUSE" ? ": another process uses it; pick another METRICS_PORT" : error.code === "EADDRNOTAVAIL" ? ": this machine has no such address; check METRICS_HOST" : "";
    console.error(`ice-servers-endpoint: cannot listen for metrics on ${where} (${error.code ?? error.message})${hint}`);
    process.exit(1);
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.log(`ice-servers-endpoint: ${signal}, finishing open requests`);
    metricsServer?.close();
    metricsServer?.closeAllConnections();
    server.close(() => console.log("ice-servers-endpoint: stopped"));
    server.closeIdleConnections();
    // Bounded: requests still running after 5 s are cut, and the process ends after 8 s whatever holds it.
    setTimeout(() => server.closeAllConnections(), 5000).unref();
    setTimeout(() => {
      console.error("ice-servers-endpoint: did not stop within 8 s, exiting");
      process.exit(1);
    }, 8000).unref();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

if (require.main === module) main();
