/**
 * TURN and TLS client jobs that run inside a lab namespace: the test process stays in the machine's namespace and
 * starts this script with `ip netns exec`. One JSON job in argv[2], one JSON line out. Uses the project's own TURN
 * client (src/probe/turnClient.ts), so the probe's building blocks are exercised too.
 */
import { createServer, connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import { readFileSync } from "node:fs";
import { allocate, stunBinding, TurnError, type Allocation, type Endpoint, type TurnTransport } from "../src/probe/turnClient";

/** Credentials for one allocation. */
interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** A job for this script. */
export type LabJob =
  /** Allocate, send `bytes` random bytes to an echo peer, and compare what comes back. */
  | { job: "echo"; server: Endpoint; transport: TurnTransport; credentials: Credentials; peer: Endpoint; bytes: number }
  /**
   * STUN binding requests every 250 ms until one is answered or `waitMs` passes; reports the reflexive address and
   * when (epoch ms) the answer came, or the last error.
   */
  | { job: "stun"; server: Endpoint; waitMs: number }
  /** Try one allocation; report the relayed address or the error code. */
  | { job: "allocate"; server: Endpoint; transport: TurnTransport; credentials: Credentials }
  /** On one allocation of `family`, ask for a permission and for a channel to each peer; report each outcome. */
  | { job: "peers"; server: Endpoint; family: "ipv4" | "ipv6"; credentials: Credentials; peers: string[] }
  /** `count` allocation attempts one after the other (a burst of refusals, say); report how many ended with each code. */
  | { job: "attempts"; server: Endpoint; transport: TurnTransport; credentials: Credentials; count: number }
  /** Allocate `count` times with the same credentials; report each outcome, then release them all. */
  | { job: "quota"; server: Endpoint; credentials: Credentials; count: number }
  /** TLS handshake at one protocol version; report the protocol and the certificate, or the error. */
  | { job: "tls"; server: Endpoint; version: "TLSv1" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3" }
  /** Same handshake against a TLS server started here that allows every version: proves the client can speak it. */
  | { job: "tls-control"; version: "TLSv1" | "TLSv1.1"; certificate: string; privateKey: string }
  /**
   * A call's media on one allocation: prints `{"ready":…}` once relaying, then sends numbered packets to an echo peer
   * at `packetsPerSecond` for `durationMs`, refreshing the allocation and its permission every `refreshEveryMs` as a
   * browser does; reports what was sent, echoed and lost, and each refresh's outcome.
   */
  | {
      job: "stream";
      server: Endpoint;
      transport: TurnTransport;
      credentials: Credentials;
      peer: Endpoint;
      packetsPerSecond: number;
      durationMs: number;
      refreshEveryMs: number;
    };

/** An outcome: success with details, or the STUN error code (or message) of a refusal. */
export type Outcome = { ok: true; relayed?: Endpoint } | { ok: false; code?: number; error: string };

const TIMEOUT_MS = 5000;
/** The quota job's deadline per allocation: long, because it never retries on a new socket (see there). */
const QUOTA_TIMEOUT_MS = 20_000;

function outcomeOf(error: unknown): Outcome {
  return error instanceof TurnError
    ? { ok: false, code: error.code, error: error.message }
    : { ok: false, error: error instanceof Error ? error.message : String(error) };
}

function open(
  server: Endpoint,
  transport: TurnTransport,
  credentials: Credentials,
  family?: "ipv4" | "ipv6",
  timeoutMs = TIMEOUT_MS,
): Promise<Allocation> {
  return allocate({
    server,
    transport,
    ...credentials,
    ...(family ? { family } : {}),
    // The lab's certificate is self-signed; the TLS jobs check it by fingerprint instead.
    tls: { rejectUnauthorized: false },
    timeoutMs,
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

/** The packet size of a 64 kbit/s audio stream at 50 packets per second. */
const STREAM_PACKET_BYTES = 160;

/** What the "stream" job reports: packets sent and echoed by the peer, and each refresh's outcome. */
export interface StreamReport {
  relayed: Endpoint;
  sent: number;
  echoed: number;
  lost: number;
  firstLost: number[];
  refreshes: Array<{ atMs: number } & Outcome>;
}

async function stream(job: Extract<LabJob, { job: "stream" }>): Promise<StreamReport> {
  const allocation = await open(job.server, job.transport, job.credentials);
  const echoed = new Set<number>();
  let stopped = false;
  const receiving = (async () => {
    while (!stopped) {
      try {
        const { data } = await allocation.receive(200, job.peer);
        echoed.add(data.readUInt32BE(0));
      } catch {
        // Nothing within 200 ms: look again until stopped.
      }
    }
  })();
  const refreshes: StreamReport["refreshes"] = [];
  const started = Date.now();
  const total = Math.round((job.durationMs / 1000) * job.packetsPerSecond);
  let nextRefresh = job.refreshEveryMs;
  // The permission is installed by the first send; announce only once media flows.
  const packet = (seq: number): Buffer => {
    const data = Buffer.alloc(STREAM_PACKET_BYTES);
    data.writeUInt32BE(seq, 0);
    return data;
  };
  await allocation.send(packet(0), job.peer);
  console.log(JSON.stringify({ ready: true, relayed: allocation.relayed }));
  for (let seq = 1; seq < total; seq++) {
    const due = started + (seq * 1000) / job.packetsPerSecond;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await allocation.send(packet(seq), job.peer);
    if (Date.now() - started >= nextRefresh) {
      nextRefresh += job.refreshEveryMs;
      const atMs = Date.now() - started;
      const outcome = await allocation
        .refresh(600)
        .then(() => allocation.createPermission(job.peer))
        .then(() => ({ ok: true }) as Outcome, outcomeOf);
      refreshes.push({ atMs, ...outcome });
    }
  }
  // Echoes of the last packets are a round trip away.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  stopped = true;
  await receiving;
  await allocation.release();
  const lost = [...Array(total).keys()].filter((seq) => !echoed.has(seq));
  return { relayed: allocation.relayed, sent: total, echoed: echoed.size, lost: lost.length, firstLost: lost.slice(0, 10), refreshes };
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
    case "stun": {
      const deadline = Date.now() + job.waitMs;
      let tries = 0;
      for (;;) {
        tries++;
        try {
          const mapped = await stunBinding(job.server, 1000);
          return { ok: true, mapped, answeredAt: Date.now(), tries };
        } catch (error) {
          if (Date.now() >= deadline) return { ...outcomeOf(error), tries };
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
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
    case "attempts": {
      const codes: Record<string, number> = {};
      for (let i = 0; i < job.count; i++) {
        let code = "ok";
        try {
          await (await open(job.server, job.transport, job.credentials)).release();
        } catch (error) {
          const outcome = outcomeOf(error);
          code = outcome.ok ? "ok" : String(outcome.code ?? "error");
        }
        codes[code] = (codes[code] ?? 0) + 1;
      }
      return { codes };
    }
    case "quota": {
      const held: Allocation[] = [];
      const outcomes: Outcome[] = [];
      for (let i = 0; i < job.count; i++) {
        // One transaction per allocation, with werift's retransmissions and a generous deadline for a loaded machine.
        // Never a second try on a new socket: if the first request's answer was merely late, the server would hold
        // an allocation this job does not know about, and the quota would seem one smaller than it is.
        // One exception: 437 says the server holds an allocation for this socket's 5-tuple already (the kernel gave it
        // the port of an earlier job's socket whose allocation the server still keeps) and made none for this
        // request, so a new socket cannot make the quota seem smaller.
        for (let attempt = 1; ; attempt++) {
          try {
            const allocation = await open(job.server, "udp", job.credentials, undefined, QUOTA_TIMEOUT_MS);
            held.push(allocation);
            outcomes.push({ ok: true, relayed: allocation.relayed });
          } catch (error) {
            const outcome = outcomeOf(error);
            if (!outcome.ok && outcome.code === 437 && attempt < 3) continue;
            outcomes.push(outcome);
          }
          break;
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
    case "stream":
      return stream(job);
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
