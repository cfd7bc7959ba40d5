/**
 * TURN's framing on a stream (TCP or TLS between client and server, RFC 8656 §12.5): the stream carries STUN
 * messages and ChannelData messages back to back, with nothing between them. A STUN message is its 20-byte header and
 * its attributes (always a multiple of 4 bytes); a ChannelData message is its 4-byte header (channel number, payload
 * length) and the payload, padded with zeros to a multiple of 4 bytes, padding that the length field does not count.
 * The first two bits tell them apart: 00 is STUN, 01 ChannelData (channels 0x4000-0x4FFF); anything else means the
 * reader lost its place in the stream. Pure: no sockets here, so the parser can be tested with any split of the bytes.
 */
import { CHANNEL_DATA_HEADER_BYTES } from "./generatorJob";

/** A STUN message's fixed header. */
const STUN_HEADER_BYTES = 20;

/** `bytes` rounded up to a multiple of 4 (ChannelData over a stream is padded to that). */
export function paddedLength(bytes: number): number {
  return (bytes + 3) & ~3;
}

/** Bytes one ChannelData message with `payloadBytes` of payload takes on a stream, header and padding included. */
export function streamFrameBytes(payloadBytes: number): number {
  return CHANNEL_DATA_HEADER_BYTES + paddedLength(payloadBytes);
}

/** A ChannelData message for a stream: header, `payload`, and zeros up to a multiple of 4 bytes. */
export function streamChannelData(channel: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(streamFrameBytes(payload.length));
  frame.writeUInt16BE(channel, 0);
  frame.writeUInt16BE(payload.length, 2);
  payload.copy(frame, CHANNEL_DATA_HEADER_BYTES);
  return frame;
}

/** The stream held bytes that are neither STUN nor ChannelData: the reader lost its place (or the peer is not TURN). */
export class StreamFramingError extends Error {
  override name = "StreamFramingError";
}

/** What the parser hands on: the buffer a message sits in and where (no copy is made of complete messages). */
export interface StreamFrameHandlers {
  /** A ChannelData message: its payload is `buffer[payloadOffset, payloadOffset + payloadBytes)`. */
  onChannelData(buffer: Buffer, payloadOffset: number, payloadBytes: number, channel: number): void;
  /** A STUN message (header included), e.g. a late response; optional. */
  onStun?(message: Buffer): void;
}

/**
 * Splits a TURN stream into its messages, whatever the chunks it arrives in. Complete messages are handed on in place;
 * only an incomplete message at the end of a chunk is kept (at most one message, under 64 KiB) and joined with the
 * next chunk.
 */
export class StreamFrameParser {
  private rest: Buffer = Buffer.alloc(0);

  constructor(private readonly handlers: StreamFrameHandlers) {}

  /** Bytes of an incomplete message waiting for the next chunk. */
  get pendingBytes(): number {
    return this.rest.length;
  }

  /** Parses one chunk; throws StreamFramingError when the bytes are neither STUN nor ChannelData. */
  push(chunk: Buffer): void {
    const data = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
    let offset = 0;
    // Every turn consumes one whole message (at least 4 bytes) or stops: bounded by the chunk's length.
    while (data.length - offset >= CHANNEL_DATA_HEADER_BYTES) {
      const kind = data[offset] >> 6;
      const length = data.readUInt16BE(offset + 2);
      if (kind === 1) {
        const total = CHANNEL_DATA_HEADER_BYTES + paddedLength(length);
        if (data.length - offset < total) break;
        this.handlers.onChannelData(data, offset + CHANNEL_DATA_HEADER_BYTES, length, data.readUInt16BE(offset));
        offset += total;
      } else if (kind === 0) {
        if (length % 4 !== 0) throw new StreamFramingError(`a STUN message of ${length} attribute bytes (not a multiple of 4) at stream offset ${offset}`);
        const total = STUN_HEADER_BYTES + length;
        if (data.length - offset < total) break;
        this.handlers.onStun?.(data.subarray(offset, offset + total));
        offset += total;
      } else {
        throw new StreamFramingError(`byte 0x${data[offset].toString(16)} at a message boundary is neither STUN (00) nor ChannelData (01)`);
      }
    }
    // Copied, so that the chunk's memory is not held (and a socket reusing it cannot change what is kept).
    this.rest = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
  }
}
