/**
 * Benchmark of the Hugging Face model path (not a test):
 *   1. tokenizer throughput (tokens/s, one thread) — WordPiece with a vocabulary built from the
 *      demo headlines (90 % of words whole, the rest through ## pieces or [UNK]) and byte-level
 *      BPE with 1,000 merges learned from the same headlines;
 *   2. items/s of a tiny BERT-shaped export (generated here: embeddings → masked mean → linear
 *      head, 128-token window) through the classify workers (one per core, batches of 64), and
 *      in process on one thread. The tiny model costs next to nothing, so this measures the
 *      plumbing (tokenize, pad, feed, workers); a real FinBERT is dominated by its 110 M
 *      parameters instead (see docs/MODELS.md).
 *
 *   node dist/test/bench/hf.js [--texts N] [--json]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataDir } from '../../src/lib/paths.js';
import { HfModel } from '../../src/model/hf/hfModel.js';
import { bertTokenizerJson, TINY_SPECIALS, writeTinyModel } from '../../src/model/hf/testModel.js';
import { bytesToUnicode, GPT2_PATTERN, HfTokenizer } from '../../src/model/hf/tokenizer.js';
import { ClassifierPool } from '../../src/pool/classifierPool.js';

const { values } = parseArgs({ options: { texts: { type: 'string', default: '50000' }, json: { type: 'boolean', default: false } } });
const textCount = Number(values.texts);

function corpus(): string[] {
  const lines = readFileSync(join(dataDir, 'demo', 'headlines.jsonl'), 'utf8').split('\n').filter(Boolean);
  return lines.map((l) => (JSON.parse(l) as { title: string }).title);
}

/** WordPiece vocabulary from the corpus: most words whole, every 10th only as pieces. */
function wordpieceVocab(texts: string[]): string[] {
  const words = new Set<string>();
  for (const t of texts) for (const w of t.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '').split(/[^\p{L}\p{N}]+/u)) if (w) words.add(w);
  const vocab = new Set<string>();
  let k = 0;
  for (const w of words) {
    if (k++ % 10 === 9 && w.length > 3) {
      vocab.add(w.slice(0, 3));
      vocab.add('##' + w.slice(3));
    } else vocab.add(w);
  }
  for (const p of '.,;:!?\'"()$%&-/') vocab.add(p);
  return [...TINY_SPECIALS, ...vocab];
}

/** Byte-level BPE tokenizer.json with `n` merges learned greedily from the corpus. */
function bpeTokenizer(texts: string[], n: number): HfTokenizer {
  const table = bytesToUnicode();
  const enc = new TextEncoder();
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of t.match(GPT2_PATTERN) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
  let words = [...counts].map(([w, c]) => ({ parts: Array.from(enc.encode(w), (b) => table[b]), c }));
  const merges: [string, string][] = [];
  for (let m = 0; m < n; m++) {
    const pairs = new Map<string, number>();
    for (const { parts, c } of words) for (let i = 0; i < parts.length - 1; i++) pairs.set(parts[i] + '\u0000' + parts[i + 1], (pairs.get(parts[i] + '\u0000' + parts[i + 1]) ?? 0) + c);
    let best = '';
    let bestC = 0;
    for (const [p, c] of pairs) if (c > bestC) [best, bestC] = [p, c];
    if (bestC < 2) break;
    const [a, b] = best.split('\u0000') as [string, string];
    merges.push([a, b]);
    words = words.map(({ parts, c }) => {
      const out: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(parts[i]);
      }
      return { parts: out, c };
    });
  }
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (const ch of table) vocab[ch] = Object.keys(vocab).length;
  for (const [a, b] of merges) if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  return new HfTokenizer({
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0] },
    model: { type: 'BPE', vocab, merges },
  });
}

function tokensPerSec(tok: HfTokenizer, texts: string[], n: number, uncached: boolean): number {
  // BPE caches words; suffixing a counter defeats the cache for the "uncached" figure.
  for (let i = 0; i < Math.min(n, 2000); i++) tok.encode(texts[i % texts.length]);
  let tokens = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) tokens += tok.encode(uncached ? `${texts[i % texts.length]} ${i}x${i % 997}` : texts[i % texts.length]).ids.length;
  return tokens / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function main(): Promise<void> {
  const texts = corpus();
  const vocab = wordpieceVocab(texts);
  const wp = new HfTokenizer(bertTokenizerJson(vocab));
  const bpe = bpeTokenizer(texts, 1000);
  const tok = {
    wordpieceTokensPerSec: Math.round(tokensPerSec(wp, texts, textCount, false)),
    bpeTokensPerSec: Math.round(tokensPerSec(bpe, texts, textCount, false)),
    bpeUncachedTokensPerSec: Math.round(tokensPerSec(bpe, texts, Math.min(textCount, 20000), true)),
    avgTokensPerHeadline: Number((texts.reduce((s, t) => s + wp.encode(t).ids.length, 0) / texts.length).toFixed(1)),
  };

  const dir = mkdtempSync(join(tmpdir(), 'tp-hfbench-'));
  const modelDir = join(dir, 'tiny-bert');
  writeTinyModel(modelDir, { dim: 64, maxPositions: 128, extraWords: vocab.slice(TINY_SPECIALS.length) });
  const batch = 64;
  const batches: string[][] = [];
  for (let i = 0; i < textCount; i += batch) batches.push(Array.from({ length: Math.min(batch, textCount - i) }, (_, k) => texts[(i + k) % texts.length]));

  const inProc = await HfModel.load(modelDir);
  await inProc.classify(batches[0]);
  let t0 = process.hrtime.bigint();
  for (const b of batches.slice(0, Math.ceil(batches.length / 4))) await inProc.classify(b);
  const oneThread = (Math.ceil(batches.length / 4) * batch) / (Number(process.hrtime.bigint() - t0) / 1e9);
  await inProc.release();

  const pool = new ClassifierPool({ modelPath: modelDir, modelKind: 'hf', maxQueue: 256 });
  await Promise.all(Array.from({ length: pool.threads * 2 }, () => pool.classify(batches[0])));
  const rounds: number[] = [];
  for (let round = 0; round < 3; round++) {
    t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: pool.threads * 4 }, async () => {
        while (next < batches.length) await pool.classify(batches[next++]);
      }),
    );
    rounds.push(Math.round(textCount / (Number(process.hrtime.bigint() - t0) / 1e9)));
  }
  await pool.close();
  rmSync(dir, { recursive: true, force: true });

  const result = {
    texts: textCount,
    cores: availableParallelism(),
    tokenizer: tok,
    tinyModel: { workers: pool.threads, itemsPerSec: Math.max(...rounds), rounds, inProcessOneThreadItemsPerSec: Math.round(oneThread), window: 128, dim: 64 },
  };
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    const f = (x: number) => Math.round(x).toLocaleString('en-US');
    console.log(`hf tokenizer (one thread, demo headlines, ${tok.avgTokensPerHeadline} tokens/headline):`);
    console.log(`  WordPiece            ${f(tok.wordpieceTokensPerSec)} tokens/s`);
    console.log(`  byte-level BPE       ${f(tok.bpeTokensPerSec)} tokens/s (word cache warm), ${f(tok.bpeUncachedTokensPerSec)} tokens/s (2 unseen words per headline)`);
    console.log(`tiny BERT-shaped export (dim 64, window 128), batches of ${batch}:`);
    console.log(`  ${pool.threads} worker(s)          ${f(result.tinyModel.itemsPerSec)} items/s (rounds: ${rounds.map(f).join(', ')})`);
    console.log(`  in process, 1 thread ${f(oneThread)} items/s`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
