/**
 * Writes to the PostgreSQL store: the equivalent of ItemStore.commitPoll (src/store/itemStore.ts)
 * for cluster mode. One call = one transaction: the batch's dead letters, its new items (deduped
 * on (source, guid) against the store and within the batch), their tickers, stories, rollups,
 * alerts, the source's poll state and the seq counter.
 *
 * Exactly once, gap-free: the transaction's first statement locks the one row of `seq_counter`
 * (SELECT … FOR UPDATE), so commits from any number of connections or processes run one after
 * another. Under that lock the store's known guids are read, the new items get seqs last+1…
 * last+n, and the counter moves to last+n in the same transaction: a rolled-back commit hands
 * out nothing, a commit repeated (a redelivered batch) finds every guid known and stores nothing.
 * Each statement sends the whole batch as arrays (unnest), so a commit is a fixed number of
 * round trips, not one per item.
 */
import type pg from 'pg';
import { TickerpulseError } from '../../lib/errors.js';
import type { ClassifiedItem, SourceState, StoredAlert, StoredItem } from '../../lib/types.js';
import { canonicalTime } from '../filters.js';
import { STATE_COLUMNS, STATE_KEYS, safeJson, symbolsJson, tickersJson, validTicker, type CommitOptions, type DeadLetterInput, type NewAlert, type PollError, type StoryAssignment } from '../itemStore.js';
import { RollupBatch, bucketStarts } from '../rollups.js';
import { inTransaction, pgStoreError } from './pool.js';

const NO_ALERTS: StoredAlert[] = [];

/** Guids per knownGuids statement (one array parameter each). */
const KNOWN_GUIDS_CHUNK = 5_000;

interface StoryDelta {
  id: number;
  items: number;
  sourceCount: number;
  lastPublishedAt: string;
  symbols: string;
}

export interface PgCommitResult {
  inserted: StoredItem[];
  alerts: StoredAlert[];
}

const SOURCE_UPSERT = (() => {
  const cols = STATE_KEYS.map((k) => STATE_COLUMNS[k]);
  // $1 id, $2 itemsAdded, $3 errorsAdded, $4 now, then per state field: has flag, value.
  const values = STATE_KEYS.map((_, i) => `$${6 + 2 * i}`);
  const sets = STATE_KEYS.map((k, i) => `${STATE_COLUMNS[k]} = CASE WHEN $${5 + 2 * i}::boolean THEN excluded.${STATE_COLUMNS[k]} ELSE sources.${STATE_COLUMNS[k]} END`);
  const ce = STATE_KEYS.indexOf('consecutiveErrors');
  values[ce] = `coalesce(${values[ce]}::integer, 0)`;
  return `
    INSERT INTO sources (id, ${cols.join(', ')}, items_total, errors_total, updated_at)
    VALUES ($1, ${values.join(', ')}, $2, $3, $4)
    ON CONFLICT (id) DO UPDATE SET
      ${sets.join(',\n      ')},
      items_total  = sources.items_total + excluded.items_total,
      errors_total = sources.errors_total + excluded.errors_total,
      updated_at   = excluded.updated_at`;
})();

const INSERT_ITEMS = `
  INSERT INTO items (seq, source, guid, url, title, summary, published_at, fetched_at, label,
                     p_neg, p_neu, p_pos, score, model, date_missing, story_id, novel, tickers)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                       $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::text[], $15::smallint[], $16::bigint[], $17::smallint[], $18::text[])
  ON CONFLICT (source, guid) DO NOTHING`;

const INSERT_TICKERS = `
  INSERT INTO item_tickers (ticker, seq, via, label, score, published_at)
  SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::float8[], $6::text[])
  ON CONFLICT (ticker, seq) DO NOTHING`;

// Stories started by this batch, with the batch's own copies of them already counted in (one
// statement cannot update a row it inserts).
const INSERT_STORIES = `
  INSERT INTO stories (id, first_published_at, last_published_at, title, source_count, item_count, tickers)
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::text[])`;

