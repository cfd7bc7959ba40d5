/// <reference lib="dom" preserve="true" />
/// <reference lib="dom.iterable" preserve="true" />
/**
 * `coturn-pulumi/browser`: what a web app needs to use the TURN servers, with no framework and no dependency.
 *
 * - `IceClient` fetches credentialed `iceServers` from your `/ice-servers` endpoint (with your app's auth), refreshes
 *   them at 80% of their lifetime and hands the new ones to live connections (`setConfiguration`);
 * - `IceClient.connect` is the fallback strategy: peer-to-peer first (every candidate), and when ICE fails a second
 *   attempt through TURN only; it reports the outcome to `/ice-report` and throws `CallFailedError`, with a message
 *   to show, when even TURN fails;
 * - `watchConnection` and `IceClient.report` are the parts, for apps that create their connections themselves.
 */
import { ICE_REPORT_PATH, type CandidateProtocol, type CandidateType, type FailedReport, type FailureReason, type IceReport } from "./report";

export * from "./report";

/** The answer of `GET /ice-servers`. */
export interface IceServersAnswer {
  /** Credentialed servers for `RTCPeerConnection`. */
  readonly iceServers: RTCIceServer[];
  /** When coturn stops accepting the credential (ISO 8601). */
  readonly expiresAt: string;
}

/** Settings of an `IceClient`. */
export interface IceClientOptions {
  /** URL of your `GET /ice-servers` endpoint, e.g. `"/ice-servers"` or `"https://api.example.com/ice-servers"`. */
  readonly iceServersUrl: string;
  /** URL of `POST /ice-report`. Default: `/ice-report` beside iceServersUrl. `null`: never report. */
  readonly reportUrl?: string | null;
  /** Your app's auth headers for both requests, e.g. `() => ({ authorization: \`Bearer ${token}\` })`. */
  readonly headers?: () => Record<string, string> | Promise<Record<string, string>>;
  /** `fetch`'s credentials mode: `"include"` to send cookies cross-origin. Default: `"same-origin"`. */
  readonly credentials?: RequestCredentials;
  /** When to fetch new credentials, as a fraction of their lifetime (0.1 to 0.95). Default: 0.8. */
  readonly refreshAt?: number;
  /** Called when a background refresh or a report fails (the call goes on). Default: `console.warn`. */
  readonly onError?: (error: Error) => void;
}

/** Settings of one `watchConnection`. */
export interface WatchOptions {
  /** Give up after this many milliseconds without "connected" or "failed" (reason `timeout`). Default: 15000. */
  readonly timeoutMs?: number;
}

/** Thrown by `IceClient.connect` when the call failed even through TURN. */
export class CallFailedError extends Error {
  /** Always "CallFailedError". */
  override name = "CallFailedError";
  /** Why the last attempt failed. */
  readonly reason: FailureReason;
  /** A sentence to show the user (the `message` is for developers and logs). */
  readonly userMessage: string;

  /** Builds the error for `reason`. */
  constructor(reason: FailureReason) {
    super(`the call did not connect, even through TURN (${reason}): ${userMessageFor(reason)}`);
    this.reason = reason;
    this.userMessage = userMessageFor(reason);
  }
}

/** Thrown when `/ice-servers` does not answer with credentials; `status` is the HTTP status (0: no answer). */
export class IceServersError extends Error {
  /** Always "IceServersError". */
  override name = "IceServersError";
  /** The HTTP status, or 0 when the request itself failed. */
  readonly status: number;

