/**
 * A small metrics registry rendering the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): `# HELP` and `# TYPE` once per
 * family, then one line per sample, label values escaped (backslash, double quote, line feed).
 * Counters and histograms are updated where things happen; other families are read at scrape time.
 */

export type Labels = Readonly<Record<string, string>>;
export interface Sample {
  labels?: Labels;
  value: number;
}
type MetricType = 'counter' | 'gauge' | 'histogram';

interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples(): Sample[] | Promise<Sample[]>;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

/** Sample values are Go ParseFloat syntax: the infinities are spelled +Inf and -Inf. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function formatLabels(labels: Labels | undefined): string {
  const entries = Object.entries(labels ?? {});
  return entries.length === 0
    ? ''
    : `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}`;
}

/** A counter, optionally with one label whose distinct values are capped (the rest count under `overflow`). */
export class Counter {
  private readonly series = new Map<string, number>();

  constructor(
    private readonly label?: string,
    private readonly maxSeries = Infinity,
    private readonly overflow = '_overflow',
  ) {}

  inc(labelValue = '', by = 1): void {
    const key =
      this.series.has(labelValue) || this.series.size < this.maxSeries ? labelValue : this.overflow;
    this.series.set(key, (this.series.get(key) ?? 0) + by);
  }

  samples(): Sample[] {
    if (!this.label) return [{ value: this.series.get('') ?? 0 }];
    const label = this.label;
    return [...this.series].map(([v, value]) => ({ labels: { [label]: v }, value }));
  }
}

/** A histogram with fixed upper bounds, in seconds for every histogram here (Prometheus base units). */
export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }

  observe(value: number): void {
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }

  /** `_bucket` samples are cumulative, ending with le="+Inf" equal to `_count`. */
  samples(name: string): Array<Sample & { name: string }> {
    let running = 0;
    const out = this.buckets.map((b, i) => {
      running += this.counts[i]!;
      return { name: `${name}_bucket`, labels: { le: formatValue(b) }, value: running };
    });
    out.push({ name: `${name}_bucket`, labels: { le: '+Inf' }, value: this.count });
    return [
      ...out,
      { name: `${name}_sum`, value: this.sum },
      { name: `${name}_count`, value: this.count },
    ];
  }
}

export class Registry {
  private readonly families: Array<Family & { histogram?: Histogram }> = [];

  private add(family: Family & { histogram?: Histogram }): void {
    if (!NAME.test(family.name)) throw new Error(`metric name ${family.name}`);
    if (this.families.some((f) => f.name === family.name))
      throw new Error(`metric ${family.name} registered twice`);
    this.families.push(family);
  }

  counter(name: string, help: string, label?: string, maxSeries?: number): Counter {
    if (label && !LABEL.test(label)) throw new Error(`label name ${label}`);
    const counter = new Counter(label, maxSeries);
    this.add({ name, help, type: 'counter', samples: () => counter.samples() });
    return counter;
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const histogram = new Histogram(buckets);
    this.add({ name, help, type: 'histogram', samples: () => [], histogram });
    return histogram;
  }

  /** A family whose samples are read when scraped (gauges, and counters kept by another component). */
  collect(
    name: string,
    help: string,
    type: 'counter' | 'gauge',
    samples: () => Sample[] | Promise<Sample[]>,
  ): void {
    this.add({ name, help, type, samples });
  }

  async render(): Promise<string> {
    const lines: string[] = [];
    for (const f of this.families) {
      lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      const samples = f.histogram
        ? f.histogram.samples(f.name)
        : (await f.samples()).map((s) => ({ ...s, name: f.name }));
      for (const s of samples)
        lines.push(`${s.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
