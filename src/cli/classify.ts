import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { TickerpulseError } from '../lib/errors.js';
import type { Prediction } from '../lib/types.js';
import { ClassifierPool } from '../pool/classifierPool.js';

export const CLASSIFY_USAGE = `usage: tickerpulse classify [--format json|table] [--model DIR] [--threads N] [--batch N] [FILE...]

--model DIR: the built-in model's folder (sentiment.onnx + tokenizer.json, default data/model) or a
Hugging Face export (model.onnx + tokenizer.json + config.json; see docs/MODELS.md), detected from its files.

Reads plain-text lines, or JSON Lines objects with a "text" field, from the FILEs (or stdin;
"-" is stdin) and writes one result per input line, in input order:
  {"text": ..., "label": "negative"|"neutral"|"positive", "pNeg": ..., "pNeu": ..., "pPos": ..., "score": ...}
Extra fields of JSON input pass through. A JSON line that is invalid or has no string "text"
yields {"line": N, "error": {"code": "INPUT_INVALID", "message": ...}} in its place (exit code 1).
An input that cannot be read, or is not text (NUL bytes, or mostly invalid UTF-8: a binary file),
is refused with INPUT_INVALID naming it (exit code 2).`;

/** Bytes of each input inspected before any of its lines is classified. */
const SNIFF_BYTES = 64 * 1024;
/** Above this share of undecodable characters in the sniffed bytes the input is binary, not text in a legacy encoding. */
const MAX_INVALID_UTF8_SHARE = 0.25;

/** Why `sample` (the head of an input) is not text, or null. */
export function binaryReason(sample: Uint8Array): string | null {
  if (sample.indexOf(0) !== -1) return 'it contains NUL bytes';
  // stream: a character cut at the end of the sample is not counted as invalid.
  const text = new TextDecoder('utf-8').decode(sample, { stream: true });
  if (text.length < 16) return null;
  let bad = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0xfffd) bad++;
  const share = bad / text.length;
  return share > MAX_INVALID_UTF8_SHARE ? `${Math.round(share * 100)}% of its first ${sample.length} bytes are not valid UTF-8` : null;
}

function notText(name: string, reason: string): TickerpulseError {
  return new TickerpulseError('INPUT_INVALID', `${name} is not text (${reason}): refusing to classify it; classify reads text lines or JSON Lines`);
}

/** Refuse binary files before anything is classified or written (stdin is checked as it is read). */
async function checkFiles(files: string[]): Promise<void> {
  for (const f of files) {
    if (f === '-') continue;
    let fh;
    try {
      fh = await open(f, 'r');
    } catch (err) {
      throw new TickerpulseError('INPUT_INVALID', `cannot read ${f}: ${(err as Error).message}`);
    }
    try {
      const buf = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
      const why = binaryReason(buf.subarray(0, bytesRead));
      if (why) throw notText(f, why);
    } catch (err) {
      if (err instanceof TickerpulseError) throw err;
      throw new TickerpulseError('INPUT_INVALID', `cannot read ${f}: ${(err as Error).message}`);
    } finally {
      await fh.close();
    }
  }
}

/**
 * The input's chunks, its head held back until it was found to be text, and every later chunk
 * checked for NUL bytes (text with a binary tail).
 */
async function* textChunks(stream: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  let head: Buffer[] | null = [];
  let headLen = 0;
  for await (const chunk of stream) {
    if (head === null) {
      if (chunk.indexOf(0) !== -1) throw notText(name, 'it contains NUL bytes');
      yield chunk;
      continue;
    }
    head.push(chunk);
    headLen += chunk.length;
    if (headLen >= SNIFF_BYTES) {
      const all = Buffer.concat(head, headLen);
      const why = binaryReason(all);
      if (why) throw notText(name, why);
      head = null;
      yield all;
    }
  }
  if (head !== null && headLen > 0) {
    const all = Buffer.concat(head, headLen);
    const why = binaryReason(all);
    if (why) throw notText(name, why);
    yield all;
  }
}

/** One input line, as it will be echoed back. */
interface InputRow {
  text: string;
  fields: Record<string, unknown> | null;
  error?: string;
  line: number;
}

