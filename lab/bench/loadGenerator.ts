/**
 * The load generator's send loop: datagrams round-robin over its channels, either as fast as it can (below a
 * ceiling) or evenly paced, and, when the peer echoes, a sequence number in each datagram so that every echo is
 * matched to its send time. Only datagrams sent inside the measurement window count; their echoes are awaited for a
 * grace period after the window closes, then the rest count as lost.
 *
 * On a UDP channel every datagram is one send. On a TCP or TLS connection the datagrams one turn of the loop puts on
 * the same connection are written together, up to the channel's `framesPerWrite` per write (TCP 16, TLS 1: a record
 * each), each a padded ChannelData message, never a promise per datagram; the echoes are split out of the stream
 * (streamFraming.ts). A connection whose
 * unwritten backlog is over STREAM_BACKLOG_BYTES (coturn is not reading it fast enough) gets nothing more until it
 * drains: those datagrams are held back, counted, and lost.
 */
import { performance } from "node:perf_hooks";
import type { GeneratorJob, GeneratorResult } from "./generatorJob";
import type { SendChannel } from "./sendChannels";
import { percentileOfSorted } from "./relayStatistics";
import { StreamFrameParser, streamFrameBytes } from "./streamFraming";

/** Send times are kept in a ring: an echo older than this many datagrams is counted as lost, not timed. */
const SEND_TIME_RING = 1 << 21;
/** Each channel cycles through this many frame buffers, so a datagram still queued in the kernel is never rewritten. */
const FRAMES_PER_CHANNEL = 256;
/**
 * Unpaced: datagrams sent per turn of the event loop before echoes, signals and timers get their turn, times the
 * channels' datagrams per write (so that, round-robin, each connection gets a full write per turn).
 */
