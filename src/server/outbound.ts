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
 *
 * Writes are spread over event-loop turns by one FlushScheduler per server: a socket write copies
 * into the kernel whatever its buffers take, and a peer that never reads still takes megabytes
 * (a loopback peer: its send and receive buffers, ~8 MB). 200 such clients written to in one
 * microtask held the loop for hundreds of ms per broadcast (test/bench/probes.ts: /healthz p99
 * 706-972 ms); in slices of `sliceMs` the HTTP and WebSocket I/O is served between them.
 */
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';

/** Longest run of socket writes in one event-loop turn (ms) before yielding to other I/O. */
export const FLUSH_SLICE_MS = 5;

/**
 * Runs the queued writes of every client, one write per client per visit, round robin, in slices
 * of at most `sliceMs` per event-loop turn (setImmediate between slices, so timers and network
 * I/O run in between). Queue bound: one entry per client at most (`Outbound.due`).
 */
export class FlushScheduler {
  private due: Outbound[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly sliceMs: number = FLUSH_SLICE_MS) {}

  /** Queues `o` for a write in the next slice (no-op when it is already queued). */
  add(o: Outbound): void {
    if (o.due) return;
    o.due = true;
    this.due.push(o);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const end = performance.now() + this.sliceMs;
    // Entries added during this slice (a client with more to write) wait for the next visit of
    // the round; `stop` keeps a slice from chasing its own tail.
    const stop = this.due.length;
    while (this.head < stop) {
      const o = this.due[this.head++];
      o.due = false;
      if (o.writeOnce()) this.add(o);
      if (performance.now() >= end) break;
    }
    if (this.head === this.due.length) {
      this.due = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.due.length) {
      this.due = this.due.slice(this.head);
      this.head = 0;
    }
    if (this.head < this.due.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  };
}

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
  /** In the scheduler's queue (FlushScheduler.add). */
  due = false;
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
    private readonly scheduler: FlushScheduler,
  ) {
    this.written = position;
    socket.on('drain', () => this.scheduler.add(this));
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
   * written. The write happens in the scheduler's next slice, so everything pushed in one
   * synchronous step (a broadcast, a replay page) goes out in as few writes as possible.
   */
  push(frames: Buffer, position: number): void {
    this.chunks.push(frames);
    this.positions.push(position);
    this.queuedBytes += frames.length;
    this.scheduler.add(this);
  }

  /**
   * One coalesced write, if the socket is under its high-water mark ('drain' queues the client
   * again). True when more could be written now.
   */
  writeOnce(): boolean {
    if (this.empty || !this.canWrite() || this.socket.writableNeedDrain || this.socket.destroyed) return false;
    this.writeNext(this.maxWriteBytes);
    return !this.empty && !this.socket.writableNeedDrain;
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