function parseLine(raw: string, line: number): InputRow {
  const trimmed = raw.trimStart();
  if (trimmed.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(trimmed);
    } catch (err) {
      return { text: '', fields: null, line, error: `line ${line} looks like JSON but does not parse: ${(err as Error).message}` };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { text: '', fields: null, line, error: `line ${line}: expected a JSON object` };
    const text = (obj as Record<string, unknown>).text;
    if (typeof text !== 'string') return { text: '', fields: null, line, error: `line ${line}: JSON object has no string "text" field` };
    return { text, fields: obj as Record<string, unknown>, line };
  }
  return { text: raw, fields: null, line };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

function jsonLine(row: InputRow, p: Prediction | undefined): string {
  if (row.error || !p) {
    return JSON.stringify({ line: row.line, error: { code: 'INPUT_INVALID', message: row.error ?? 'not classified' } }) + '\n';
  }
  const pred = { label: p.label, pNeg: round(p.pNeg), pNeu: round(p.pNeu), pPos: round(p.pPos), score: round(p.score) };
  return JSON.stringify(row.fields ? { ...row.fields, ...pred } : { text: row.text, ...pred }) + '\n';
}

function tableLine(row: InputRow, p: Prediction | undefined, width: number): string {
  const text = row.text.replace(/\s+/g, ' ');
  const cut = text.length > width ? text.slice(0, width - 1) + '…' : text;
  if (row.error || !p) return `${'ERROR'.padEnd(8)} ${''.padStart(6)}  ${row.error}\n`;
  const score = (p.score >= 0 ? '+' : '') + p.score.toFixed(3);
  return `${p.label.padEnd(8)} ${score.padStart(6)}  ${cut}\n`;
}

async function* inputLines(files: string[]): AsyncGenerator<string> {
  const inputs = files.length ? files : ['-'];
  for (const f of inputs) {
    const stream = f === '-' ? process.stdin : createReadStream(f);
    const opened = new Promise<void>((resolve, reject) => {
      if (f === '-') return resolve();
      stream.once('open', () => resolve());
      stream.once('error', reject);
    });
    try {
      await opened;
    } catch (err) {
      throw new TickerpulseError('INPUT_INVALID', `cannot read ${f}: ${(err as Error).message}`);
    }
    const rl = createInterface({ input: Readable.from(textChunks(stream as AsyncIterable<Buffer>, f === '-' ? 'standard input' : f)), crlfDelay: Infinity });
    let first = true;
    for await (const line of rl) {
      yield first && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line;
      first = false;
    }
  }
}

export async function runClassify(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string', default: 'json' },
        model: { type: 'string' },
        threads: { type: 'string' },
        batch: { type: 'string', default: '64' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`tickerpulse classify: ${(err as Error).message}\n${CLASSIFY_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    out.write(CLASSIFY_USAGE + '\n');
    return 0;
  }
  const format = values.format;
  const batchSize = Number(values.batch);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if ((format !== 'json' && format !== 'table') || !(batchSize >= 1 && batchSize <= 4096) || (threads !== undefined && !(threads >= 1 && threads <= 64))) {
    process.stderr.write(`tickerpulse classify: --format is json or table, --batch 1-4096, --threads 1-64\n${CLASSIFY_USAGE}\n`);
    return 2;
  }
  const width = Math.max(40, ((out as NodeJS.WriteStream).columns ?? 120) - 18);
  const pool = new ClassifierPool({ modelPath: values.model, threads });
  // Batches in flight, oldest first: results are written strictly in input order, and at most
  // this many batches are held in memory however long the input is.
  const maxInFlight = pool.threads * 2;
  const inFlight: Array<{ rows: InputRow[]; result: Promise<Prediction[]> }> = [];
  let invalid = 0;

  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  const flushOldest = async () => {
    const head = inFlight.shift()!;
    const preds = await head.result;
    let chunk = '';
    let k = 0;
    for (const row of head.rows) {
      const p = row.error ? undefined : preds[k++];
      if (row.error) invalid++;
      chunk += format === 'json' ? jsonLine(row, p) : tableLine(row, p, width);
    }
    await write(chunk);
  };
  const submit = (rows: InputRow[]) => {
    const texts = rows.filter((r) => !r.error).map((r) => r.text);
    const result = texts.length ? pool.classify(texts).then((r) => r.predictions) : Promise.resolve([]);
    result.catch(() => undefined); // awaited in order by flushOldest
    inFlight.push({ rows, result });
  };

  try {
    await checkFiles(positionals);
    if (format === 'table') await write(`${'LABEL'.padEnd(8)} ${'SCORE'.padStart(6)}  TEXT\n`);
    let batch: InputRow[] = [];
    let n = 0;
    for await (const line of inputLines(positionals)) {
      batch.push(parseLine(line, ++n));
      if (batch.length >= batchSize) {
        submit(batch);
        batch = [];
        while (inFlight.length >= maxInFlight) await flushOldest();
      }
    }
    if (batch.length) submit(batch);
    while (inFlight.length) await flushOldest();
  } catch (err) {
    // Let the batches already on the threads finish: piscina's destroy() with tasks running makes
    // their late replies an 'Unexpected message from Worker' error that crashes the process.
    await Promise.allSettled(inFlight.map((f) => f.result));
    const code = err instanceof TickerpulseError ? err.code : 'INTERNAL';
    process.stderr.write(`tickerpulse classify: ${code}: ${(err as Error).message}\n`);
    await pool.close();
    // An input the command cannot use at all (unreadable, binary) is a usage error, like a bad flag.
    return code === 'INPUT_INVALID' ? 2 : 1;
  }
  await pool.close();
  if (invalid) process.stderr.write(`tickerpulse classify: ${invalid} input line(s) were invalid (see the "error" objects in the output)\n`);
  return invalid ? 1 : 0;
}
