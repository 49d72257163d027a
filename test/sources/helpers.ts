/**
 * Shared by the source tests: a loopback fixture server with per-path handlers that records
 * every request (headers, arrival time, concurrency), a fake SourceContext, a result collector,
 * and a virtual clock for schedule tests (sleep advances virtual time at once).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Observable, Subscription } from 'rxjs';
import { resolveConfig } from '../../src/config/load.js';
import { TickerpulseError } from '../../src/lib/errors.js';
import type { PollResult, SourceState } from '../../src/lib/types.js';
import type { HostBudget } from '../../sources/hostBudget.js';
import type { SourceClock, SourceContext } from '../../sources/types.js';
import { parseFeedDocumentWithMeta } from '../../workers/feedParser.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface SeenRequest {
  headers: IncomingMessage['headers'];
  at: number;
  url: string;
}

export interface FixtureServer {
  base: string;
  port: number;
  route(path: string, h: Handler): string;
  seen(path: string): SeenRequest[];
  /** Most requests in flight at once, over all paths. */
  readonly maxActive: number;
  close(): Promise<void>;
}

export async function startFixtureServer(): Promise<FixtureServer> {
  const routes = new Map<string, Handler>();
  const seen = new Map<string, SeenRequest[]>();
  let active = 0;
  let maxActive = 0;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const h = routes.get(path);
    if (!h) {
      res.writeHead(404).end();
      return;
    }
    active++;
    maxActive = Math.max(maxActive, active);
    let counted = true;
    const done = () => {
      if (counted) active--;
      counted = false;
    };
    res.once('finish', done);
    res.once('close', done);
    const list = seen.get(path)!;
    list.push({ headers: req.headers, at: Date.now(), url: req.url ?? '' });
    h(req, res, list.length);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    port,
    route(path, h) {
      routes.set(path, h);
      seen.set(path, []);
      return base + path;
    },
    seen: (path) => seen.get(path) ?? [],
    get maxActive() {
      return maxActive;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function rssDoc(n: number, prefix = 'Item', channelExtra = ''): string {
  let items = '';
  for (let i = 0; i < n; i++) {
    items += `<item><title>${prefix} ${i}</title><link>https://news.example.com/${prefix}/${i}</link><pubDate>Mon, 06 Jan 2025 10:${String(i % 60).padStart(2, '0')}:00 GMT</pubDate></item>\n`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>t</title><link>https://news.example.com/</link>${channelExtra}\n${items}</channel></rss>\n`;
}

/** Serve `body` with validators; answers 304 to a matching If-None-Match / If-Modified-Since. */
export function staticFeed(body: Buffer, headers: Record<string, string> = { 'content-type': 'application/rss+xml' }, etag = '"v1"', lastModified = 'Mon, 06 Jan 2025 10:00:00 GMT'): Handler {
  return (req, res) => {
    if (req.headers['if-none-match'] === etag || (!req.headers['if-none-match'] && req.headers['if-modified-since'] === lastModified)) {
      res.writeHead(304, { etag, 'last-modified': lastModified }).end();
      return;
    }
    res.writeHead(200, { ...headers, etag, 'last-modified': lastModified, 'content-length': String(body.length) }).end(body);
  };
}

export const silent = pino({ level: 'silent' });

export interface FakeClock extends SourceClock {
  /** Every positive sleep requested, in order. */
  sleeps: number[];
  t: number;
}

/** Virtual time: `sleep(ms)` returns at once and moves the clock forward by `ms`. */
export function fakeClock(start = Date.parse('2025-01-06T10:00:00.000Z')): FakeClock {
  const c: FakeClock = {
    t: start,
    sleeps: [],
    now: () => c.t,
    sleep: async (ms, signal) => {
      if (signal.aborted) return false;
      if (ms > 0) {
        c.sleeps.push(ms);
        c.t += ms;
      }
      await new Promise((r) => setImmediate(r));
      return !signal.aborted;
    },
  };
  return c;
}

export interface CtxOptions {
  state?: Partial<SourceState> | null;
  clock?: SourceClock;
  random?: () => number;
  hostBudget?: HostBudget;
}

export function makeCtx(o: CtxOptions = {}): { ctx: SourceContext; ac: AbortController } {
  const ac = new AbortController();
  const full: SourceState | null = o.state
    ? { lastPollAt: null, nextPollAt: null, etag: null, lastModified: null, consecutiveErrors: 0, lastError: null, cursor: null, ...o.state }
    : null;
  const ctx: SourceContext = {
    log: silent,
    signal: ac.signal,
    state: full,
    parseFeed: (body, meta) => parseFeedDocumentWithMeta(body, meta),
    waitForRoom: async () => {},
    clock: o.clock,
    random: o.random,
    hostBudget: o.hostBudget,
  };
  return { ctx, ac };
}

export interface Run {
  results: PollResult[];
  completed: Promise<void>;
  waitFor(n: number, ms?: number): Promise<PollResult[]>;
  sub: Subscription;
  stop(): Promise<void>;
}

export function collect(source: Observable<PollResult>, ac: AbortController): Run {
  const results: PollResult[] = [];
  const waiters: (() => void)[] = [];
  let done = false;
  let resolveDone!: () => void;
  const completed = new Promise<void>((r) => (resolveDone = r));
  const sub = source.subscribe({
    next: (r) => {
      results.push(r);
      waiters.splice(0).forEach((w) => w());
    },
    error: (e) => assert.fail(`the observable must never error: ${String(e)}`),
    complete: () => {
      done = true;
      resolveDone();
      waiters.splice(0).forEach((w) => w());
    },
  });
  const waitFor = (n: number, ms = 10_000) =>
    new Promise<PollResult[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${n} results (have ${results.length})`)), ms);
      const check = () => {
        if (results.length >= n) {
          clearTimeout(timer);
          resolve(results.slice(0, n));
        } else if (done) {
          clearTimeout(timer);
          reject(new Error(`completed with ${results.length} results, wanted ${n}`));
        } else waiters.push(check);
      };
      check();
    });
  const stop = async () => {
    ac.abort();
    await completed;
  };
  return { results, completed, waitFor, sub, stop };
}

/** Delay the result scheduled: nextPollAt − lastPollAt. */
export function scheduledDelay(r: PollResult): number {
  return Date.parse(r.state.nextPollAt!) - Date.parse(r.state.lastPollAt!);
}

/** The paths of every CONFIG_INVALID issue a raw config produces (fails the test if it is valid). */
export function configIssuePaths(raw: unknown): string[] {
  try {
    resolveConfig(raw);
  } catch (err) {
    assert.ok(err instanceof TickerpulseError && err.code === 'CONFIG_INVALID');
    return (err.details as { issues: { path: string }[] }).issues.map((i) => i.path);
  }
  return assert.fail('expected CONFIG_INVALID');
}