  /** Builds the error. */
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

/** What to tell a user whose call failed for `reason`. */
export function userMessageFor(reason: FailureReason): string {
  switch (reason) {
    case "turn-401":
      return "The call server refused this session's access (it may have expired). Reload the page and try again.";
    case "tls-failure":
      return "A secure connection to the call server could not be opened. A firewall or proxy on your network may block it.";
    case "no-relay-candidate":
      return "The call server could not be reached. Your network may block the ports calls need; try another network.";
    case "timeout":
      return "The call took too long to connect. Check your internet connection and try again.";
    case "ice-failed":
      return "The call could not be connected, even through the call server. Check your connection or try another network.";
  }
}

/** Reads the selected candidate pair from getStats (Chrome: the transport's `selectedCandidatePairId`). */
export async function selectedPairReport(pc: RTCPeerConnection): Promise<IceReport | undefined> {
  const stats = await pc.getStats();
  let pairId: string | undefined;
  stats.forEach((entry: { type: string; selectedCandidatePairId?: string }) => {
    if (entry.type === "transport" && entry.selectedCandidatePairId) pairId = entry.selectedCandidatePairId;
  });
  let pair = pairId === undefined ? undefined : (stats.get(pairId) as RTCIceCandidatePairStats | undefined);
  if (pair === undefined) {
    // Firefox has no selectedCandidatePairId: its selected pair is the nominated, succeeded one.
    stats.forEach((entry: RTCIceCandidatePairStats) => {
      if (entry.type === "candidate-pair" && entry.nominated && entry.state === "succeeded") pair = entry;
    });
  }
  if (pair === undefined) return undefined;
  // Candidate stats are not in TypeScript's DOM lib: the fields read here are those of the W3C stats spec.
  const local = stats.get(pair.localCandidateId) as { candidateType?: string; protocol?: string; relayProtocol?: string } | undefined;
  const remote = stats.get(pair.remoteCandidateId) as { candidateType?: string } | undefined;
  const localType = asCandidateType(local?.candidateType);
  const remoteType = asCandidateType(remote?.candidateType);
  const protocol = asProtocol(localType === "relay" ? local?.relayProtocol : local?.protocol);
  if (localType === undefined || remoteType === undefined || protocol === undefined) return undefined;
  const rtt = pair.currentRoundTripTime;
  return {
    outcome: "connected",
    localCandidateType: localType,
    remoteCandidateType: remoteType,
    protocol,
    ...(typeof rtt === "number" && rtt >= 0 && rtt <= 60 ? { rttSeconds: rtt } : {}),
  };
}

function asCandidateType(value: string | undefined): CandidateType | undefined {
  return value === "host" || value === "srflx" || value === "prflx" || value === "relay" ? value : undefined;
}

function asProtocol(value: string | undefined): CandidateProtocol | undefined {
  return value === "udp" || value === "tcp" || value === "tls" ? value : undefined;
}

/**
 * Watches one connection until ICE connects, fails or times out, and says what to report. Call it right after
 * creating the RTCPeerConnection (before `setLocalDescription`), so that it sees every candidate and candidate error.
 * The failure reason is the most specific that applies (see FAILURE_REASONS). A connection whose stats name no
 * usable pair resolves `undefined` (nothing to report).
 */
export function watchConnection(pc: RTCPeerConnection, options: WatchOptions = {}): Promise<IceReport | undefined> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  let turn401 = false;
  let tlsFailure = false;
  let relayGathered = false;
  const onCandidate = (event: RTCPeerConnectionIceEvent): void => {
    if (event.candidate?.type === "relay") relayGathered = true;
  };
  const onCandidateError = (event: Event): void => {
    const { errorCode, url } = event as RTCPeerConnectionIceErrorEvent;
    if (errorCode === 401) turn401 = true;
    if (errorCode === 701 && url.startsWith("turns:")) tlsFailure = true;
  };
  pc.addEventListener("icecandidate", onCandidate);
  pc.addEventListener("icecandidateerror", onCandidateError);
  const failure = (timedOut: boolean): FailedReport => {
    const reason: FailureReason = turn401
      ? "turn-401"
      : tlsFailure
        ? "tls-failure"
        : !relayGathered
          ? "no-relay-candidate"
          : timedOut
            ? "timeout"
            : "ice-failed";
    return { outcome: "failed", reason };
  };
  return new Promise<IceReport | undefined>((resolve) => {
    const finish = (result: Promise<IceReport | undefined> | IceReport): void => {
      clearTimeout(timer);
      pc.removeEventListener("iceconnectionstatechange", onState);
      pc.removeEventListener("icecandidate", onCandidate);
      pc.removeEventListener("icecandidateerror", onCandidateError);
      resolve(Promise.resolve(result).catch(() => undefined));
    };
    const onState = (): void => {
      const state = pc.iceConnectionState;
      if (state === "connected" || state === "completed") finish(selectedPairReport(pc));
      else if (state === "failed" || state === "closed") finish(failure(false));
    };
    const timer = setTimeout(() => finish(failure(true)), timeoutMs);
    pc.addEventListener("iceconnectionstatechange", onState);
    onState();
  });
}