// The clusterer's source count is exact within a run; GREATEST keeps the stored count when a
// restart's bounded warm-up saw fewer of the story's sources (as in SQLite).
const UPDATE_STORIES = `
  UPDATE stories AS s SET
    source_count      = GREATEST(s.source_count, d.source_count),
    item_count        = s.item_count + d.items,
    last_published_at = GREATEST(s.last_published_at, d.last_published_at),
    tickers           = CASE WHEN s.tickers = '[]' THEN d.symbols ELSE s.tickers END
  FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::text[], $5::text[]) AS d(id, source_count, items, last_published_at, symbols)
  WHERE s.id = d.id`;

const UPSERT_ROLLUPS = `
  INSERT INTO rollups (kind, key, bucket, start, items, stories, scored, sum_score, pos, neu, neg)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::integer[], $8::float8[], $9::integer[], $10::integer[], $11::integer[])
  ON CONFLICT (kind, bucket, start, key) DO UPDATE SET
    items     = rollups.items + excluded.items,
    stories   = rollups.stories + excluded.stories,
    scored    = rollups.scored + excluded.scored,
    sum_score = rollups.sum_score + excluded.sum_score,
    pos       = rollups.pos + excluded.pos,
    neu       = rollups.neu + excluded.neu,
    neg       = rollups.neg + excluded.neg`;

const INSERT_DEAD = `
  INSERT INTO dead_letters (source, guid, payload, code, message, attempts, created_at)
  SELECT $1, guid, payload, code, message, attempts, $2 FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::integer[]) AS d(guid, payload, code, message, attempts)`;

/**
 * One statement made of data-modifying CTEs (items, tickers, stories, rollups, the source's
 * state, dead letters, the counter): a commit is then BEGIN + lock, the known-guid read, this and
 * COMMIT — four round trips whatever the batch holds. Each part's $n are renumbered into one list.
 */
class Combined {
  private readonly parts: string[] = [];
  readonly values: unknown[] = [];
  add(name: string, sql: string, values: unknown[]): void {
    const offset = this.values.length;
    this.parts.push(`${name} AS (${sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)} RETURNING 1)`);
    this.values.push(...values);
  }
  /** The statement; its one row's `items` is the number of item rows inserted (0 without the items part). */
  sql(hasItems: boolean): string {
    return `WITH ${this.parts.join(',\n')}\nSELECT ${hasItems ? '(SELECT count(*) FROM ins_items)' : '0'} AS items`;
  }
}

/**
 * PostgreSQL's text cannot hold U+0000, which SQLite stores and feeds can carry; it becomes
 * U+FFFD (the replacement character), in lookups the same way, so dedupe still matches.
 */
const NUL = /\u0000/g;
export function pgText<T extends string | null | undefined>(s: T): T {
  return (typeof s === 'string' && s.includes('\u0000') ? s.replace(NUL, '\uFFFD') : s) as T;
}
function pgSafeItem(item: ClassifiedItem): ClassifiedItem {
  const { guid, url, title, summary, model } = item;
  if (![guid, url, title, summary, model].some((v) => typeof v === 'string' && v.includes('\u0000'))) return item;
  return { ...item, guid: pgText(guid), url: pgText(url), title: pgText(title), summary: pgText(summary), model: pgText(model) };
}

export class PgItemWriter {
  constructor(private readonly pool: pg.Pool) {}

  /** The subset of `guids` already stored for this source. */
  async knownGuids(sourceId: string, guids: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    try {
      for (let i = 0; i < guids.length; i += KNOWN_GUIDS_CHUNK) {
        const chunk = guids.slice(i, i + KNOWN_GUIDS_CHUNK);
        const r = await this.pool.query<{ guid: string }>('SELECT guid FROM items WHERE source = $1 AND guid = ANY($2::text[])', [sourceId, chunk.map(pgText)]);
        const stored = new Set(r.rows.map((row) => row.guid));
        for (const g of chunk) if (stored.has(pgText(g))) found.add(g);
      }
    } catch (err) {
      throw pgStoreError(`cannot look up known items of source "${sourceId}"`, err);
    }
    return found;
  }

