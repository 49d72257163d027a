/**
 * JSON API polling source: polls an HTTP(S) URL returning JSON on the same schedule, with the
 * same etiquette and limits as RSS (sources/poller.ts over sources/httpFetch.ts: conditional
 * GET, Cache-Control/Retry-After floors, jittered backoff, per-host budget, SSRF guard, body
 * limit, timeouts, User-Agent), and maps each element of an array in the document to an item
 * with dot paths (workers/jsonMap.ts). Parsing and mapping run on the source's worker thread
 * (ctx.parseJson).
 *
 * Errors: JSON_PARSE_FAILED (malformed JSON), JSON_MAPPING_FAILED (the items path does not
 * lead to an array; the message names the path), FEED_EMPTY, and every fetch-layer code.
 * Elements without a title (or not objects) are skipped and counted: the poll's good items are
 * stored and the PollResult carries `error: { code: 'INPUT_INVALID' }` with the count.
 */
import type { Observable } from 'rxjs';
import type { PollResult } from '../src/lib/types.js';
import { makeMapping, mapJsonDocument, type JsonDocumentResult } from '../workers/jsonMap.js';
import { pollingSource } from './poller.js';
import type { JsonSourceConfig, PagedItems, SourceContext } from './types.js';

/** Accept header of json sources. */
export const JSON_ACCEPT = 'application/json, application/feed+json;q=0.9, application/*+json;q=0.9, text/json;q=0.8, */*;q=0.5';

/** Skipped-item warnings logged one per poll for the first polls, then at debug level. */
const SKIP_WARNINGS = 10;

export function jsonSource(cfg: JsonSourceConfig, ctx: SourceContext): Observable<PollResult> {
  const mapping = makeMapping(cfg.items, cfg.fields);
  const parse = ctx.parseJson
    ? ctx.parseJson.bind(ctx)
    : async (body: Uint8Array, meta: { url: string; fetchedAt: string }, m: typeof mapping): Promise<JsonDocumentResult & PagedItems> => mapJsonDocument(body, m, meta);
  let warnings = 0;
  return pollingSource(cfg, ctx, {
    kind: 'json',
    noun: 'json',
    accept: JSON_ACCEPT,
    parse: async (res, fetchedAt) => {
      const r = await parse(res.body, { url: res.url, fetchedAt }, mapping);
      const rest = r.rest;
      if (r.skipped === 0) return { items: r.items, rest };
      const message = `${r.skipped} item(s) skipped; first: ${r.firstSkipped}`;
      const level = warnings++ < SKIP_WARNINGS ? 'warn' : 'debug';
      ctx.log[level]({ sourceId: cfg.id, skipped: r.skipped, items: r.items.length, first: r.firstSkipped }, 'json items skipped (not objects or no title)');
      return { items: r.items, rest, partial: { code: 'INPUT_INVALID', message } };
    },
  });
}
