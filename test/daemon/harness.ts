/** Helpers for tests that run the real daemon as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { after } from 'node:test';
import { packageRoot } from '../../src/lib/paths.js';

/**
 * Every daemon child a test file started. A test that fails before its own stopDaemon would
 * leave the child running, and its piped stdout would keep the test file's process (and so
 * `npm test`) alive until something killed it: they are all killed when the file's tests end.
 */
const children = new Set<ChildProcess>();
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export const CLI = join(packageRoot, 'dist', 'src', 'cli', 'main.js');

export interface FeedItem {
  guid: string;
  title: string;
  pubDate: Date;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function rssDocument(items: FeedItem[]): string {
  const body = items
    .map((i) => `<item><title>${esc(i.title)}</title><link>https://news.example.com/${i.guid}</link><guid isPermaLink="false">${i.guid}</guid><pubDate>${i.pubDate.toUTCString()}</pubDate></item>`)
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel><title>Test feed</title><link>https://news.example.com/</link><description>t</description>\n${body}\n</channel></rss>`;
}

const COMPANIES = ['Acme Robotics', 'Globex', 'Initech', 'Umbrella Pharma', 'Stark Motors', 'Wayne Energy', 'Hooli', 'Soylent Foods'];
const EVENTS = ['beats profit forecast and raises guidance', 'misses revenue estimates, shares slide', 'announces quarterly dividend', 'cuts 1,200 jobs amid restructuring', 'wins $2 billion defense contract', 'faces regulator probe over accounting', 'names new chief financial officer', 'reports record quarterly sales'];

/** Distinct, finance-like headlines written for these tests. */
export function makeItems(n: number, prefix = 'it', start = 0): FeedItem[] {
  const base = Date.parse('2026-11-01T12:00:00Z');
  return Array.from({ length: n }, (_, k) => {
    const i = start + k;
    return { guid: `${prefix}-${i}`, title: `${COMPANIES[i % COMPANIES.length]} ${EVENTS[(i * 3 + 1) % EVENTS.length]} (${prefix} ${i})`, pubDate: new Date(base + i * 60_000) };
  });
}

export interface FeedServer {
  url: string;
  items: FeedItem[];
  requests: number;
  close(): Promise<void>;
}

/** A loopback RSS server whose items the test can change between polls. */
export async function startFeedServer(items: FeedItem[], path = '/feed.xml'): Promise<FeedServer> {
  const state = { items, requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    if (req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/rss+xml; charset=utf-8' });
    res.end(rssDocument(state.items));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    get items() {
      return state.items;
    },
    set items(v: FeedItem[]) {
      state.items = v;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface DaemonProcess {
  child: ChildProcess;
  port: number;
  logs: Record<string, unknown>[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface DaemonSpawnOptions {
  /** 'pipe' for a source reading standard input. */
  stdin?: 'ignore' | 'pipe';
  /** Working directory (relative defaults such as data/tickerpulse.db resolve against it). */
  cwd?: string;
}

/**
 * Starts `tickerpulse start` and resolves once it logs the port it listens on. The child is
 * killed when the test file's tests end (see `children`), and at once if it never listens.
 */
export async function startDaemonProcess(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000, opts: DaemonSpawnOptions = {}): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [CLI, 'start', '--port', '0', ...args], {
    env: { ...process.env, ...env, TICKERPULSE_LOG_LEVEL: 'info' },
    stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
    cwd: opts.cwd,
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  createInterface({ input: child.stderr! }).on('line', (l) => stderr.push(l));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`daemon did not report its port within ${timeoutMs} ms; stderr: ${stderr.join('\n')}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(rec);
      if (typeof rec.port === 'number' && typeof rec.url === 'string') {
        clearTimeout(timer);
        resolve(rec.port);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before listening; stderr: ${stderr.join('\n')}`));
    });
  });
  return { child, port, logs, stderr, exited };
}

/** How long a signalled daemon may take to exit before it is killed (far above a normal shutdown). */
const STOP_GRACE_MS = 60_000;

/**
 * Sends `signal` and waits for the exit. A daemon that has not exited after STOP_GRACE_MS is
 * killed, so a stuck shutdown fails the test (exit by SIGKILL) instead of hanging the suite.
 */
export async function stopDaemon(d: DaemonProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (d.child.exitCode !== null || d.child.signalCode !== null) return d.exited;
  d.child.kill(signal);
  const timer = setTimeout(() => d.child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    return await d.exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface WsClient {
  ws: WebSocket;
  messages: Array<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
}

export async function connectWs(port: number, query = ''): Promise<WsClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`);
  const messages: Array<Record<string, any>> = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await once(ws, 'open');
  return { ws, messages, closed };
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function getJson(port: number, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return res.json();
}

export function itemsOf(c: WsClient): Array<Record<string, any>> {
  return c.messages.filter((m) => m.type === 'item').map((m) => m.item);
}