  /**
   * Stores one batch atomically (see the file comment). `state`/`error` are the poll's (pass
   * `{}` and undefined for a non-final chunk). Returns the new rows in seq order and the alerts
   * they raised (also handed to `opts.onAlerts` after the commit).
   * Throws INPUT_INVALID for an item of another source or a malformed ticker entry,
   * STORE_FAILED for any database failure (`retryable` for the transient ones).
   */
  async commitPoll(sourceId: string, items: ClassifiedItem[], state: Partial<SourceState>, error?: PollError, opts: CommitOptions = {}, deadLetters: DeadLetterInput[] = []): Promise<PgCommitResult> {
    let result: PgCommitResult;
    try {
      // Every committer queues on the counter's row lock, taken with BEGIN and held to COMMIT.
      result = await inTransaction(this.pool, (c, locked) => this.commitTx(c, locked, sourceId, items, state ?? {}, error, opts, deadLetters), 'SELECT last_seq FROM seq_counter WHERE one FOR UPDATE');
    } catch (err) {
      throw pgStoreError(`commit of ${items.length} item(s) for source "${sourceId}" failed`, err);
    }
    if (result.alerts.length > 0) opts.onAlerts?.(result.alerts);
    return result;
  }

  private async commitTx(c: pg.PoolClient, locked: pg.QueryResult | null, sourceId: string, given: ClassifiedItem[], state: Partial<SourceState>, error: PollError | undefined, opts: CommitOptions, deadLetters: DeadLetterInput[]): Promise<PgCommitResult> {
    const now = new Date().toISOString();
    const items = given.map(pgSafeItem);
    const lastSeq = (locked?.rows[0] as { last_seq?: number } | undefined)?.last_seq;
    if (lastSeq === undefined) throw new TickerpulseError('STORE_FAILED', 'the seq_counter row is missing (the schema was altered by hand)');
    const statement = new Combined();

    if (deadLetters.length > 0) {
      statement.add('ins_dead', INSERT_DEAD, [
        sourceId,
        now,
        deadLetters.map((e) => pgText(e.guid ?? null)),
        deadLetters.map((e) => safeJson(e.payload)),
        deadLetters.map((e) => pgText(String(e.code))),
        deadLetters.map((e) => pgText(String(e.message))),
        deadLetters.map((e) => Math.max(0, Math.trunc(Number(e.attempts) || 0))),
      ]);
    }

    for (const item of items) {
      if (item.source !== undefined && item.source !== sourceId) {
        throw new TickerpulseError('INPUT_INVALID', `item ${JSON.stringify(item.guid)} has source "${item.source}" but was committed for "${sourceId}"`);
      }
    }
    // A statement of its own, after the lock: its snapshot includes every commit before ours.
    const known = items.length > 0 ? (await c.query<{ guid: string }>('SELECT guid FROM items WHERE source = $1 AND guid = ANY($2::text[])', [sourceId, items.map((i) => i.guid)])).rows : [];
    const seen = new Set<string>(known.map((r) => r.guid));

    const inserted: StoredItem[] = [];
    const rollups = new RollupBatch();
    const stories = opts.stories;
    const storyDeltas = new Map<number, StoryDelta>();
    const novelStories: { id: number; publishedAt: string; title: string; symbols: string }[] = [];
    const tickerRows: { ticker: string[]; seq: number[]; via: string[]; label: string[]; score: number[]; publishedAt: string[] } = { ticker: [], seq: [], via: [], label: [], score: [], publishedAt: [] };
    const tickersCol: (string | null)[] = [];
    let seq = lastSeq;
    for (const item of items) {
      if (seen.has(item.guid)) continue; // stored before, or earlier in this batch
      seen.add(item.guid);
      const fetchedAt = canonicalTime(item.fetchedAt) ?? now;
      const canonicalPublished = canonicalTime(item.publishedAt);
      const publishedAt = canonicalPublished ?? fetchedAt;
      const dateMissing = canonicalPublished === null || item.dateMissing === true;
      const tickers = item.tickers ?? [];
      for (const t of tickers) {
        if (!validTicker(t)) throw new TickerpulseError('INPUT_INVALID', `item ${JSON.stringify(item.guid)} has a malformed ticker entry ${JSON.stringify(t)}`);
      }
      seq++;
      let story: StoryAssignment | null = null;
      if (stories) {
        // The seq is known before the insert (assigned here), so match + record happen together.
        const match = stories.match(item, publishedAt);
        story = stories.record(match, seq);
        if (story.novel) novelStories.push({ id: seq, publishedAt, title: item.title, symbols: symbolsJson(tickers) });
        else {
          const d = storyDeltas.get(story.storyId);
          if (d) {
            d.items++;
            d.sourceCount = Math.max(d.sourceCount, story.sourceCount);
            if (publishedAt > d.lastPublishedAt) d.lastPublishedAt = publishedAt;
            if (d.symbols === '[]') d.symbols = symbolsJson(tickers);
          } else storyDeltas.set(story.storyId, { id: story.storyId, items: 1, sourceCount: story.sourceCount, lastPublishedAt: publishedAt, symbols: symbolsJson(tickers) });
        }
      }
      const novel = story ? story.novel : true;
      const starts = bucketStarts(publishedAt);
      rollups.add('source', sourceId, starts, novel, story ? story.sourceNew : true, item.score, item.label);
      for (const t of tickers) {
        rollups.add('ticker', t.symbol, starts, novel, novel, t.score, t.label);
        tickerRows.ticker.push(t.symbol);
        tickerRows.seq.push(seq);
        tickerRows.via.push(t.via);
        tickerRows.label.push(t.label);
        tickerRows.score.push(t.score);
        tickerRows.publishedAt.push(publishedAt);
      }
      tickersCol.push(item.tickersJson !== undefined ? item.tickersJson : tickersJson(tickers));
      inserted.push({
        seq,
        source: sourceId,
        guid: item.guid,
        url: item.url ?? null,
        title: item.title,
        summary: item.summary ?? null,
        publishedAt,
        fetchedAt,
        dateMissing,
        label: item.label,
        pNeg: item.pNeg,
        pNeu: item.pNeu,
        pPos: item.pPos,
        score: item.score,
        model: item.model,
        tickers,
        storyId: story ? story.storyId : null,
        novel: story ? story.novel : false,
      });
    }

    if (inserted.length > 0) {
      const col = <K extends keyof StoredItem>(k: K) => inserted.map((i) => i[k]);
      statement.add('ins_items', INSERT_ITEMS, [
        col('seq'), col('source'), col('guid'), col('url'), col('title'), col('summary'), col('publishedAt'), col('fetchedAt'), col('label'),
        col('pNeg'), col('pNeu'), col('pPos'), col('score'), col('model'), inserted.map((i) => (i.dateMissing ? 1 : 0)), col('storyId'), inserted.map((i) => (i.novel ? 1 : 0)), tickersCol,
      ]);
      if (tickerRows.ticker.length > 0) statement.add('ins_tickers', INSERT_TICKERS, [tickerRows.ticker, tickerRows.seq, tickerRows.via, tickerRows.label, tickerRows.score, tickerRows.publishedAt]);
      // Copies of a story this batch started are counted into its new row; the others update stored rows.
      const started = new Map(novelStories.map((n) => [n.id, { ...n, sourceCount: 1, items: 1, lastPublishedAt: n.publishedAt }]));
      const updates: StoryDelta[] = [];
      for (const d of storyDeltas.values()) {
        const n = started.get(d.id);
        if (!n) {
          updates.push(d);
          continue;
        }
        n.items += d.items;
        n.sourceCount = Math.max(n.sourceCount, d.sourceCount);
        if (d.lastPublishedAt > n.lastPublishedAt) n.lastPublishedAt = d.lastPublishedAt;
        if (n.symbols === '[]') n.symbols = d.symbols;
      }
      if (started.size > 0) {
        const st = [...started.values()];
        statement.add('ins_stories', INSERT_STORIES, [st.map((x) => x.id), st.map((x) => x.publishedAt), st.map((x) => x.lastPublishedAt), st.map((x) => x.title), st.map((x) => x.sourceCount), st.map((x) => x.items), st.map((x) => x.symbols)]);
      }
      if (updates.length > 0) {
        statement.add('upd_stories', UPDATE_STORIES, [updates.map((x) => x.id), updates.map((x) => x.sourceCount), updates.map((x) => x.items), updates.map((x) => x.lastPublishedAt), updates.map((x) => x.symbols)]);
      }
      const rows = [...rollups.rows()];
      statement.add('ups_rollups', UPSERT_ROLLUPS, [
        rows.map((x) => x.kind), rows.map((x) => x.key), rows.map((x) => x.bucket), rows.map((x) => x.start), rows.map((x) => x.items), rows.map((x) => x.stories),
        rows.map((x) => x.scored), rows.map((x) => x.sumScore), rows.map((x) => x.pos), rows.map((x) => x.neu), rows.map((x) => x.neg),
      ]);
      statement.add('upd_counter', 'UPDATE seq_counter SET last_seq = $1 WHERE one', [seq]);
    }

    const params: unknown[] = [sourceId, inserted.length, error ? 1 : 0, now];
    for (const k of STATE_KEYS) {
      const provided = Object.prototype.hasOwnProperty.call(state, k) && state[k] !== undefined;
      const v = provided ? state[k] : null;
      params.push(provided, typeof v === 'string' ? pgText(v) : v);
    }
    statement.add('ups_source', SOURCE_UPSERT, params);
    const r = await c.query<{ items: number }>(statement.sql(inserted.length > 0), statement.values);
    // Under the counter lock every new guid was checked above; a conflict here means a writer
    // bypassed the lock, and storing fewer rows than seqs handed out would leave a gap.
    const stored = r.rows[0]?.items ?? 0;
    if (stored !== inserted.length) throw new TickerpulseError('STORE_FAILED', `seq assignment conflict: ${inserted.length - stored} item(s) were stored concurrently without the seq_counter lock`, { retryable: true });

    const alerts = opts.evaluateAlerts && inserted.length > 0 ? await insertAlerts(c, opts.evaluateAlerts(inserted), now, seq) : NO_ALERTS;
    return { inserted, alerts };
  }

