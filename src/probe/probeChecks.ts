/**
 * The post-deploy probe: the checks a person would otherwise make by hand on a trickle-ICE page, run against any TURN
 * server with REST credentials. Each check yields a row with a plain-language reason, and nothing is assumed: a
 * check that cannot run is a failure with its cause.
 */
import type { ConnectionOptions } from "node:tls";
import { certificateProblems, DEFAULT_MIN_CERTIFICATE_DAYS, describeCertificate, inspectCertificate, type ServedCertificate } from "./certificate";
import { allocate, stunBinding, TurnError, TurnTimeout, type Allocation, type Endpoint, type TurnTransport } from "./turnClient";

/** One check's outcome. */
export interface CheckResult {
  /** What was checked. */
  readonly check: string;
  /** Transport it ran over (`-` when none applies). */
  readonly transport: string;
  /** Passed or not. */
  readonly ok: boolean;
  /** What was seen, and on failure what it means. */
  readonly detail: string;
  /** The served certificate, on the TLS certificate check when the handshake got one. */
  readonly certificate?: ServedCertificate;
}

/** A TURN credential pair. */
export interface ProbeCredential {
  /** REST username. */
  readonly username: string;
  /** REST password. */
  readonly password: string;
}

/** What to probe and how. */
export interface ProbeTarget {
  /** Host name or IP the client connects to. */
  readonly host: string;
  /** Plain TURN port (UDP and TCP) and TLS port. */
  readonly ports: { readonly plain: number; readonly tls: number };
  /** Transports to allocate over; STUN Binding runs when UDP is among them. */
  readonly transports: readonly TurnTransport[];
  /** Gives a credential for each allocation (minted fresh, or a fixed one given by the user). */
  readonly credential: () => ProbeCredential;
  /** The IP every relayed address must have (the stack's static IP); unchecked when absent. */
  readonly expectedRelayIp?: string;
  /** Peers the relay must refuse (403); at least one. */
  readonly forbiddenPeers: readonly string[];
  /** TLS verification: `ca`, `servername`, or `rejectUnauthorized: false` for a self-signed test server. */
  readonly tls: Pick<ConnectionOptions, "ca" | "servername" | "rejectUnauthorized">;
  /** Bound on each network step, ms. */
  readonly timeoutMs: number;
  /** The TLS certificate fails with fewer whole days left than this. Default: DEFAULT_MIN_CERTIFICATE_DAYS. */
  readonly minCertificateDays?: number;
}

/** Default peers a probe asks for: loopback, a private network, and the cloud metadata service. */
export const DEFAULT_FORBIDDEN_PEERS = ["127.0.0.1", "10.0.0.1", "169.254.169.254"] as const;

/** Explains a failure in the words an operator needs. */
export function explainFailure(error: unknown): string {
  if (error instanceof TurnError) {
    const hints: Record<number, string> = {
      401: "credentials rejected: minted with a secret the server does not hold, expired, or the server clock is off",
      403: "forbidden by the server's peer rules",
      437: "allocation mismatch: the server restarted or the 5-tuple was reused",
      441: "wrong credentials for this allocation",
      486: "allocation quota reached for this user (user-quota)",
      508: "the server's relay port range is exhausted",
    };
    return `${error.code} ${error.reason}${hints[error.code] ? `: ${hints[error.code]}` : ""}`;
  }
  if (error instanceof TurnTimeout) return `${error.message} (firewall closed, wrong host or port, or server down)`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ECONNREFUSED") return "connection refused: nothing listens on that port (listener off, or firewall rejects)";
  return error instanceof Error ? error.message : String(error);
}