/** The expiry (unix seconds) a TURN REST username starts with (`<expiry>:<user>`), if it does. */
export function credentialExpiry(username: string | undefined): number | undefined {
  const match = /^(\d{9,11}):/.exec(username ?? "");
  return match ? Number(match[1]) : undefined;
}

/** How one attempt of `IceClient.connect` is set up: your signalling (offer/answer) for this connection. */
export type Attempt = "p2p" | "relay";

/** Settings of `IceClient.connect`. */
export interface ConnectOptions {
  /** Extra RTCConfiguration (e.g. `bundlePolicy`); `iceServers` and `iceTransportPolicy` are the client's. */
  readonly configuration?: Omit<RTCConfiguration, "iceServers" | "iceTransportPolicy">;
  /** How long the peer-to-peer attempt may take before falling back to TURN. Default: 10000 ms. */
  readonly p2pTimeoutMs?: number;
  /** How long the TURN attempt may take. Default: 15000 ms. */
  readonly relayTimeoutMs?: number;
}

/** A connected call from `IceClient.connect`. */
export interface ConnectedCall {
  /** The live connection (the client refreshes its credentials until it closes). */
  readonly pc: RTCPeerConnection;
  /** Which attempt connected. */
  readonly attempt: Attempt;
  /** What was reported. */
  readonly report: IceReport | undefined;
}

/** Fetches, caches and refreshes TURN credentials for an app, and reports call outcomes. */
export class IceClient {
  /** The settings given. */
  private readonly options: IceClientOptions;
  /** The credentials in use and when to fetch new ones. */
  private current: { servers: RTCIceServer[]; refreshAtMs: number } | undefined;
  /** The fetch under way, shared by concurrent callers. */
  private pending: Promise<RTCIceServer[]> | undefined;
  /** The refresh timer. */
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Connections whose credentials are kept fresh. */
  private readonly live = new Set<RTCPeerConnection>();
  /** Set by close(). */
  private closed = false;

  /** Creates the client; nothing is fetched until a configuration is asked for. */
  constructor(options: IceClientOptions) {
    const refreshAt = options.refreshAt ?? 0.8;
    if (!(refreshAt >= 0.1 && refreshAt <= 0.95)) throw new RangeError(`refreshAt ${refreshAt} is not a fraction from 0.1 to 0.95: use e.g. 0.8`);
    this.options = options;
  }

  /** The URL reports go to, or undefined when reporting is off. */
  get reportUrl(): string | undefined {
    if (this.options.reportUrl === null) return undefined;
    return this.options.reportUrl ?? new URL(ICE_REPORT_PATH, new URL(this.options.iceServersUrl, location.href)).href;
  }

