/**
 * Cursor pagination of items (`/api/items?before=SEQ` / `?after=SEQ`): a page in seq order
 * that is full may have more after it; the next page starts past its last seq. Sent as an RFC
 * 8288 `Link: <…>; rel="next"` header, so the body stays the bare array existing clients read.
 */
import type { StoredItem } from '../lib/types.js';
import type { ItemsParams } from './params.js';

/** The next page's cursor, or null when there is none (not seq-ordered, or a short page = the end). */
export function nextItemsCursor(p: ItemsParams, rows: readonly StoredItem[]): { name: 'before' | 'after'; seq: number } | null {
  if (p.sort !== 'seq' || p.limit === 0 || rows.length === 0 || rows.length < p.limit) return null;
  const last = rows[rows.length - 1].seq;
  return p.order === 'desc' ? { name: 'before', seq: last } : { name: 'after', seq: last };
}

/**
 * The `Link` header value for the page after `rows` (null: no next page): the request's own
 * parameters (the caller removes `token`), with the cursor moved and sort=seq spelled out.
 */
export function nextItemsLink(path: string, search: URLSearchParams, p: ItemsParams, rows: readonly StoredItem[]): string | null {
  const next = nextItemsCursor(p, rows);
  if (!next) return null;
  const q = new URLSearchParams(search);
  q.set(next.name, String(next.seq));
  q.set('sort', 'seq');
  q.set('order', p.order);
  return `<${path}?${q.toString()}>; rel="next"`;
}
