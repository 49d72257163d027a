/**
 * Retention on the PostgreSQL store: the same rules as SQLite's (src/store/retention.ts — items by
 * whole UTC days of publication, a story with its last item, rollups kept, alert_items with their
 * alert), deleted in small transactions so commits queue behind a batch for milliseconds only.
 *
 * Each step takes the seq_counter row lock first, as commits do: a prune never interleaves with
 * a commit (so the story clusterer of the writer never matches into a story deleted under it).
 * Freed space is PostgreSQL's business (autovacuum): there are no pages to hand back here.
 * The ticker index follows the items by its foreign key (ON DELETE CASCADE).
 */
import type pg from 'pg';
import { NO_COUNTS, type PruneCounts, type PruneCutoffs } from '../retention.js';
import { inTransaction, pgStoreError } from './pool.js';

export async function pgPruneStep(pool: pg.Pool, c: PruneCutoffs, batch: number): Promise<PruneCounts> {
  const limit = Math.max(1, Math.trunc(batch));
  try {
    return await inTransaction(
      pool,
      async (tx) => {
        const n = { ...NO_COUNTS };
        if (c.items) {
          const del = await tx.query<{ story_id: number | null }>(
            'DELETE FROM items WHERE seq IN (SELECT seq FROM items WHERE published_at < $1 ORDER BY published_at LIMIT $2) RETURNING story_id',
            [c.items, limit],
          );
          n.items = del.rowCount ?? del.rows.length;
          const stories = [...new Set(del.rows.map((r) => r.story_id).filter((id): id is number => id !== null))];
          if (stories.length) {
            const s = await tx.query('DELETE FROM stories WHERE id = ANY($1::bigint[]) AND last_published_at < $2', [stories, c.items]);
            n.stories = s.rowCount ?? 0;
          }
        }
        if (c.alerts) n.alerts = (await tx.query('DELETE FROM alerts WHERE id IN (SELECT id FROM alerts WHERE at < $1 ORDER BY at LIMIT $2)', [c.alerts, limit])).rowCount ?? 0;
        if (c.deadLetters) {
          n.deadLetters = (await tx.query('DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters WHERE created_at < $1 ORDER BY id LIMIT $2)', [c.deadLetters, limit])).rowCount ?? 0;
        }
        return n;
      },
      'SELECT last_seq FROM seq_counter WHERE one FOR UPDATE',
    );
  } catch (err) {
    throw pgStoreError('retention: prune step failed', err);
  }
}
