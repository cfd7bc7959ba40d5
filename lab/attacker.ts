/**
 * An abusive client, for the per-source limits' lab test: it runs inside an attacker namespace the test created
 * (`ip netns exec … node --import tsx lab/attacker.ts '<job>'`), sends only to the lab's server address, and stops by
 * itself (every loop is bounded by the job's duration or count). It prints one JSON line when done (and, for
 * `hold-connections`, a `holding` line once its connections are open).
 */
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { Socket } from "node:net";

/** Where the attack goes. */
interface Target {
  readonly host: string;
  readonly port: number;
}

/** What the attacker does. */
export type AttackJob =
  /** Unauthenticated STUN Allocate requests at `perSecond` for `durationMs` from one UDP socket; counts the answers. */
  | { readonly job: "request-flood"; readonly target: Target; readonly perSecond: number; readonly durationMs: number }
  /**
   * Opens `count` TCP connections spread over `targets` (at most `concurrency` connecting at once, each given up after
   * `connectTimeoutMs`), sends nothing on them (an idle TLS client never sends its ClientHello), prints `holding`,
   * keeps them `holdMs`, then closes them all.
   */
  | {
      readonly job: "hold-connections";
      readonly targets: readonly Target[];
      readonly count: number;
      readonly concurrency: number;
      readonly connectTimeoutMs: number;
      readonly holdMs: number;
    }
  /** New TCP connections at `perSecond` for `durationMs`, each closed as soon as it is established. */
  | { readonly job: "connect-rate"; readonly target: Target; readonly perSecond: number; readonly durationMs: number; readonly connectTimeoutMs: number };

/** What `request-flood` reports. */
export interface FloodReport {
  readonly sent: number;
  readonly answered: number;
  readonly elapsedMs: number;
}

/** What `hold-connections` and `connect-rate` report. */
export interface ConnectReport {
  readonly attempted: number;
  readonly established: number;
  readonly failed: number;
  readonly elapsedMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A STUN Allocate request without credentials (RFC 8656): REQUESTED-TRANSPORT UDP, a fresh transaction id. */
function allocateRequest(): Buffer {
  const message = Buffer.alloc(28);
  message.writeUInt16BE(0x0003, 0);
  message.writeUInt16BE(8, 2);
  message.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(message, 8);
  message.writeUInt16BE(0x0019, 20);
  message.writeUInt16BE(4, 22);
  message.writeUInt8(17, 24);
  return message;
}

async function requestFlood(job: Extract<AttackJob, { job: "request-flood" }>): Promise<FloodReport> {
  const socket = createSocket("udp4");
  let answered = 0;
  socket.on("message", () => answered++);
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  const started = Date.now();
  const tickMs = 10;
  let sent = 0;
  // Send in 10 ms ticks, catching up to the schedule after a slow tick; bounded by the duration.
  while (Date.now() - started < job.durationMs) {
    const due = Math.floor(((Date.now() - started) * job.perSecond) / 1000);
    for (; sent < due; sent++) socket.send(allocateRequest(), job.target.port, job.target.host);
    await sleep(tickMs);
  }
  const elapsedMs = Date.now() - started;
  // Answers to the last requests are a round trip away.
  await sleep(1000);
  socket.close();
  return { sent, answered, elapsedMs };
}

/** Connects once; resolves with the socket, or null when refused, reset or not established in time. */
function connectOnce(target: Target, timeoutMs: number): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(null);
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(null);
    });
    socket.connect(target.port, target.host);
  });
}

async function holdConnections(job: Extract<AttackJob, { job: "hold-connections" }>): Promise<ConnectReport> {
  const started = Date.now();
  const open: Socket[] = [];
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < job.count) {
      const target = job.targets[next % job.targets.length];
      next++;
      const socket = await connectOnce(target, job.connectTimeoutMs);
      if (socket) {
        // The server may close it: count only what stays open.
        socket.on("error", () => undefined);
        open.push(socket);
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, worker));
  const established = open.filter((s) => !s.destroyed).length;
  console.log(JSON.stringify({ holding: established }));
  await sleep(Math.max(0, job.holdMs - (Date.now() - started)));
  for (const socket of open) socket.destroy();
  return { attempted: job.count, established, failed, elapsedMs: Date.now() - started };
}

async function connectRate(job: Extract<AttackJob, { job: "connect-rate" }>): Promise<ConnectReport> {
  const started = Date.now();
  let attempted = 0;
  let established = 0;
  let failed = 0;
  const pending: Promise<void>[] = [];
  while (Date.now() - started < job.durationMs) {
    const due = Math.floor(((Date.now() - started) * job.perSecond) / 1000);
    for (; attempted < due; attempted++) {
      pending.push(
        connectOnce(job.target, job.connectTimeoutMs).then((socket) => {
          if (socket) {
            established++;
            socket.destroy();
          } else failed++;
        }),
      );
    }
    await sleep(10);
  }
  const elapsedMs = Date.now() - started;
  await Promise.all(pending);
  return { attempted, established, failed, elapsedMs };
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? "{}") as AttackJob;
  const report = job.job === "request-flood" ? await requestFlood(job) : job.job === "hold-connections" ? await holdConnections(job) : await connectRate(job);
  console.log(JSON.stringify(report));
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.log(JSON.stringify({ error: String(error) }));
    process.exit(1);
  },
);