const UNPACED_BATCH = 64;
/** A stalled generator sends at most this much backlog at once; the rest is skipped, never sent as a burst. */
const MAX_BACKLOG_MS = 20;
/** The sequence number's size in the payload. */
const SEQUENCE_BYTES = 4;
/** A TCP/TLS connection takes no new datagrams while more than this is waiting in Node to be written. */
export const STREAM_BACKLOG_BYTES = 64 * 1024;

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
  private received = 0;
  private heldBack = 0;
  private inWindow = false;
  /** Per stream channel: its staging buffer (frames prefilled with header and padding) and frames staged this turn. */
  private readonly staging: Buffer[];
  private readonly staged: Int32Array;
  /** Stream channels with frames staged this turn. */
  private readonly dirty: number[] = [];
  private readonly streamFrameBytes: number;
  private readonly unpacedBatch: number;

  constructor(
    private readonly channels: readonly SendChannel[],
    private readonly job: GeneratorJob,
  ) {
    if (channels.length === 0) throw new Error("the generator needs at least one channel");
    if (job.payloadBytes < MIN_PAYLOAD_BYTES) throw new Error(`payloadBytes must be at least ${MIN_PAYLOAD_BYTES}`);
    this.rate = job.pace.kind === "paced" ? job.pace.perSecond : job.pace.ceilingPerSecond;
    const framesEach = job.echo ? FRAMES_PER_CHANNEL : 1;
    this.frames = channels.map((channel) =>
      channel.kind === "stream"
        ? []
        : Array.from({ length: framesEach }, () => {
            const frame = Buffer.alloc(channel.header.length + job.payloadBytes);
            channel.header.copy(frame, 0);
            return frame;
          }),
    );
    this.streamFrameBytes = streamFrameBytes(job.payloadBytes);
    this.unpacedBatch = UNPACED_BATCH * Math.max(1, ...channels.map((channel) => (channel.kind === "stream" ? channel.framesPerWrite : 1)));
    this.staging = channels.map((channel) => {
      if (channel.kind === "datagram") return Buffer.alloc(0);
      // Zeros after the header: the payload and the padding; only each frame's sequence number changes.
      const staging = Buffer.alloc(channel.framesPerWrite * this.streamFrameBytes);
      for (let i = 0; i < channel.framesPerWrite; i++) channel.header.copy(staging, i * this.streamFrameBytes);
      return staging;
    });
    this.staged = new Int32Array(channels.length);
    channels.forEach((channel) => {
      if (channel.kind === "datagram") {
        channel.socket.on("error", () => this.sendErrors++);
        if (job.echo) channel.socket.on("message", (datagram: Buffer) => this.onDatagram(datagram, channel.header.length));
        return;
      }
      channel.socket.on("error", () => this.sendErrors++);
      const parser = new StreamFrameParser({ onChannelData: (buffer, payloadOffset, payloadBytes) => this.onChannelData(buffer, payloadOffset, payloadBytes) });
      channel.socket.on("data", (chunk: Buffer) => {
        try {
          parser.push(chunk);
        } catch {
          // Lost its place in the stream: everything after is unreadable, so the connection goes (its echoes count as lost).
          this.sendErrors++;
          channel.socket.destroy();
        }
      });
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
    this.inWindow = true;
  }

  /** Closes the window and stops sending; resolves after the grace period with the window's account. */
  async closeWindow(): Promise<GeneratorResult> {
    this.windowEndSequence = this.nextSequence;
    this.windowClosedAt = performance.now();
    this.inWindow = false;
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
      received: this.received,
      heldBack: this.heldBack,
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
    const count = unpaced ? Math.min(due, this.unpacedBatch) : due;
    let written = 0;
    for (let i = 0; i < count; i++) if (this.sendOne()) written++;
    this.flushStreams();
    this.scheduled += Math.max(0, count);
    // Unpaced and still behind: straight on after I/O, unless every connection was backed up (then spinning would
    // only burn the generator's core). Otherwise wait for the next timer tick (about 1 ms).
    this.timer = unpaced && count === this.unpacedBatch && written > 0 ? setImmediate(this.pump) : setTimeout(this.pump, 1);
  };

  /** Sends (or stages) the next datagram; false when it was held back. */
  private sendOne(): boolean {
    const index = this.nextChannel;
    this.nextChannel = index + 1 === this.channels.length ? 0 : index + 1;
    const sequence = this.nextSequence++;
    const channel = this.channels[index];
    if (channel.kind === "stream") return this.stageOnStream(index, sequence);
    const ring = this.frames[index];
    // This channel's own count of sends picks the frame, so each frame is reused only every `ring.length` sends.
    const frame = ring[Math.floor(sequence / this.channels.length) % ring.length];
    if (this.job.echo) {
      frame.writeUInt32BE(sequence >>> 0, channel.header.length);
      this.sendTimes[sequence % SEND_TIME_RING] = performance.now();
    }
    channel.socket.send(frame);
    return true;
  }

  /** Puts datagram `sequence` in connection `index`'s staging buffer, or holds it back while the connection is backed up. */
  private stageOnStream(index: number, sequence: number): boolean {
    const channel = this.channels[index];
    if (channel.kind !== "stream") return false;
    if (channel.socket.writableLength > STREAM_BACKLOG_BYTES || channel.socket.destroyed) {
      if (this.inWindow) this.heldBack++;
      return false;
    }
    const at = this.staged[index];
    if (at === 0) this.dirty.push(index);
    if (this.job.echo) {
      this.staging[index].writeUInt32BE(sequence >>> 0, at * this.streamFrameBytes + channel.header.length);
      this.sendTimes[sequence % SEND_TIME_RING] = performance.now();
    }
    this.staged[index] = at + 1;
    if (at + 1 === channel.framesPerWrite) this.flushStream(index);
    return true;
  }

  /** Writes connection `index`'s staged frames in one write (a copy: the staging buffer is reused at once). */
  private flushStream(index: number): void {
    const frames = this.staged[index];
    if (frames === 0) return;
    this.staged[index] = 0;
    const channel = this.channels[index];
    if (channel.kind !== "stream") return;
    channel.socket.write(Buffer.from(this.staging[index].subarray(0, frames * this.streamFrameBytes)));
  }

  /** Writes every connection's frames staged in this turn. */
  private flushStreams(): void {
    for (const index of this.dirty) this.flushStream(index);
    this.dirty.length = 0;
  }

  /** A datagram from the server (TURN) or the peer (raw). */
  private onDatagram(datagram: Buffer, headerBytes: number): void {
    // Over TURN only ChannelData (first two bits 01) carries echoes; STUN messages (00) are not traffic.
    if (headerBytes > 0 && (datagram[0] & 0xc0) !== 0x40) return;
    this.onChannelData(datagram, headerBytes, datagram.length - headerBytes);
  }

  /** A relayed datagram whose payload starts at `payloadOffset` of `buffer`: counted, and timed if it is an echo of the window. */
  private onChannelData(buffer: Buffer, payloadOffset: number, payloadBytes: number): void {
    const now = performance.now();
    if (this.inWindow) this.received++;
    if (!this.job.echo || payloadBytes < SEQUENCE_BYTES) return;
    const sequence = buffer.readUInt32BE(payloadOffset);
    if (this.windowFirstSequence < 0 || sequence < this.windowFirstSequence || sequence >= this.windowEndSequence) return;
    if (this.nextSequence - sequence > SEND_TIME_RING) return;
    this.echoed++;
    this.roundTrips.push(now - this.sendTimes[sequence % SEND_TIME_RING]);
  }
}
