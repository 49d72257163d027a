/** A strict reader of the Prometheus text exposition format (0.0.4), for the /metrics tests. */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  /** Metric family → its TYPE. */
  types: Map<string, string>;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
// Prometheus reads values with Go's ParseFloat: NaN and Inf in any case (prom-client writes `Nan`).
const VALUE = '(?:[-+]?(?:\\d+\\.?\\d*(?:[eE][-+]?\\d+)?|\\.\\d+(?:[eE][-+]?\\d+)?)|[nN][aA][nN]|[-+]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)';
const LABEL_PAIR = `${LABEL}="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL_PAIR})(?:,${LABEL_PAIR})*,?)?\\})? (${VALUE})(?: -?\\d+)?$`);
const HELP_RE = new RegExp(`^# HELP (${NAME})(?: .*)?$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const PAIR_RE = new RegExp(`(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, 'g');

/** Throws naming the first line that is not valid exposition format (or a sample of an undeclared family). */
export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') return; // the format ignores empty lines (prom-client separates families with one)
    if (line.startsWith('#')) {
      const t = TYPE_RE.exec(line);
      if (t) {
        if (types.has(t[1])) throw new Error(`second TYPE for ${t[1]} at ${where}`);
        types.set(t[1], t[2]);
        return;
      }
      if (HELP_RE.test(line)) return;
      throw new Error(`not a HELP or TYPE comment at ${where}`);
    }
    const m = SAMPLE_RE.exec(line);
    if (!m) throw new Error(`not a valid sample at ${where}`);
    const name = m[1];
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count|total|created)$/, '');
    const type = types.get(family);
    if (!type) throw new Error(`sample of an undeclared family at ${where}`);
    if (family !== name && !(type === 'histogram' || type === 'summary')) throw new Error(`suffixed sample of a ${type} at ${where}`);
    const labels: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(PAIR_RE)) labels[p[1]] = p[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    const v = m[3];
    samples.push({ name, labels, value: /^nan$/i.test(v) ? NaN : /inf/i.test(v) ? (v.startsWith('-') ? -Infinity : Infinity) : Number(v) });
  });
  return { types, samples };
}

/** The sum of the samples named `name` whose labels include `labels` (undefined when none). */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.length ? hits.reduce((a, s) => a + s.value, 0) : undefined;
}
