/**
 * The /ws connection: connects with ?since=<cursor>&<filter>, reconnects after any drop with
 * exponential, jittered backoff (0.5 s … 30 s; reset once a hello arrives), sends an
 * application-level ping every 20 s and treats 45 s of silence as a dead connection.
 */
import type { ServerMessage } from './types.js';
import { token } from './util.js';

export type ConnState = 'connecting' | 'live' | 'reconnecting';

export interface ConnectionHooks {
  /** Query string (without `?`) for the next connect: since + filter. */
  query(): string;
  onMessage(msg: ServerMessage): void;
  onState(state: ConnState, detail: string): void;
}

const PING_EVERY_MS = 20_000;
const DEAD_AFTER_MS = 45_000;
const MIN_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;

export class Connection {
  private ws: WebSocket | null = null;
  private attempt = 0;
  private timer: number | undefined;
  private pinger: number | undefined;
  private lastHeard = 0;
  private holdUntil = 0;
  state: ConnState = 'connecting';
  reconnects = 0;
  protocol = 0;

  constructor(private readonly hooks: ConnectionHooks) {}

  start(): void {
    this.open();
  }

  get isOpen(): boolean {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(msg: unknown): boolean {
    if (!this.isOpen) return false;
    this.ws!.send(JSON.stringify(msg));
    return true;
  }

  /** Test hook and "reconnect now" button: closes the socket; reconnects after holdMs (default: the usual backoff). */
  drop(holdMs = 0): void {
    this.holdUntil = Date.now() + holdMs;
    if (this.ws) this.ws.close(4000, 'dropped by the client');
    else this.schedule(holdMs);
  }

  private setState(s: ConnState, detail: string): void {
    this.state = s;
    this.hooks.onState(s, detail);
  }

  private open(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let q = this.hooks.query();
    if (token) q += `${q ? '&' : ''}token=${encodeURIComponent(token)}`;
    const url = `${proto}//${location.host}/ws${q ? `?${q}` : ''}`;
    this.setState(this.reconnects === 0 && this.attempt === 0 ? 'connecting' : 'reconnecting', this.attempt > 0 ? `attempt ${this.attempt + 1}` : '');
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.onClosed(null, 1006, String(err));
      return;
    }
    this.ws = ws;
    this.lastHeard = Date.now();
    ws.onmessage = (e) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let msg: ServerMessage;
      try {
        msg = JSON.parse(String(e.data)) as ServerMessage;
      } catch {
        return;
      }
      if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') return;
      if (msg.type === 'hello') {
        this.attempt = 0;
        this.protocol = typeof msg.protocol === 'number' ? msg.protocol : 1;
        this.setState('live', `protocol ${this.protocol}`);
      }
      this.hooks.onMessage(msg);
    };
    ws.onclose = (e) => this.onClosed(ws, e.code, e.reason);
    ws.onerror = () => {
      /* onclose follows */
    };
    clearInterval(this.pinger);
    this.pinger = window.setInterval(() => {
      if (this.ws !== ws) return;
      if (Date.now() - this.lastHeard > DEAD_AFTER_MS) {
        ws.close(4000, 'no answer');
        this.onClosed(ws, 1006, 'no answer from the server');
        return;
      }
      if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"ping"}');
    }, PING_EVERY_MS);
  }

  private onClosed(ws: WebSocket | null, code: number, reason: string): void {
    if (ws !== null && this.ws !== ws) return; // an old socket
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = null;
    }
    this.ws = null;
    clearInterval(this.pinger);
    let why = code === 1001 ? 'server restarting' : code === 4008 ? 'too slow, resuming' : code === 1008 ? `refused: ${reason || 'bad request'}` : reason || `closed (${code})`;
    // A refused upgrade (down, 401 token, 403 origin, 429) only shows as 1006 in a browser.
    if (code === 1006 && this.attempt >= 2) why = 'cannot connect (daemon down? token or allowed origin?)';
    // 4008: the server asks for an immediate resume; everything else backs off.
    const base = code === 4008 ? 250 : Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** this.attempt);
    const delay = Math.max(base / 2 + Math.random() * (base / 2), this.holdUntil - Date.now());
    this.attempt++;
    this.reconnects++;
    this.setState('reconnecting', `${why}; retry in ${Math.ceil(delay / 1000)} s`);
    this.schedule(delay);
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.open(), delay);
  }
}
