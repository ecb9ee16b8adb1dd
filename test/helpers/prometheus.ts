/**
 * A strict parser for the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): it throws on anything the format
 * does not allow, instead of skipping it, so a test that parses /metrics proves the output is valid.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseValue(text: string, line: number): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!FLOAT.test(text)) throw new Error(`line ${line}: '${text}' is not a sample value`);
  return Number(text);
}

/** `{a="x",b="y\"z"}` starting at `i`; returns the labels and the index after `}`. */
function parseLabels(
  text: string,
  start: number,
  line: number,
): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  for (;;) {
    if (text[i] === '}') return { labels, end: i + 1 };
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(text.slice(i))?.[0];
    if (!name || !LABEL_NAME.test(name))
      throw new Error(`line ${line}: bad label name at column ${i}`);
    if (name in labels) throw new Error(`line ${line}: label ${name} repeated`);
    i += name.length;
    if (text.slice(i, i + 2) !== '="') throw new Error(`line ${line}: expected =" after ${name}`);
    i += 2;
    let value = '';
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch === '\n')
        throw new Error(`line ${line}: unterminated label value`);
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`line ${line}: invalid escape \\${next ?? ''} in a label value`);
        i += 2;
        continue;
      }
      value += ch;
      i++;
    }
    labels[name] = value;
    i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`line ${line}: expected , or } after a label`);
  }
}

function familyOf(sample: string, families: Map<string, ParsedFamily>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sample.slice(0, -suffix.length);
    const declared = families.get(base)?.type;
    if (
      sample.endsWith(suffix) &&
      (declared === 'histogram' || (declared === 'summary' && suffix !== '_bucket'))
    )
      return base;
  }
  return sample;
}

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const closed = new Set<string>();
  const series = new Set<string>();
  let current: string | undefined;
  const lines = text.slice(0, -1).split('\n');
  const enter = (name: string, n: number): ParsedFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`line ${n}: ${name} appears in two separate groups`);
      if (current) closed.add(current);
      current = name;
    }
    let family = families.get(name);
    if (!family) {
      family = { name, type: 'untyped', samples: [] };
      families.set(name, family);
    }
    return family;
  };
  for (const [index, line] of lines.entries()) {
    const n = index + 1;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const meta = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!meta) continue; // a plain comment
      const [, kind, name, rest = ''] = meta as unknown as [
        string,
        string,
        string,
        string | undefined,
      ];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${n}: bad metric name ${name}`);
      const family = enter(name, n);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new Error(`line ${n}: second HELP for ${name}`);
        if (/\\([^\\n]|$)/.test(rest.replace(/\\\\/g, '')))
          throw new Error(`line ${n}: invalid escape in HELP`);
        family.help = rest.replace(/\\(\\|n)/g, (_, c: string) => (c === 'n' ? '\n' : '\\'));
      } else {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest))
          throw new Error(`line ${n}: unknown type ${rest}`);
        if (family.type !== 'untyped' || family.samples.length > 0)
          throw new Error(`line ${n}: TYPE for ${name} must come once, before its samples`);
        family.type = rest as ParsedFamily['type'];
      }
      continue;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`line ${n}: expected a metric name`);
    let i = name.length;
    let labels: Record<string, string> = {};
    if (line[i] === '{') ({ labels, end: i } = parseLabels(line, i, n));
    const rest = line.slice(i);
    const parts = /^ +(\S+)(?: +(-?\d+))?$/.exec(rest);
    if (!parts) throw new Error(`line ${n}: expected ' value [timestamp]' after the series`);
    const value = parseValue(parts[1]!, n);
    const family = enter(familyOf(name, families), n);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${n}: series ${key} repeated`);
    series.add(key);
    if (family.type === 'counter' && !(value >= 0))
      throw new Error(`line ${n}: counter ${name} is negative or NaN`);
    family.samples.push({ name, labels, value });
  }
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

/** Buckets cumulative and ordered by le, ending at +Inf, which equals _count; _sum present. */
function checkHistogram(family: ParsedFamily): void {
  const groups = new Map<string, ParsedSample[]>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
    if (s.name.endsWith('_bucket') && le === undefined) throw new Error(`${s.name} without le`);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${family.name}_bucket`);
    const count = samples.find((s) => s.name === `${family.name}_count`);
    if (!count || !samples.some((s) => s.name === `${family.name}_sum`))
      throw new Error(`${family.name}: _sum and _count required`);
    let previous = { le: -Infinity, value: 0 };
    for (const b of buckets) {
      const le = parseValue(b.labels.le!, 0);
      if (le <= previous.le || b.value < previous.value)
        throw new Error(`${family.name}: buckets must be ordered and cumulative`);
      previous = { le, value: b.value };
    }
    if (previous.le !== Infinity || previous.value !== count.value)
      throw new Error(`${family.name}: the +Inf bucket must equal _count`);
  }
}

/** The value of one series (labels matched exactly), or undefined. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const family of families.values()) {
    const found = family.samples.find(
      (s) =>
        s.name === name &&
        JSON.stringify(Object.entries(s.labels).sort()) ===
          JSON.stringify(Object.entries(labels).sort()),
    );
    if (found) return found.value;
  }
  return undefined;
}
