/**
 * An Outbound that reports what is queued to its client (tickerpulse_ws_messages_sent_total and
 * _sent_bytes_total). A broadcast pushes one buffer holding many frames, so the messages are
 * counted by walking the frame headers (textFrame's layout: unmasked, unfragmented).
 */
import { Outbound } from './outbound.js';

/** The WebSocket frames in `buf`, a concatenation of whole server frames. */
export function countFrames(buf: Buffer): number {
  let n = 0;
  let at = 0;
  while (at + 2 <= buf.length) {
    const len7 = buf[at + 1] & 0x7f;
    let head = 2;
    let len = len7;
    if (len7 === 126) {
      head = 4;
      len = buf.readUInt16BE(at + 2);
    } else if (len7 === 127) {
      head = 10;
      len = buf.readUInt32BE(at + 2) * 2 ** 32 + buf.readUInt32BE(at + 6);
    }
    at += head + len;
    n++;
  }
  return n;
}

export type SentListener = (messages: number, bytes: number) => void;

export class CountingOutbound extends Outbound {
  constructor(
    private readonly onSent: SentListener,
    ...args: ConstructorParameters<typeof Outbound>
  ) {
    super(...args);
  }

  override push(frames: Buffer, position: number): void {
    super.push(frames, position);
    this.onSent(countFrames(frames), frames.length);
  }
}