  /** Credentialed iceServers: cached ones while fresh, else fetched. Throws IceServersError. */
  async iceServers(): Promise<RTCIceServer[]> {
    if (this.current !== undefined && Date.now() < this.current.refreshAtMs) return this.current.servers;
    this.pending ??= this.fetchServers().finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** An RTCConfiguration with fresh credentials: `"all"` for peer-to-peer first, `"relay"` for TURN only. */
  async configuration(policy: RTCIceTransportPolicy = "all", extra: ConnectOptions["configuration"] = {}): Promise<RTCConfiguration> {
    return { ...extra, iceServers: await this.iceServers(), iceTransportPolicy: policy };
  }

  /** Keeps a live connection's credentials fresh (`setConfiguration` on every refresh) until it closes. */
  track(pc: RTCPeerConnection): void {
    this.live.add(pc);
  }

  /** Posts a report to `/ice-report`; resolves whether it was accepted. Never throws (errors go to onError). */
  async report(report: IceReport): Promise<boolean> {
    const url = this.reportUrl;
    if (url === undefined) return false;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { ...(await this.options.headers?.()), "content-type": "application/json" },
        body: JSON.stringify(report),
        credentials: this.options.credentials ?? "same-origin",
      });
      if (response.ok) return true;
      this.warn(new Error(`POST ${url} answered ${response.status}: ${(await response.text()).slice(0, 200)}`));
    } catch (error) {
      this.warn(new Error(`POST ${url} failed: ${String(error)}`));
    }
    return false;
  }

  /**
   * The fallback strategy. Creates a connection with every candidate (`iceTransportPolicy: "all"`), runs your
   * `setup` (signalling: offer, answer, candidates) and waits; if ICE fails or times out, closes it and tries again
   * with TURN only (`"relay"`), whose `setup` must signal again (the other side retries too). Reports the final
   * outcome once, and throws CallFailedError (with `userMessage` to show) when the relay attempt fails too.
   */
  async connect(setup: (pc: RTCPeerConnection, attempt: Attempt) => Promise<void>, options: ConnectOptions = {}): Promise<ConnectedCall> {
    let lastReason: FailureReason = "ice-failed";
    for (const attempt of ["p2p", "relay"] as const) {
      const pc = new RTCPeerConnection(await this.configuration(attempt === "p2p" ? "all" : "relay", options.configuration));
      const watched = watchConnection(pc, { timeoutMs: attempt === "p2p" ? (options.p2pTimeoutMs ?? 10_000) : (options.relayTimeoutMs ?? 15_000) });
      try {
        await setup(pc, attempt);
      } catch (error) {
        pc.close();
        throw error;
      }
      const report = await watched;
      if (report === undefined || report.outcome === "connected") {
        this.track(pc);
        if (report !== undefined) await this.report(report);
        return { pc, attempt, report };
      }
      lastReason = report.reason;
      pc.close();
    }
    await this.report({ outcome: "failed", reason: lastReason });
    throw new CallFailedError(lastReason);
  }

  /** Stops refreshing and forgets the connections it tracks. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.live.clear();
  }

  /** Fetches /ice-servers and schedules the next refresh. */
  private async fetchServers(): Promise<RTCIceServer[]> {
    const url = this.options.iceServersUrl;
    let response: Response;
    try {
      response = await fetch(url, { headers: await this.options.headers?.(), credentials: this.options.credentials ?? "same-origin", cache: "no-store" });
    } catch (error) {
      throw new IceServersError(`GET ${url} failed (${String(error)}): is the endpoint up, and does it allow this origin (CORS)?`, 0);
    }
    if (response.status === 401) throw new IceServersError(`GET ${url} answered 401: the user is not signed in, or the headers/credentials option is missing`, 401);
    if (!response.ok) throw new IceServersError(`GET ${url} answered ${response.status}`, response.status);
    const answer = (await response.json()) as IceServersAnswer;
    if (!Array.isArray(answer.iceServers) || answer.iceServers.length === 0) throw new IceServersError(`GET ${url} answered without iceServers`, response.status);
    const fetchedAt = Date.now();
    const expiry = credentialExpiry(answer.iceServers[0].username);
    const expiresAtMs = expiry !== undefined ? expiry * 1000 : Date.parse(answer.expiresAt);
    const lifetime = Math.max(0, expiresAtMs - fetchedAt);
    const refreshAtMs = fetchedAt + lifetime * (this.options.refreshAt ?? 0.8);
    this.current = { servers: answer.iceServers, refreshAtMs };
    this.schedule(refreshAtMs - fetchedAt);
    return answer.iceServers;
  }

  /** Runs refresh() in `delayMs` (at least 1 s). */
  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    // Browsers run timers of up to 2^31-1 ms; credentials live a day at most.
    this.timer = setTimeout(() => void this.refresh(), Math.min(Math.max(delayMs, 1000), 2 ** 31 - 1));
  }

  /** Fetches new credentials for the live connections (none: nothing fetched until asked). */
  private async refresh(): Promise<void> {
    for (const pc of this.live) if (pc.connectionState === "closed") this.live.delete(pc);
    if (this.live.size === 0) return; // Fetched again on the next call; no idle traffic.
    try {
      this.current = undefined;
      const iceServers = await this.iceServers();
      for (const pc of this.live) pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
    } catch (error) {
      this.warn(error instanceof Error ? error : new Error(String(error)));
      this.schedule(10_000);
    }
  }

  /** Hands an error to onError (default: console.warn). */
  private warn(error: Error): void {
    (this.options.onError ?? ((e: Error) => console.warn(`coturn-pulumi/browser: ${e.message}`)))(error);
  }
}
