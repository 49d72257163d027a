import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { TickerpulseError } from '../lib/errors.js';
import { configSchema, type Config } from './schema.js';
import { DEFAULT_SOURCES } from './defaults.js';

export interface ConfigIssue {
  path: string;
  message: string;
}

export interface ConfigOverrides {
  db?: string;
  host?: string;
  port?: number;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/**
 * zod's message for a missing field is "Invalid input: expected string, received undefined" (or,
 * for a missing `kind`, "Invalid discriminator value"): say in words that the field is missing.
 */
function readableMessage(issue: { code: string; path: readonly PropertyKey[]; message: string; expected?: unknown; options?: readonly unknown[] }, input: unknown): string {
  const missing = (issue.code === 'invalid_type' || (issue.code === 'invalid_union' && issue.options)) && valueAt(input, issue.path) === undefined;
  if (!missing) return issue.message;
  const name = issue.path.length ? String(issue.path[issue.path.length - 1]) : 'value';
  const type = issue.expected === 'object' ? 'section' : String(issue.expected);
  const what = issue.options ? `one of ${issue.options.map(String).join(', ')}` : `expected ${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`;
  return `required field "${name}" is missing (${what})`;
}

function invalid(issues: ConfigIssue[], origin: string): TickerpulseError {
  const lines = issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
  return new TickerpulseError('CONFIG_INVALID', `invalid config (${origin}), ${issues.length} problem(s):\n${lines}`, {
    details: { issues },
  });
}

/** Reads a YAML or JSON file (YAML is a superset of JSON, so one parser serves both). */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TickerpulseError('CONFIG_INVALID', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw invalid([{ path: '(file)', message: `not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}` }], file);
  }
}

/**
 * Validates a raw config object once and reports every problem together. Relative paths in a
 * config file are resolved against the file's folder (so a config works from any cwd);
 * command-line overrides against the current directory.
 */
export function resolveConfig(raw: unknown, opts: { file?: string; overrides?: ConfigOverrides } = {}): Config {
  const origin = opts.file ?? 'built-in defaults';
  const input = raw === undefined ? { sources: DEFAULT_SOURCES.map((s) => ({ ...s })) } : raw;
  const issues: ConfigIssue[] = [];
  const result = configSchema.safeParse(input);
  if (!result.success) {
    for (const i of result.error.issues) issues.push({ path: formatPath(i.path), message: readableMessage(i as Parameters<typeof readableMessage>[0], input) });
  }
  // Checked on the raw input so it is reported together with schema problems.
  const rawSources = (input as { sources?: unknown }).sources;
  if (Array.isArray(rawSources)) {
    const seen = new Map<string, number>();
    rawSources.forEach((s, i) => {
      const id = (s as { id?: unknown } | null)?.id;
      if (typeof id !== 'string') return;
      const first = seen.get(id);
      if (first !== undefined) issues.push({ path: `sources[${i}].id`, message: `duplicate source id "${id}" (also sources[${first}])` });
      else seen.set(id, i);
    });
  }
  if (issues.length > 0 || !result.success) throw invalid(issues, origin);

  const cfg = result.data;
  const base = opts.file ? dirname(resolve(opts.file)) : process.cwd();
  const abs = (p: string, from: string) => (isAbsolute(p) ? p : resolve(from, p));
  cfg.db = abs(cfg.db, base);
  if (cfg.store.kind === 'sqlite') cfg.store.path = cfg.db;
  if (cfg.model.dir) cfg.model.dir = abs(cfg.model.dir, base);
  if (cfg.model.path) cfg.model.path = abs(cfg.model.path, base);
  // "-" is standard input, not a file beside the config.
  for (const s of cfg.sources) if (s.kind === 'jsonl' && s.path !== '-') s.path = abs(s.path, base);

  const o = opts.overrides ?? {};
  // --db FILE on the command line wins over the config file's store, whatever its kind.
  if (o.db !== undefined) {
    cfg.db = abs(o.db, process.cwd());
    cfg.store = { kind: 'sqlite', path: cfg.db };
  }
  if (o.host !== undefined) cfg.server.host = o.host;
  if (o.port !== undefined) {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw invalid([{ path: '--port', message: 'must be an integer 0-65535' }], 'command line');
    cfg.server.port = o.port;
  }
  return cfg;
}

export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): Config {
  return file ? resolveConfig(readConfigFile(file), { file, overrides }) : resolveConfig(undefined, { overrides });
}
