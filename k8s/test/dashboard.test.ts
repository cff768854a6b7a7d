/**
 * The Grafana dashboard (k8s/components/observability/chirp-dashboard.json) asks only for series
 * the processes export: every metric name in its PromQL is read from the `# TYPE` lines of a real
 * /metrics (the embedded mesh's, which registers every process's series), so a renamed metric
 * fails here rather than leaving an empty panel. It also covers what an operator looks for.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "@chirp/kit";
import { exportedSeriesNames, scrapeMetrics } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "@chirp/mesh";
import { ROOT, type Obj } from "./rendered.js";

const DASHBOARD = "k8s/components/observability/chirp-dashboard.json";
const dashboard: Obj = JSON.parse(readFileSync(join(ROOT, DASHBOARD), "utf8"));

/** Every panel's queries, rows' panels included. */
function queries(panels: Obj[]): Array<{ panel: string; expr: string }> {
  return panels.flatMap((panel) => [
    ...(panel.targets ?? []).map((target: Obj) => ({ panel: panel.title, expr: String(target.expr) })),
    ...queries(panel.panels ?? []),
  ]);
}

const KEYWORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless", "inf", "nan"]);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, range
 * selectors, grouping clauses, function calls, keywords and numbers are taken out.
 */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    // Numbers and durations (0.99, 5m, 1h30m).
    .replace(/(?<![a-zA-Z0-9_:])\d+(?:\.\d+)?(?:e[+-]?\d+)?[a-z]*/gi, " ");
  const names = new Set<string>();
  for (const match of bare.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = bare.slice(match.index! + match[0].length).trimStart();
    if (after.startsWith("(") || KEYWORDS.has(match[0].toLowerCase())) continue;
    names.add(match[0]);
  }
  return [...names];
}

describe(`the Grafana dashboard (${DASHBOARD})`, () => {
  let mesh: Mesh;
  let exported: Set<string>;

  beforeAll(async () => {
    // In memory: the series a process exports do not depend on where its data is.
    mesh = await startMesh({ env: { PASSWORD_HASH_COST: "4" }, log: createLogger("mesh", "silent"), loopback: true, metrics: true });
    exported = exportedSeriesNames(await scrapeMetrics(mesh.metricsPort!));
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
  });

  const all = queries(dashboard.panels ?? []);
  const variables: string[] = (dashboard.templating?.list ?? []).flatMap((v: Obj) => {
    const query = typeof v.query === "string" ? v.query : v.query?.query;
    const source = /label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,/.exec(query ?? "")?.[1];
    return source ? [source] : [];
  });

  test("reads the metric names out of PromQL", () => {
    expect(metricNames('histogram_quantile(0.99, sum by (service, le) (rate(chirp_a_bucket{code!="OK",x=~"$y"}[$__rate_interval]))) / sum(b_total offset 5m)')).toEqual([
      "chirp_a_bucket",
      "b_total",
    ]);
  });

  test("every query reads at least one metric", () => {
    expect(all.length).toBeGreaterThan(10);
    expect(all.filter(({ expr }) => metricNames(expr).length === 0)).toEqual([]);
  });

  test("every metric name in its PromQL is one the processes export", () => {
    expect(exported.has("chirp_rpc_duration_seconds_bucket")).toBe(true);
    const unknown = [...all.flatMap(({ panel, expr }) => metricNames(expr).map((name) => `${panel}: ${name}`)), ...variables.map((name) => `variable: ${name}`)].filter(
      (entry) => !exported.has(entry.slice(entry.lastIndexOf(" ") + 1)),
    );
    expect(unknown).toEqual([]);
  });

  test("shows RED per method, consumer lag, redeliveries, dead letters, fan-out lag quantiles and the outboxes", () => {
    const used = new Set(all.flatMap(({ expr }) => metricNames(expr)));
    for (const name of [
      "chirp_rpc_duration_seconds_count",
      "chirp_rpc_duration_seconds_bucket",
      "chirp_consumer_pending",
      "chirp_consumer_redeliveries_total",
      "chirp_consumer_dead_letters_total",
      "chirp_fanout_lag_seconds_bucket",
      "chirp_outbox_pending",
      "chirp_outbox_oldest_age_seconds",
    ]) {
      expect([name, used.has(name)]).toEqual([name, true]);
    }
    expect(all.some(({ expr }) => /histogram_quantile\(0\.99,.*chirp_fanout_lag_seconds_bucket/.test(expr))).toBe(true);
    expect(all.some(({ expr }) => /by \([^)]*\bmethod\b[^)]*\bcode\b/.test(expr))).toBe(true);
  });
});
