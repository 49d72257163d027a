/**
 * Reads of the PostgreSQL store that are not user queries (those are src/query/pgQueries.ts):
 * the `/ws ?since` replay (itemsAfter, latestSeq), health, sources' poll state, and what a
 * writer warms its story clusterer and alert engine with at start (the same reads as
 * ItemStore's, returning the same shapes).
 */
import type pg from 'pg';
import type { StoredAlert, StoredItem } from '../../lib/types.js';
import { fromSourceRow, itemFromRow, type ItemRow, type SourceRow, type StoredSourceState, type StoryWarmItem, type StoryWarmRow, storyWarmFromRows } from '../itemStore.js';
import { pgStoreError } from './pool.js';
import { migratePg, PG_SCHEMA_VERSION, pgSchemaVersion } from './schema.js';
import type { ItemTicker } from '../../lib/types.js';
import { TickerpulseError } from '../../lib/errors.js';

export class PgReader {
  constructor(readonly pool: pg.Pool) {}

  /**
   * Checks the schema: `migrate` creates or upgrades it (writers, `tickerpulse migrate`); a
   * reader only verifies it is there and current (STORE_FAILED otherwise, saying what to run).
   */
  async ready(migrate: boolean): Promise<void> {
    try {
      if (migrate) {
        await migratePg(this.pool);
        return;
      }
      const v = await pgSchemaVersion(this.pool);
      if (v === 0) throw new TickerpulseError('STORE_FAILED', 'the PostgreSQL database has no tickerpulse schema yet (start a write node once, or run tickerpulse migrate)');
      if (v !== PG_SCHEMA_VERSION) {
        throw new TickerpulseError('STORE_FAILED', `the PostgreSQL database has tickerpulse schema version ${v}, this tickerpulse reads version ${PG_SCHEMA_VERSION}${v < PG_SCHEMA_VERSION ? ' (start a write node of this version once to migrate it)' : ' (upgrade tickerpulse)'}`);
      }
    } catch (err) {
      throw pgStoreError('cannot open the PostgreSQL store', err);
    }
  }

  private async rows<T extends pg.QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (err) {
      throw pgStoreError(what, err);
    }
  }

  /** Highest committed seq, 0 when empty (the counter, so also right while a commit is running). */
  async latestSeq(): Promise<number> {
    const r = await this.rows<{ last_seq: number }>('cannot read the latest seq', 'SELECT last_seq FROM seq_counter');
    return r[0]?.last_seq ?? 0;
  }

  /** Items with seq > `seq`, ascending, at most `limit`. */
  async itemsAfter(seq: number, limit: number): Promise<StoredItem[]> {
    return (await this.rows<ItemRow>('cannot read items', 'SELECT * FROM items WHERE seq > $1 ORDER BY seq LIMIT $2', [seq, limit])).map(itemFromRow);
  }

  async countItems(): Promise<number> {
    return (await this.rows<{ n: number }>('cannot count items', 'SELECT count(*) AS n FROM items'))[0].n;
  }

  async healthy(): Promise<boolean> {
    try {
      return (await this.pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one === 1;
    } catch {
      return false;
    }
  }

  async getSourceState(id: string): Promise<StoredSourceState | null> {
    const r = await this.rows<SourceRow>(`cannot read the state of source "${id}"`, 'SELECT * FROM sources WHERE id = $1', [id]);
    return r.length ? fromSourceRow(r[0]) : null;
  }

  async listSourceStates(): Promise<StoredSourceState[]> {
    return (await this.rows<SourceRow>('cannot read the sources', 'SELECT * FROM sources ORDER BY id')).map(fromSourceRow);
  }

  async latestPublishedAt(): Promise<string | null> {
    return (await this.rows<{ p: string | null }>('cannot read the newest item', 'SELECT max(published_at) AS p FROM items'))[0]?.p ?? null;
  }

  /** As ItemStore.storyWarmItems: the newest `limit` items since `since` with a story, oldest first. */
  async storyWarmItems(since: string, limit: number): Promise<StoryWarmItem[]> {
    const rows = await this.rows<StoryWarmRow>(
      'cannot read the items to warm the story clusterer',
      'SELECT seq, source, title, published_at, story_id, tickers FROM items WHERE published_at >= $1 AND story_id IS NOT NULL ORDER BY seq DESC LIMIT $2',
      [since, limit],
    );
    return storyWarmFromRows(rows);
  }

  /** As ItemStore.tickerItemsSince: items naming tickers published since `since`, oldest first. */
  async tickerItemsSince(since: string, limit: number): Promise<StoredItem[]> {
    const rows = await this.rows<ItemRow>(
      'cannot read the items to warm the alert engine',
      'SELECT * FROM items WHERE published_at >= $1 AND tickers IS NOT NULL ORDER BY published_at DESC, seq DESC LIMIT $2',
      [since, limit],
    );
    return rows.reverse().map(itemFromRow);
  }

  async alertsSince(since: string, limit: number): Promise<Pick<StoredAlert, 'rule' | 'ticker' | 'at'>[]> {
    return this.rows<Pick<StoredAlert, 'rule' | 'ticker' | 'at'>>('cannot read recent alerts', 'SELECT rule, ticker, at FROM alerts WHERE at >= $1 ORDER BY at LIMIT $2', [since, limit]);
  }
}
