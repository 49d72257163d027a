/**
 * A WebSocket client of a serve node for the benchmarks: `/ws?since=0`, counting `item` messages
 * without keeping them (100k items), checking they arrive in seq order without a repeat, and
 * noting when a given count was reached. A closed socket (slow-client close, a serve node
 * restarting) reconnects with `?since=<last seq>`, as a dashboard does, so the count stays exact.
 */
import WebSocket from 'ws';

export interface WsCounter {
  readonly count: number;
  readonly lastSeq: number;
  /** Items whose seq was not above the previous one (must stay 0). */
  readonly outOfOrder: number;
  reconnects: number;
  /** Resolves with Date.now() of the message that brought the count to `n` (or later). */
  reached(n: number, timeoutMs: number): Promise<number>;
  close(): void;
}

export async function countWsItems(port: number): Promise<WsCounter> {
  let count = 0;
  let lastSeq = 0;
  let outOfOrder = 0;
  let closed = false;
  let ws: WebSocket;
  const waiters: { n: number; resolve: (t: number) => void }[] = [];
  const c: WsCounter = {
    get count() {
      return count;
    },
    get lastSeq() {
      return lastSeq;
    },
    get outOfOrder() {
      return outOfOrder;
    },
    reconnects: 0,
    reached(n, timeoutMs) {
      if (count >= n) return Promise.resolve(Date.now());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`WebSocket client saw ${count} of ${n} items within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({
          n,
          resolve: (t) => {
            clearTimeout(timer);
            resolve(t);
          },
        });
      });
    },
    close() {
      closed = true;
      ws.close();
    },
  };
  const connect = (): Promise<void> =>
    new Promise((resolve, reject) => {
      ws = new WebSocket(`ws://127.0.0.1:${port}/ws?since=${lastSeq}`);
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { type: string; item?: { seq: number } };
        if (m.type !== 'item' || !m.item) return;
        if (m.item.seq <= lastSeq) outOfOrder++;
        else lastSeq = m.item.seq;
        count++;
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (count >= waiters[i].n) {
            waiters[i].resolve(Date.now());
            waiters.splice(i, 1);
          }
        }
      });
      ws.once('open', () => resolve());
      ws.once('error', (err) => reject(err));
      ws.once('close', () => {
        if (closed) return;
        c.reconnects++;
        setTimeout(() => void connect().catch(() => undefined), 200);
      });
    });
  await connect();
  return c;
}
