/**
 * The token rules shared by the ticker linker (tickerLinker.ts), the flat table it links
 * against (tickerTable.ts) and the dictionary build (src/tickers/buildDictionary.ts): one
 * definition, so an alias is split the same way when it is stored and when a headline is read.
 */

/** `brk-b` / `BRK/B` / `BRK.B` → `BRK.B`. */
export function canonicalSymbol(s: string): string {
  return s.trim().toUpperCase().replace(/[-/]/g, '.');
}

const TOKEN_RE = /[\p{L}\p{N}]+(?:['’][\p{L}\p{N}]+)*|&/gu;

export interface Tok {
  raw: string;
  key: string;
  /** Key without a possessive `'s`. */
  alt: string | null;
  start: number;
  end: number;
}

export function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  TOKEN_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = TOKEN_RE.exec(text)) !== null) {
    const raw = m[0];
    const lower = raw.toLowerCase();
    let key = lower;
    let alt: string | null = null;
    if (lower.includes("'") || lower.includes('’')) {
      key = lower.replace(/['’]/g, '');
      if (/['’]s$/.test(lower)) alt = lower.slice(0, -2).replace(/['’]/g, '');
    }
    out.push({ raw, key, alt, start: m.index, end: m.index + raw.length });
  }
  return out;
}

/** The lower-case token key of an alias: `"Coca-Cola"` → `"coca cola"`. */
export function aliasKey(alias: string): string {
  return tokenize(alias)
    .map((t) => t.key)
    .join(' ');
}
