import type { RawItem } from '../src/lib/types.js';

/**
 * Drops items whose guid is already stored for this source, and repeats of a guid within the
 * same poll (feeds do repeat items). The store's UNIQUE(source, guid) is the final guarantee;
 * this stage only saves classifying what would be ignored anyway.
 */
export function dropKnown(items: readonly RawItem[], known: ReadonlySet<string>): RawItem[] {
  const seen = new Set<string>();
  const out: RawItem[] = [];
  for (const item of items) {
    if (known.has(item.guid) || seen.has(item.guid)) continue;
    seen.add(item.guid);
    out.push(item);
  }
  return out;
}
