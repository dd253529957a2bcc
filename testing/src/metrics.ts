/** One scrape of a Prometheus text exposition: its samples and the metric names it declares. */
export interface Scrape {
  readonly text: string;
  /** Every sample: name (with `_bucket`/`_sum`/`_count` for histograms), labels, value. */
  readonly samples: readonly { name: string; labels: Record<string, string>; value: number }[];
  /** The names declared by `# TYPE` lines (a labelled metric with no series yet is declared too). */
  readonly declared: ReadonlySet<string>;
  /** The sum of the samples named `name` whose labels include `labels`; 0 when none. */
  value(name: string, labels?: Record<string, string>): number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses a Prometheus text exposition (format 0.0.4). */
export function parseMetrics(text: string): Scrape {
  const samples: Scrape["samples"][number][] = [];
  const declared = new Set<string>();
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) declared.add(type[1]!);
    const m = line.startsWith("#") ? null : SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(LABEL)) labels[k!] = v!.replace(/\\(.)/g, "$1");
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return {
    text,
    samples,
    declared,
    value: (name, labels = {}) =>
      samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0),
  };
}

/**
 * GETs `<url>/metrics` and parses it.
 * @example
 * const m = await scrapeMetrics(svc.url);
 * expect(m.value("orderflow_outbox_backlog")).toBe(0);
 */
export async function scrapeMetrics(url: string, init?: RequestInit): Promise<Scrape> {
  const r = await fetch(`${url}/metrics`, init);
  if (!r.ok) throw new Error(`GET ${url}/metrics answered ${r.status}`);
  return parseMetrics(await r.text());
}
