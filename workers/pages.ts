/**
 * Paging of a big parse result on a source's worker thread. A 100,000-item feed sent back in
 * one message would be deserialized in one go on the main thread (measured: hundreds of ms with
 * the event loop blocked, every client waiting); instead the first `pageSize` items go back
 * with the parse reply and the rest stay here until the source asks for them page by page, as
 * its pipeline has room (sources/poller.ts).
 *
 * Bound: one held result per worker thread (= per source); a new parse replaces it, so an
 * abandoned poll (shutdown, abort) holds at most one document's items until the next parse.
 */
import type { RawItem } from '../src/lib/types.js';

let held: { token: number; items: RawItem[]; next: number } | null = null;
let lastToken = 0;

/** The first page of `items`; `more` is the token for the rest (null: nothing left). */
export function firstPage(items: RawItem[], pageSize: number | undefined): { items: RawItem[]; more: number | null; total: number } {
  held = null;
  const size = pageSize !== undefined && Number.isInteger(pageSize) && pageSize > 0 ? pageSize : 0;
  if (size === 0 || items.length <= size) return { items, more: null, total: items.length };
  const token = ++lastToken;
  held = { token, items, next: size };
  return { items: items.slice(0, size), more: token, total: items.length };
}

/** The next page of the held result `token`; null when the token is not (or no longer) held. */
export function nextPage(token: number, pageSize: number): { items: RawItem[]; more: boolean } | null {
  if (!held || held.token !== token) return null;
  const from = held.next;
  const to = Math.min(held.items.length, from + Math.max(1, Math.trunc(pageSize)));
  const items = held.items.slice(from, to);
  held.next = to;
  const more = to < held.items.length;
  if (!more) held = null;
  return { items, more };
}
