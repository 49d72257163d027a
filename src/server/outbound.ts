/**
 * One WebSocket client's outbound queue: frames wait here, not in the socket, until the socket
 * has room. Why: a socket destroyed with N buffered writes errors them out one by one (Node's
 * `errorBuffer`, an Error object each); 200 cut-off clients with 4 MiB of small frames each
 * stalled the event loop for tens of seconds (test/bench/slowClients.ts). Here the socket holds
 * at most its own high-water mark plus one coalesced write, so a teardown has almost nothing to
 * error out, and dropping this queue is one assignment.
 *
 * Frames are complete RFC 6455 text frames (header + payload, `textFrame`), so several can be
 * concatenated into one socket write and one frame buffer can be shared by every client it goes
 * to. They are written on the ws library's socket, beside ws's own writes (pings, close frames):
 * both write synchronously (perMessageDeflate is off), so the byte stream stays well-formed.
 *
 * Bound and overflow policy: the owner (server.ts) checks `buffered()` (queued + inside the
 * socket) against maxBufferedBytes after each push and, when over, calls `drop()` and closes the
 * client with 4008 (resumable with `since`).
 */
import type { Duplex } from 'node:stream';

/** An unmasked, unfragmented server → client text frame holding `text` (UTF-8). */
export function textFrame(text: string): Buffer {
  const n = Buffer.byteLength(text);
  const head = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + n);
  out[0] = 0x81; // FIN + opcode 1 (text)
  if (n < 126) out[1] = n;
  else if (n < 65_536) {
    out[1] = 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 127;
    out.writeUInt32BE(Math.floor(n / 2 ** 32), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  out.write(text, head, 'utf8');
  return out;
}

export class Outbound {
  private chunks: Buffer[] = [];
  /** The client's stream position once chunks[i] is written (see `written`). */
  private positions: number[] = [];
  /** First unwritten chunk (the arrays are compacted when emptied, never shifted one by one). */
  private head = 0;
  private queuedBytes = 0;
  private flushScheduled = false;
  /**
   * Stream position of the last chunk handed to the socket: everything up to it is in the
   * socket, ahead of any close frame ws writes next.
   */
  written: number;

  constructor(
    private readonly socket: Duplex,
    /** Most bytes coalesced into one socket write (a larger single frame is written alone). */
    private readonly maxWriteBytes: number,
    /** Whether frames may be written now (false once the connection is closing). */
    private readonly canWrite: () => boolean,
    position: number,
  ) {
    this.written = position;
    socket.on('drain', () => this.flush());
  }

  /** Bytes not yet received by the kernel: queued here plus buffered inside the socket. */
  buffered(): number {
    return this.queuedBytes + this.socket.writableLength;
  }

  get empty(): boolean {
    return this.head === this.chunks.length;
  }

  /**
   * Queues one or more frames; `position` is the client's stream position once they are
   * written. The write happens in a microtask, so everything pushed in one synchronous step
   * (a broadcast, a replay page) goes out in as few writes as possible.
   */
  push(frames: Buffer, position: number): void {
    this.chunks.push(frames);
    this.positions.push(position);
    this.queuedBytes += frames.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Writes queued frames while the socket is under its high-water mark ('drain' resumes). */
  flush(): void {
    while (!this.empty && this.canWrite() && !this.socket.writableNeedDrain && !this.socket.destroyed) this.writeNext(this.maxWriteBytes);
  }

  /** Writes everything queued at once, in one write (before a close frame that must follow it). */
  flushAll(): void {
    if (!this.empty && this.canWrite() && !this.socket.destroyed) this.writeNext(Infinity);
  }

  /** Forgets every queued frame (the client is being cut off). */
  drop(): void {
    this.chunks = [];
    this.positions = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private writeNext(maxBytes: number): void {
    let end = this.head + 1;
    let bytes = this.chunks[this.head].length;
    while (end < this.chunks.length && bytes + this.chunks[end].length <= maxBytes) bytes += this.chunks[end++].length;
    const data = end - this.head === 1 ? this.chunks[this.head] : Buffer.concat(this.chunks.slice(this.head, end), bytes);
    this.written = this.positions[end - 1];
    this.queuedBytes -= bytes;
    if (end === this.chunks.length) this.drop();
    else {
      this.head = end;
      if (this.head > 1024 && this.head * 2 > this.chunks.length) {
        this.chunks = this.chunks.slice(this.head);
        this.positions = this.positions.slice(this.head);
        this.head = 0;
      }
    }
    this.socket.write(data);
  }
}
