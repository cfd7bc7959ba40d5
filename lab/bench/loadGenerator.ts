/**
 * The load generator's send loop: datagrams round-robin over its channels, either as fast as it can (below a
 * ceiling) or evenly paced, and, when the peer echoes, a sequence number in each datagram so that every echo is
 * matched to its send time. Only datagrams sent inside the measurement window count; their echoes are awaited for a
 * grace period after the window closes, then the rest count as lost.
 */
import { performance } from "node:perf_hooks";
import type { GeneratorJob, GeneratorResult } from "./generatorJob";
import type { SendChannel } from "./sendChannels";
import { percentileOfSorted } from "./relayStatistics";

/** Send times are kept in a ring: an echo older than this many datagrams is counted as lost, not timed. */
const SEND_TIME_RING = 1 << 21;
/** Each channel cycles through this many frame buffers, so a datagram still queued in the kernel is never rewritten. */
const FRAMES_PER_CHANNEL = 256;
/** Unpaced: datagrams sent per turn of the event loop before echoes, signals and timers get their turn. */
const UNPACED_BATCH = 64;
/** A stalled generator sends at most this much backlog at once; the rest is skipped, never sent as a burst. */
const MAX_BACKLOG_MS = 20;
/** The sequence number's size in the payload. */
const SEQUENCE_BYTES = 4;

/** The smallest payload a job may ask for: it must hold the sequence number. */
export const MIN_PAYLOAD_BYTES = SEQUENCE_BYTES;

/** Sends a job's datagrams on already-open channels and accounts for the window. */
export class LoadGenerator {
  private readonly frames: Buffer[][];
  private readonly sendTimes = new Float64Array(SEND_TIME_RING);
  private readonly roundTrips: number[] = [];
  private readonly rate: number;
  private nextChannel = 0;
  private nextSequence = 0;
  /** Datagrams sent or skipped since start: what the pacing clock has asked for. */
  private scheduled = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private stopped = false;
  private windowFirstSequence = -1;
  private windowEndSequence = Number.POSITIVE_INFINITY;
  private windowOpenedAt = 0;
  private windowClosedAt = 0;
  private echoed = 0;
  private sendErrors = 0;

  constructor(
    private readonly channels: readonly SendChannel[],
    private readonly job: GeneratorJob,
  ) {
    if (channels.length === 0) throw new Error("the generator needs at least one channel");
    if (job.payloadBytes < MIN_PAYLOAD_BYTES) throw new Error(`payloadBytes must be at least ${MIN_PAYLOAD_BYTES}`);
    this.rate = job.pace.kind === "paced" ? job.pace.perSecond : job.pace.ceilingPerSecond;
    const framesEach = job.echo ? FRAMES_PER_CHANNEL : 1;
    this.frames = channels.map(({ header }) =>
      Array.from({ length: framesEach }, () => {
        const frame = Buffer.alloc(header.length + job.payloadBytes);
        header.copy(frame, 0);
        return frame;
      }),
    );
    channels.forEach((channel) => {
      channel.socket.on("error", () => this.sendErrors++);
      if (job.echo) channel.socket.on("message", (datagram: Buffer) => this.onEcho(datagram, channel.header.length));
    });
  }

  /** Starts sending (the warm-up, until `openWindow`). */
  start(): void {
    this.startedAt = performance.now();
    this.pump();
  }

  /** Opens the measurement window: from the next datagram on, everything counts. */
  openWindow(): void {
    this.windowFirstSequence = this.nextSequence;
    this.windowOpenedAt = performance.now();
  }

  /** Closes the window and stops sending; resolves after the grace period with the window's account. */
  async closeWindow(): Promise<GeneratorResult> {
    this.windowEndSequence = this.nextSequence;
    this.windowClosedAt = performance.now();
    this.stop();
    if (this.job.echo) await new Promise((resolve) => setTimeout(resolve, this.job.graceMs));
    const sent = this.windowFirstSequence < 0 ? 0 : this.windowEndSequence - this.windowFirstSequence;
    const sorted = Float64Array.from(this.roundTrips).sort();
    return {
      windowMs: this.windowClosedAt - this.windowOpenedAt,
      sent,
      echoed: this.job.echo ? this.echoed : 0,
      lost: this.job.echo ? sent - this.echoed : 0,
      roundTripMs:
        sorted.length === 0
          ? null
          : {
              p50: percentileOfSorted(sorted, 50),
              p95: percentileOfSorted(sorted, 95),
              p99: percentileOfSorted(sorted, 99),
              max: sorted[sorted.length - 1],
            },
      sendErrors: this.sendErrors,
    };
  }

  /** Stops sending (echoes are still received). */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
  }

  /** Sends what the pacing clock asks for now, then schedules the next turn. */
  private pump = (): void => {
    if (this.stopped) return;
    const elapsedMs = performance.now() - this.startedAt;
    let due = Math.floor((this.rate * elapsedMs) / 1000) - this.scheduled;
    const maxBacklog = Math.max(1, Math.floor((this.rate * MAX_BACKLOG_MS) / 1000));
    if (due > maxBacklog) {
      this.scheduled += due - maxBacklog;
      due = maxBacklog;
    }
    const unpaced = this.job.pace.kind === "unpaced";
    const count = unpaced ? Math.min(due, UNPACED_BATCH) : due;
    for (let i = 0; i < count; i++) this.sendOne();
    this.scheduled += Math.max(0, count);
    // Unpaced and still behind: straight on after I/O. Otherwise wait for the next timer tick (about 1 ms).
    this.timer = unpaced && count === UNPACED_BATCH ? setImmediate(this.pump) : setTimeout(this.pump, 1);
  };

  private sendOne(): void {
    const index = this.nextChannel;
    this.nextChannel = index + 1 === this.channels.length ? 0 : index + 1;
    const sequence = this.nextSequence++;
    const ring = this.frames[index];
    // This channel's own count of sends picks the frame, so each frame is reused only every `ring.length` sends.
    const frame = ring[Math.floor(sequence / this.channels.length) % ring.length];
    if (this.job.echo) {
      frame.writeUInt32BE(sequence >>> 0, this.channels[index].header.length);
      this.sendTimes[sequence % SEND_TIME_RING] = performance.now();
    }
    this.channels[index].socket.send(frame);
  }

  private onEcho(datagram: Buffer, headerBytes: number): void {
    const now = performance.now();
    if (datagram.length < headerBytes + SEQUENCE_BYTES) return;
    // Over TURN only ChannelData (first two bits 01) carries echoes; STUN messages (00) are not traffic.
    if (headerBytes > 0 && (datagram[0] & 0xc0) !== 0x40) return;
    const sequence = datagram.readUInt32BE(headerBytes);
    if (this.windowFirstSequence < 0 || sequence < this.windowFirstSequence || sequence >= this.windowEndSequence) return;
    if (this.nextSequence - sequence > SEND_TIME_RING) return;
    this.echoed++;
    this.roundTrips.push(now - this.sendTimes[sequence % SEND_TIME_RING]);
  }
}
