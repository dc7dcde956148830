// Scraping GET /metrics and reading the Prometheus text format (0.0.4) back, strictly: a line that is
// not a comment, a HELP/TYPE line or a sample throws. (npm's parse-prometheus-text-format merges the
// samples of a labelled histogram into one and drops their labels, so it cannot check these.)

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  labels: Record<string, string>;
  /** Counters, gauges, untyped. */
  value?: number;
  /** Histograms: cumulative counts by upper bound (`le`), and their count and sum. */
  buckets?: Record<string, number>;
  count?: number;
  sum?: number;
}

export interface Family {
  name: string;
  help: string;
  type: MetricType;
  /** One per label set (a histogram's `le` is not one of its labels). */
  metrics: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const at = LABEL.lastIndex;
    const m = LABEL.exec(text);
    if (!m || LABEL.lastIndex === at) throw new Error(`bad labels in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** A float as Go's ParseFloat (Prometheus's) reads it: NaN and ±Inf in any case. */
function parseValue(text: string, line: string): number {
  if (/^nan$/i.test(text)) return NaN;
  const inf = /^([+-]?)inf$/i.exec(text);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  const v = Number(text);
  if (Number.isNaN(v) || !text.trim()) throw new Error(`bad value in: ${line}`);
  return v;
}

/** Parses an exposition; throws on anything that is not the text format. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, help: '', type: 'untyped', metrics: [] }));
    return f;
  };
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === 'HELP') f.help = meta[3]!;
      else if (['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) f.type = meta[3] as MetricType;
      else throw new Error(`bad TYPE: ${line}`);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample: ${line}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const labels = labelText ? parseLabels(labelText, line) : {};
    const v = parseValue(valueText, line);
    const base = /^(.*)_(bucket|sum|count)$/.exec(name);
    const parent = base && families.get(base[1]!);
    if (parent && (parent.type === 'histogram' || parent.type === 'summary')) {
      const { le, ...own } = labels;
      let sample = parent.metrics.find((s) => sameLabels(s.labels, own));
      if (!sample) parent.metrics.push((sample = { labels: own }));
      if (base![2] === 'bucket') {
        if (le === undefined) throw new Error(`bucket without le: ${line}`);
        (sample.buckets ??= {})[le] = v;
      } else sample[base![2] as 'sum' | 'count'] = v;
      continue;
    }
    family(name).metrics.push({ labels, value: v });
  }
  return families;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

export interface Scrape {
  status: number;
  contentType: string | null;
  text: string;
  families: Map<string, Family>;
}

export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await res.text();
  const families = res.status === 200 ? parsePrometheusText(text) : new Map<string, Family>();
  return { status: res.status, contentType: res.headers.get('content-type'), text, families };
}

/** The family's samples whose labels include `labels`. */
export function samples(s: Scrape, name: string, labels: Record<string, string> = {}): Sample[] {
  const family = s.families.get(name);
  if (!family) throw new Error(`no metric ${name} in the scrape`);
  return family.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));
}

/** A counter's or gauge's value summed over the samples whose labels include `labels` (0 when none). */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(s, name, labels).reduce((sum, m) => sum + (m.value ?? 0), 0);
}

/** A histogram's observation count summed over the samples whose labels include `labels`. */
export function observations(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  return samples(s, name, labels).reduce((sum, m) => sum + (m.count ?? 0), 0);
}

/** Every label value of every sample (histogram buckets' `le` aside), with its metric and label names. */
export function labelValues(s: Scrape): { metric: string; label: string; value: string }[] {
  return [...s.families.values()].flatMap((f) =>
    f.metrics.flatMap((m) => Object.entries(m.labels).map(([label, v]) => ({ metric: f.name, label, value: v }))),
  );
}