const endpoint = (e: Endpoint): string => (e.host.includes(":") ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`);

/** Runs every check in order, calling `onResult` as each finishes (for progress output); returns all results. */
export async function runProbe(target: ProbeTarget, onResult: (result: CheckResult) => void = () => undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const record = (check: string, transport: string, ok: boolean, detail: string, certificate?: ServedCertificate): void => {
    const result: CheckResult = { check, transport, ok, detail, ...(certificate ? { certificate } : {}) };
    results.push(result);
    onResult(result);
  };
  const server = (transport: TurnTransport): Endpoint => ({
    host: target.host,
    port: transport === "tls" ? target.ports.tls : target.ports.plain,
  });
  const open = (transport: TurnTransport, credential: ProbeCredential = target.credential()): Promise<Allocation> =>
    allocate({
      server: server(transport),
      transport,
      username: credential.username,
      password: credential.password,
      tls: target.tls,
      timeoutMs: target.timeoutMs,
    });

  if (target.transports.includes("udp")) {
    try {
      const mapped = await stunBinding(server("udp"), target.timeoutMs);
      record("STUN binding", "udp", true, `server sees this client as ${endpoint(mapped)}`);
    } catch (error) {
      record("STUN binding", "udp", false, explainFailure(error));
    }
  }

  const [first] = target.transports;
  if (first !== undefined) {
    try {
      const anonymous = await open(first, { username: "", password: "" });
      await anonymous.release();
      record("no credentials refused", first, false, `OPEN RELAY: an allocation without credentials got ${endpoint(anonymous.relayed)}`);
    } catch (error) {
      const refused = error instanceof TurnError && error.code === 401;
      record("no credentials refused", first, refused, refused ? "401: allocation without credentials refused" : explainFailure(error));
    }
  }

  let held: { allocation: Allocation; transport: TurnTransport } | undefined;
  for (const transport of target.transports) {
    try {
      const allocation = await open(transport);
      const relayIp = allocation.relayed.host;
      const wrongIp = target.expectedRelayIp !== undefined && relayIp !== target.expectedRelayIp;
      record(
        "allocation",
        transport,
        !wrongIp,
        wrongIp
          ? `relayed address ${endpoint(allocation.relayed)} is not the static IP ${target.expectedRelayIp}: peers would send media to the wrong address (check external-ip)`
          : `relayed address ${endpoint(allocation.relayed)}`,
      );
      if (held === undefined) held = { allocation, transport };
      else await allocation.release();
    } catch (error) {
      record("allocation", transport, false, explainFailure(error));
    }
  }

  if (target.transports.includes("tls")) {
    const { check, transport, ok, detail, certificate } = await checkCertificate(target);
    record(check, transport, ok, detail, certificate);
  }

  if (held !== undefined) {
    await checkRelay(held.allocation, held.transport, open, record, target.timeoutMs);
    for (const peer of target.forbiddenPeers) {
      try {
        await held.allocation.createPermission({ host: peer, port: 9 });
        record(`peer ${peer} refused`, held.transport, false, `relay ACCEPTED ${peer}: the deny list is open, any credential holder can reach it`);
      } catch (error) {
        const code = error instanceof TurnError ? error.code : undefined;
        const ok = code === 403 || code === 443;
        const detail = code === 403 ? "403 Forbidden" : code === 443 ? "443: the server relays no such address family" : explainFailure(error);
        record(`peer ${peer} refused`, held.transport, ok, detail);
      }
    }
    await held.allocation.release();
  }
  return results;
}

/** Relays a datagram from one allocation to another through the server and back, as two browsers on a call do. */
async function checkRelay(
  a: Allocation,
  transport: TurnTransport,
  open: (transport: TurnTransport) => Promise<Allocation>,
  record: (check: string, transport: string, ok: boolean, detail: string) => void,
  timeoutMs: number,
): Promise<void> {
  let b: Allocation | undefined;
  try {
    b = await open(transport);
    await a.createPermission(b.relayed);
    await b.createPermission(a.relayed);
    const ping = Buffer.from(`probe ${Date.now()} ${Math.random()}`);
    await a.send(ping, b.relayed);
    const atB = await b.receive(timeoutMs);
    await b.send(Buffer.from(atB.data).reverse(), a.relayed);
    const atA = await a.receive(timeoutMs);
    const ok = atB.data.equals(ping) && atA.data.equals(Buffer.from(ping).reverse());
    record("relay between two allocations", transport, ok, ok ? `${ping.length} bytes each way, byte for byte` : "data arrived altered");
  } catch (error) {
    record("relay between two allocations", transport, false, explainFailure(error));
  } finally {
    await b?.release();
  }
}

/**
 * The TLS certificate check on its own: handshakes with the TLS listener and judges the served certificate as a browser
 * would (a trusted chain unless `rejectUnauthorized: false`, a subjectAltName naming `servername` or else the host) and
 * as an operator must (at least `minCertificateDays` whole days left). The result carries the certificate when the
 * handshake got one, failing or not.
 */
export async function checkCertificate(
  target: Pick<ProbeTarget, "host" | "ports" | "tls" | "timeoutMs" | "minCertificateDays">,
): Promise<CheckResult> {
  const row = { check: "TLS certificate", transport: "tls" };
  let certificate: ServedCertificate;
  try {
    certificate = await inspectCertificate({
      host: target.host,
      port: target.ports.tls,
      tls: { ca: target.tls.ca, servername: target.tls.servername },
      timeoutMs: target.timeoutMs,
    });
  } catch (error) {
    return { ...row, ok: false, detail: `TLS handshake failed: ${explainFailure(error)}` };
  }
  const policy = { minDays: target.minCertificateDays ?? DEFAULT_MIN_CERTIFICATE_DAYS, requireTrust: target.tls.rejectUnauthorized !== false };
  const problems = certificateProblems(certificate, policy);
  const detail = `${describeCertificate(certificate, policy)}${problems.length > 0 ? `: ${problems.join("; ")}` : ""}`;
  return { ...row, ok: problems.length === 0, detail, certificate };
}
