/** DOM and formatting helpers. Text from the network only ever goes through textContent. */

type Attrs = Record<string, string | number | boolean | undefined | null>;

/** `el('a.chip', { href }, 'text', child)`: tag with optional `.class.names`. */
export function el<K extends keyof HTMLElementTagNameMap>(spec: K | `${K}.${string}`, attrs: Attrs = {}, ...children: Array<Node | string | null | undefined>): HTMLElementTagNameMap[K] {
  const [tag, ...classes] = spec.split('.') as [K, ...string[]];
  const e = document.createElement(tag);
  if (classes.length) e.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`dashboard: #${id} missing from index.html`);
  return e as T;
}

/** Sentiment bucket of a score in [-1, 1]: the CSS classes s-n2 … s-p2 colour it (red/grey/green). */
export function sentimentClass(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return 's-none';
  if (score <= -0.5) return 's-n2';
  if (score <= -0.15) return 's-n1';
  if (score < 0.15) return 's-0';
  if (score < 0.5) return 's-p1';
  return 's-p2';
}

export function fmtScore(score: number | null | undefined): string {
  if (score === null || score === undefined || !Number.isFinite(score)) return '–';
  const s = score.toFixed(2);
  return score > 0 ? `+${s}` : s === '-0.00' ? '0.00' : s;
}

const pad = (n: number) => String(n).padStart(2, '0');

/** Local time: `14:05` today, `Mon 14:05` this week, `2024-05-01 14:05` otherwise. */
export function fmtTime(iso: string | null | undefined, now = new Date()): string {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '–';
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return hm;
  if (Math.abs(now.getTime() - d.getTime()) < 6 * 86_400_000) return `${d.toLocaleDateString(undefined, { weekday: 'short' })} ${hm}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/** `12 s ago`, `in 40 s`, `3 min ago`. */
export function fmtRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '–';
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  const v = a < 60 ? `${a} s` : a < 3600 ? `${Math.round(a / 60)} min` : a < 86_400 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  return s > 0 ? `in ${v}` : `${v} ago`;
}

/** Only http(s) links leave the page (a feed could carry `javascript:` URLs). */
export function safeHref(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

/**
 * The daemon's bearer token when it requires one (server.token): open the dashboard once as
 * `/#token=<token>`; it is kept in sessionStorage (this tab only) and removed from the URL.
 */
export const token: string | null = (() => {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  try {
    if (m) {
      sessionStorage.setItem('tickerpulse-token', decodeURIComponent(m[1]));
      history.replaceState(null, '', location.pathname + location.search);
    }
    return sessionStorage.getItem('tickerpulse-token');
  } catch {
    return m ? decodeURIComponent(m[1]) : null;
  }
})();

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers, signal, cache: 'no-store' });
  if (res.status === 401) throw new Error('this daemon requires a token: open the dashboard as /#token=<token>');
  if (res.status === 403) throw new Error(`the daemon refuses this page's origin (${location.origin}): add it to server.allowedOrigins`);
  const body = (await res.json().catch(() => null)) as unknown;
  if (!res.ok && !(res.status === 503 && path.startsWith('/healthz'))) {
    const msg = (body as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${res.status}`;
    throw new Error(`${path.split('?')[0]}: ${msg}`);
  }
  return body as T;
}
