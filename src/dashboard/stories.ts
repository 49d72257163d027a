/**
 * The live story list: items grouped by storyId (the same news from several outlets is one
 * row), newest story first (by the publication time of its latest item), at most maxRows rows in the DOM; stories that
 * fall off the end are forgotten, so memory stays bounded too.
 */
import type { Item } from './types.js';
import { el, fmtScore, fmtTime, safeHref, sentimentClass } from './util.js';

interface Story {
  key: number;
  /** Items seen in this story, ascending seq; items[0] is the one shown. */
  items: Item[];
  maxSeq: number;
  /** Latest publication time of its items (ms): the list's order, newest first. */
  latest: number;
  /** Bumped on change: the row is rebuilt when it differs from the rendered one. */
  version: number;
}

export class StoryList {
  private readonly stories = new Map<number, Story>();
  private readonly storyOfSeq = new Map<number, number>();
  private readonly rows = new Map<number, { el: HTMLElement; version: number }>();
  private renderTimer: number | undefined;
  private empty = 'Waiting for stories…';

  constructor(
    private readonly container: HTMLElement,
    private readonly onTicker: (symbol: string) => void,
    private readonly maxRows = 300,
  ) {}

  has(seq: number): boolean {
    return this.storyOfSeq.has(seq);
  }

  /** Adds items (any order; duplicates by seq are ignored). Returns how many were new. */
  add(items: Item[]): number {
    let added = 0;
    for (const it of items) {
      if (this.storyOfSeq.has(it.seq)) continue;
      const key = it.storyId ?? it.seq;
      let s = this.stories.get(key);
      if (!s) {
        s = { key, items: [], maxSeq: 0, latest: 0, version: 0 };
        this.stories.set(key, s);
      }
      s.items.push(it);
      if (s.items.length > 1 && s.items[s.items.length - 2].seq > it.seq) s.items.sort((a, b) => a.seq - b.seq);
      s.maxSeq = Math.max(s.maxSeq, it.seq);
      s.latest = Math.max(s.latest, Date.parse(it.publishedAt) || 0);
      s.version++;
      this.storyOfSeq.set(it.seq, key);
      added++;
    }
    if (added) this.scheduleRender();
    return added;
  }

  clear(emptyText: string): void {
    this.stories.clear();
    this.storyOfSeq.clear();
    this.empty = emptyText;
    this.scheduleRender();
  }

  setEmptyText(text: string): void {
    this.empty = text;
    if (this.stories.size === 0) this.scheduleRender();
  }

  /** Seqs of every item in the rendered rows (tests compare them with /api/items). */
  seqs(): number[] {
    return [...this.storyOfSeq.keys()].sort((a, b) => a - b);
  }

  private scheduleRender(): void {
    if (this.renderTimer !== undefined) return;
    this.renderTimer = window.setTimeout(() => {
      this.renderTimer = undefined;
      this.render();
    }, 30);
  }

  private render(): void {
    const ordered = [...this.stories.values()].sort((a, b) => b.latest - a.latest || b.maxSeq - a.maxSeq);
    for (const s of ordered.slice(this.maxRows)) {
      this.stories.delete(s.key);
      for (const it of s.items) this.storyOfSeq.delete(it.seq);
    }
    const shown = ordered.slice(0, this.maxRows);
    const keep = new Set(shown.map((s) => s.key));
    for (const [key, row] of this.rows) {
      if (!keep.has(key)) {
        row.el.remove();
        this.rows.delete(key);
      }
    }
    if (shown.length === 0) {
      this.container.replaceChildren(el('li.empty', {}, this.empty));
      return;
    }
    const placeholder = this.container.querySelector(':scope > li.empty');
    if (placeholder) placeholder.remove();
    let prev: Element | null = null;
    for (const s of shown) {
      let row = this.rows.get(s.key);
      if (!row || row.version !== s.version) {
        const fresh = this.renderRow(s);
        if (row) row.el.replaceWith(fresh);
        row = { el: fresh, version: s.version };
        this.rows.set(s.key, row);
      }
      // Keep DOM order = `shown` order, moving only what is out of place.
      const want: Element | null = prev ? prev.nextElementSibling : this.container.firstElementChild;
      if (want !== row.el) {
        if (prev) prev.after(row.el);
        else this.container.prepend(row.el);
      }
      prev = row.el;
    }
    this.container.dataset.rows = String(shown.length);
  }

  private renderRow(s: Story): HTMLElement {
    const first = s.items[0];
    const latest = s.items.reduce((a, b) => (Date.parse(b.publishedAt) > Date.parse(a.publishedAt) ? b : a));
    const sources = new Set(s.items.map((i) => i.source));
    const href = safeHref(first.url);
    const title = href ? el('a.headline', { href, target: '_blank', rel: 'noopener noreferrer' }, first.title) : el('span.headline', {}, first.title);
    const tickers = el('span.tickers');
    const seenSym = new Set<string>();
    for (const it of s.items) {
      for (const t of it.tickers) {
        if (seenSym.has(t.symbol)) continue;
        seenSym.add(t.symbol);
        const chip = el(`button.chip.${sentimentClass(t.score)}`, { type: 'button', 'data-ticker': t.symbol, title: `${t.symbol}: ${t.label} ${fmtScore(t.score)} — click to chart` }, t.symbol);
        chip.addEventListener('click', () => this.onTicker(t.symbol));
        tickers.append(chip);
      }
    }
    const n = s.items.length;
    const li = el(
      'li.story',
      {
        'data-story': s.key,
        'data-seqs': s.items.map((i) => i.seq).join(' '),
        'data-labels': [...new Set(s.items.map((i) => i.label))].join(' '),
        'data-label': first.label,
      },
      el('time', { datetime: latest.publishedAt, title: new Date(latest.publishedAt).toString() }, fmtTime(latest.publishedAt)),
      // The story's source count (distinct outlets), as in the stories table; copies from one outlet show in the title.
      el('span.count', { title: `${n} item${n === 1 ? '' : 's'} from ${[...sources].join(', ')}` }, `${sources.size} src`),
      el('span.main', {}, title, el('span.meta', {}, [...sources].join(', ')), tickers),
      el(`span.badge.l-${first.label}`, {}, first.label),
      el(`span.score.${sentimentClass(first.score)}`, { title: `pNeg ${first.pNeg.toFixed(2)} · pNeu ${first.pNeu.toFixed(2)} · pPos ${first.pPos.toFixed(2)}` }, fmtScore(first.score)),
    );
    return li;
  }
}
