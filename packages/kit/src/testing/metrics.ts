/** Prometheus text as a test reads it: a process's /metrics, one series' value, the metric names. */

/** GET /metrics of a process on 127.0.0.1. */
export async function scrapeMetrics(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  if (response.status !== 200) throw new Error(`/metrics on port ${port} answered ${response.status}`);
  return response.text();
}

/**
 * The sum of the samples of `name` whose labels include all of `labels` (0 when there are none):
 * `seriesValue(text, "chirp_rpc_duration_seconds_count", { service: "tweets", code: "OK" })`.
 */
export function seriesValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const inBraces = /\{(.*)\}/.exec(line)?.[1] ?? "";
    const have = inBraces.split(/,(?=[a-zA-Z_]+=")/);
    if (wanted.every((pair) => have.includes(pair))) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** The label values `label` takes among the samples of `name`. */
export function labelValues(text: string, name: string, label: string): string[] {
  const values = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = new RegExp(`[{,]${label}="([^"]*)"`).exec(line)?.[1];
    if (value !== undefined) values.add(value);
  }
  return [...values].sort();
}

/**
 * Every series name the text can hold, from its `# TYPE` lines, as PromQL names them: a histogram
 * `h` is `h_bucket`, `h_sum` and `h_count`; a summary `s` is `s`, `s_sum` and `s_count`.
 */
export function exportedSeriesNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === "histogram") for (const suffix of ["_bucket", "_sum", "_count"]) names.add(`${name}${suffix}`);
    else if (type === "summary") for (const suffix of ["", "_sum", "_count"]) names.add(`${name}${suffix}`);
    else names.add(name!);
  }
  return names;
}
