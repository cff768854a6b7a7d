/**
 * One trace as Jaeger's query API gives it (`GET /api/traces/<id>`), flattened to what a reader
 * checks: each span's process (service name), name, kind, parent and attributes. For the Jaeger
 * test and `npm run trace:jaeger`.
 */
export interface TraceSpan {
  spanId: string;
  /** The span it is a child of; it may be outside the trace (the caller's own span). */
  parentId: string | undefined;
  service: string;
  name: string;
  /** server, client, producer, consumer or internal. */
  kind: string;
  startMicros: number;
  durationMicros: number;
  attributes: Record<string, unknown>;
}

interface JaegerSpan {
  spanID: string;
  operationName: string;
  references?: Array<{ refType: string; spanID: string }>;
  startTime: number;
  duration: number;
  tags?: Array<{ key: string; value: unknown }>;
  processID: string;
}

interface JaegerTrace {
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/** The trace's spans, oldest first; none when Jaeger does not know the trace (yet). */
export async function fetchTrace(queryUrl: string, traceId: string): Promise<TraceSpan[]> {
  const response = await fetch(`${queryUrl.replace(/\/+$/, "")}/api/traces/${traceId}`, { signal: AbortSignal.timeout(5_000) });
  if (response.status === 404) return [];
  if (response.status !== 200) throw new Error(`Jaeger answered ${response.status} for trace ${traceId}`);
  const body = (await response.json()) as { data?: JaegerTrace[] };
  return (body.data ?? [])
    .flatMap((trace) =>
      trace.spans.map((span): TraceSpan => {
        const attributes = Object.fromEntries((span.tags ?? []).map((tag) => [tag.key, tag.value]));
        return {
          spanId: span.spanID,
          parentId: span.references?.find((r) => r.refType === "CHILD_OF")?.spanID,
          service: trace.processes[span.processID]?.serviceName ?? "?",
          name: span.operationName,
          kind: String(attributes["span.kind"] ?? "internal"),
          startMicros: span.startTime,
          durationMicros: span.duration,
          attributes,
        };
      }),
    )
    .sort((a, b) => a.startMicros - b.startMicros);
}

/** The trace as an indented tree, one span a line: service, kind, name, duration. */
export function formatTrace(spans: TraceSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, TraceSpan[]>();
  for (const span of spans) {
    const parent = span.parentId && ids.has(span.parentId) ? span.parentId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), span]);
  }
  const lines: string[] = [];
  const visit = (span: TraceSpan, depth: number) => {
    lines.push(`${"  ".repeat(depth)}${span.service} ${span.kind} ${span.name} (${(span.durationMicros / 1000).toFixed(1)} ms)`);
    for (const child of children.get(span.spanId) ?? []) visit(child, depth + 1);
  };
  for (const root of children.get(undefined) ?? []) visit(root, 0);
  return lines.join("\n");
}

/**
 * What is wrong with the trace of one post made through the gateway, against the whole path it
 * should show: the gateway's call (child of the caller's span `callerSpanId`) and its upstream
 * call, tweets' server span with its MongoDB write, the relay's publish, the timeline consumer's
 * handling (of the durable consumer `consumer`: other runs' consumers may handle the same message),
 * the graph call for the followers, and each fan-out batch with its MongoDB write. Empty when the
 * trace holds all of it with those parent links.
 */
export function postTraceProblems(spans: TraceSpan[], callerSpanId: string, consumer: string): string[] {
  const problems: string[] = [];
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const parentOf = (span: TraceSpan | undefined) => (span?.parentId ? byId.get(span.parentId) : undefined);
  const one = (what: string, match: (s: TraceSpan) => boolean): TraceSpan | undefined => {
    const found = spans.filter(match);
    if (found.length !== 1) problems.push(`${found.length} spans for ${what}, expected one`);
    return found.length === 1 ? found[0] : undefined;
  };
  const linked = (child: TraceSpan | undefined, parent: TraceSpan | undefined, what: string) => {
    if (child && parent && child.parentId !== parent.spanId) problems.push(`${what}: its parent is ${parentOf(child)?.name ?? child.parentId}, not ${parent.service} ${parent.name}`);
  };
  const method = "chirp.tweets.v1.TweetsService/CreateTweet";
  const subject = "chirp.tweets.tweet_created";

  const edge = one(`the gateway's ${method}`, (s) => s.service === "gateway" && s.kind === "server" && s.name === method);
  if (edge && edge.parentId !== callerSpanId) problems.push(`the gateway's call is not a child of the caller's span ${callerSpanId}`);
  const forwarded = one("the gateway's upstream call", (s) => s.service === "gateway" && s.kind === "client" && s.name === method);
  linked(forwarded, edge, "the gateway's upstream call");
  const served = one("tweets' server span", (s) => s.service === "tweets" && s.kind === "server" && s.name === `/${method}`);
  linked(served, forwarded, "tweets' server span");
  if (served && !spans.some((s) => s.service === "tweets" && s.attributes["db.system.name"] === "mongodb" && s.parentId === served.spanId)) {
    problems.push("no MongoDB command under tweets' server span");
  }
  const published = one(`the relay's publish ${subject}`, (s) => s.service === "tweets" && s.kind === "producer" && s.name === `publish ${subject}`);
  linked(published, served, "the relay's publish");
  const handled = one(`the timeline consumer's process ${subject}`, (s) => s.service === "timeline" && s.kind === "consumer" && s.name === `process ${subject}` && s.attributes["messaging.consumer.group.name"] === consumer);
  linked(handled, published, "the timeline consumer's handling");
  const descends = (span: TraceSpan, ancestor: TraceSpan) => {
    for (let up = parentOf(span); up; up = parentOf(up)) if (up === ancestor) return true;
    return false;
  };
  if (handled) {
    const listed = spans.filter((s) => s.service === "graph" && s.kind === "server" && s.name === "/chirp.graph.v1.GraphService/ListFollowerIds" && descends(s, handled));
    if (listed.length === 0) problems.push("no graph ListFollowerIds call under the timeline's handling");
    for (const span of listed) if (parentOf(span)?.service !== "timeline" || parentOf(span)?.kind !== "client") problems.push("graph's ListFollowerIds is not a child of a timeline client span");
    const batches = spans.filter((s) => s.service === "timeline" && s.name === "fan-out batch" && descends(s, handled));
    // The author's own timeline, then the followers' batch.
    if (batches.length < 2) problems.push(`${batches.length} fan-out batches under the timeline's handling, expected at least 2`);
    for (const batch of batches) {
      if (!spans.some((s) => s.parentId === batch.spanId && s.attributes["db.system.name"] === "mongodb" && s.attributes["db.operation.name"] === "update")) {
        problems.push("a fan-out batch without its MongoDB update");
      }
    }
  }
  return problems;
}