  async markAlertDelivered(id: number, at: string = new Date().toISOString()): Promise<void> {
    try {
      await this.pool.query('UPDATE alerts SET delivered_at = $1, delivery_error = NULL WHERE id = $2', [at, id]);
    } catch (err) {
      throw pgStoreError(`cannot mark alert ${id} delivered`, err);
    }
  }

  async markAlertFailed(id: number, reason: string): Promise<void> {
    try {
      await this.pool.query('UPDATE alerts SET delivery_error = $1 WHERE id = $2', [reason.slice(0, 500), id]);
    } catch (err) {
      throw pgStoreError(`cannot record the delivery failure of alert ${id}`, err);
    }
  }
}

/** Inside the commit's transaction: stores alerts with their items; `seq` is the commit's newest item (alerts.seq). */
async function insertAlerts(c: pg.PoolClient, alerts: NewAlert[], now: string, seq: number): Promise<StoredAlert[]> {
  if (alerts.length === 0) return NO_ALERTS;
  const out: StoredAlert[] = [];
  for (const a of alerts) {
    const r = await c.query<{ id: number }>(
      `INSERT INTO alerts (rule, kind, ticker, at, direction, message, value, baseline, deviation, created_at, seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
      [a.rule, a.kind, a.ticker, a.at, a.direction, a.message, a.value, a.baseline, a.deviation, now, seq],
    );
    const id = r.rows[0].id;
    const seqs = [...new Set(a.seqs)].sort((x, y) => x - y);
    if (seqs.length) await c.query('INSERT INTO alert_items (alert_id, seq) SELECT $1, s FROM unnest($2::bigint[]) AS s ON CONFLICT DO NOTHING', [id, seqs]);
    out.push({ ...a, id, seqs, createdAt: now, deliveredAt: null, deliveryError: null, seq });
  }
  return out;
}
