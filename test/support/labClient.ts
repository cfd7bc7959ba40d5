/**
 * TURN and TLS client jobs that run inside a lab namespace: the test process stays in the machine's namespace and
 * starts this script with `ip netns exec`. One JSON job in argv[2], one JSON line out. Uses the project's own TURN
 * client (src/probe/turnClient.ts), so the probe's building blocks are exercised too.
 */
import { createServer, connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { allocate, TurnError, type Allocation, type Endpoint, type TurnTransport } from "../../src/probe/turnClient";

/** Credentials for one allocation. */
interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** A job for this script. */
export type LabJob =
  /** Allocate, send `bytes` random bytes to an echo peer, and compare what comes back. */
  | { job: "echo"; server: Endpoint; transport: TurnTransport; credentials: Credentials; peer: Endpoint; bytes: number }
  /** Try one allocation; report the relayed address or the error code. */
  | { job: "allocate"; server: Endpoint; transport: TurnTransport; credentials: Credentials }
  /** On one allocation of `family`, ask for a permission and for a channel to each peer; report each outcome. */
  | { job: "peers"; server: Endpoint; family: "ipv4" | "ipv6"; credentials: Credentials; peers: string[] }
  /** Allocate `count` times with the same credentials; report each outcome, then release them all. */
  | { job: "quota"; server: Endpoint; credentials: Credentials; count: number }
  /** TLS handshake at one protocol version; report the protocol and the certificate, or the error. */
  | { job: "tls"; server: Endpoint; version: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3" }
  /** Same handshake against a TLS server started here that allows every version: proves the client can speak it. */
  | { job: "tls-control"; version: "TLSv1" | "TLSv1.1"; certificate: string; privateKey: string };

/** An outcome: success with details, or the STUN error code (or message) of a refusal. */
export type Outcome = { ok: true; relayed?: Endpoint } | { ok: false; code?: number; error: string };

const TIMEOUT_MS = 5000;

function outcomeOf(error: unknown): Outcome {
  return error instanceof TurnError
    ? { ok: false, code: error.code, error: error.message }
    : { ok: false, error: error instanceof Error ? error.message : String(error) };
}

function open(server: Endpoint, transport: TurnTransport, credentials: Credentials, family?: "ipv4" | "ipv6"): Promise<Allocation> {
  return allocate({
    server,
    transport,
    ...credentials,
    ...(family ? { family } : {}),
    // The lab's certificate is self-signed; the TLS jobs check it by fingerprint instead.
    tls: { rejectUnauthorized: false },
    timeoutMs: TIMEOUT_MS,
  });
}

/** TLS options that let the client offer old protocol versions (OpenSSL 3 refuses them at its default level). */
const oldTlsAllowed = (version: "TLSv1" | "TLSv1.1"): ConnectionOptions => ({
  minVersion: version,
  maxVersion: version,
  ciphers: "DEFAULT@SECLEVEL=0",
  rejectUnauthorized: false,
});

/** The lab answers a TLS handshake in milliseconds; coturn leaves a refused one unanswered, so wait briefly. */
const HANDSHAKE_TIMEOUT_MS = 2000;

function handshake(options: ConnectionOptions): Promise<object> {
  return new Promise((resolve) => {
    const socket: TLSSocket = connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, error: `no TLS answer within ${HANDSHAKE_TIMEOUT_MS} ms` });
    }, HANDSHAKE_TIMEOUT_MS);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const certificate = socket.getPeerX509Certificate();
      resolve({ ok: true, protocol: socket.getProtocol(), fingerprint256: certificate?.fingerprint256 });
      socket.destroy();
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, error: `${error.code ?? ""} ${error.message}`.trim() });
    });
  });
}

async function run(job: LabJob): Promise<object> {
  switch (job.job) {
    case "echo": {
      const allocation = await open(job.server, job.transport, job.credentials);
      try {
        const payload = Buffer.alloc(job.bytes);
        for (let i = 0; i < payload.length; i++) payload[i] = Math.floor(Math.random() * 256);
        await allocation.send(payload, job.peer);
        const reply = await allocation.receive(TIMEOUT_MS, job.peer);
        return { relayed: allocation.relayed, mapped: allocation.mapped, sent: payload.length, identical: reply.data.equals(payload) };
      } finally {
        await allocation.release();
      }
    }
    case "allocate": {
      try {
        const allocation = await open(job.server, job.transport, job.credentials);
        await allocation.release();
        return { ok: true, relayed: allocation.relayed };
      } catch (error) {
        return outcomeOf(error);
      }
    }
    case "peers": {
      const allocation = await open(job.server, "udp", job.credentials, job.family);
      const results: Record<string, { permission: Outcome; channel: Outcome }> = {};
      try {
        for (const peer of job.peers) {
          const target = { host: peer, port: 5000 };
          const attempt = (step: () => Promise<void>): Promise<Outcome> => step().then(() => ({ ok: true }) as Outcome, outcomeOf);
          results[peer] = {
            permission: await attempt(() => allocation.createPermission(target)),
            channel: await attempt(() => allocation.channelBind(target)),
          };
        }
        return { relayed: allocation.relayed, results };
      } finally {
        await allocation.release();
      }
    }
    case "quota": {
      const held: Allocation[] = [];
      const outcomes: Outcome[] = [];
      for (let i = 0; i < job.count; i++) {
        try {
          const allocation = await open(job.server, "udp", job.credentials);
          held.push(allocation);
          outcomes.push({ ok: true, relayed: allocation.relayed });
        } catch (error) {
          outcomes.push(outcomeOf(error));
        }
      }
      await Promise.all(held.map((a) => a.release()));
      return { outcomes };
    }
    case "tls":
      return handshake({
        host: job.server.host,
        port: job.server.port,
        ...(job.version === "TLSv1.2" || job.version === "TLSv1.3"
          ? { minVersion: job.version, maxVersion: job.version, rejectUnauthorized: false }
          : oldTlsAllowed(job.version)),
      });
    case "tls-control": {
      const server = createServer({
        cert: readFileSync(job.certificate),
        key: readFileSync(job.privateKey),
        minVersion: "TLSv1",
        ciphers: "DEFAULT@SECLEVEL=0",
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const port = (server.address() as { port: number }).port;
      try {
        return await handshake({ host: "127.0.0.1", port, ...oldTlsAllowed(job.version) });
      } finally {
        server.close();
      }
    }
  }
}

run(JSON.parse(process.argv[2] ?? "{}") as LabJob).then(
  (result) => {
    console.log(JSON.stringify(result));
    process.exit(0);
  },
  (error: unknown) => {
    console.log(JSON.stringify({ crashed: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
    process.exit(1);
  },
);
