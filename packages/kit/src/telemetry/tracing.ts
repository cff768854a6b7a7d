import { context, propagation, ROOT_CONTEXT, trace, type Attributes, type SpanKind, type Span, type Tracer } from "@opentelemetry/api";
import type { BasicTracerProvider, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { settle, TRACER, type Carrier } from "./context.js";

// The SDK is loaded on first use, by a service that has somewhere to send spans: a process
// without an exporter never reads it from disk.
type Sdk = typeof import("@opentelemetry/sdk-trace-base");
const sdk = (): Sdk => require("@opentelemetry/sdk-trace-base") as Sdk;

/**
 * Tracing with OpenTelemetry, instrumented by hand at the kit's few doors (gRPC server and
 * clients, the Connect gateway, MongoDB commands, the event bus) rather than by patching modules:
 * each door is one place in the kit, and a process without an exporter registers nothing at all,
 * so every door costs one undefined check.
 *
 * One process may hold several services (the embedded mesh): each has its own tracer provider,
 * so each span is reported under its own service name. The tracer of the service that is handling
 * the current work travels in the active context (`TRACER`), so the exits (gRPC clients, MongoDB,
 * publishing) need no tracer handed to them: they make a child span with the tracer of whoever
 * called them, and nothing when no sampled span is active.
 */

export interface TracingSettings {
  /** An OTLP/HTTP endpoint, e.g. http://localhost:4318; unset exports nothing. */
  otlpEndpoint: string | undefined;
  /** Share of new traces recorded, 0–100; a call that arrives traced keeps its caller's decision. */
  samplePercent: number;
}

let testExporter: SpanExporter | undefined;
let contextInstalled = false;

/**
 * Every service started in this process from now on sends its spans to `exporter` (synchronously,
 * unbatched), whatever its settings say: for tests that look at the spans, and benchmarks that
 * measure their cost. `undefined` goes back to the settings.
 */
export function useSpanExporter(exporter: SpanExporter | undefined): void {
  testExporter = exporter;
}

/** The context manager and the W3C propagator, installed once per process, on first use. */
function installContext(): void {
  if (contextInstalled) return;
  contextInstalled = true;
  const { AsyncLocalStorageContextManager } = require("@opentelemetry/context-async-hooks") as typeof import("@opentelemetry/context-async-hooks");
  const { W3CTraceContextPropagator } = require("@opentelemetry/core") as typeof import("@opentelemetry/core");
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

/** How long one export may take; a backend slower than this loses that batch, never a call. */
const EXPORT_TIMEOUT_MS = 5_000;
/** How long a stopping process waits for its last spans to be sent before it gives them up. */
const SHUTDOWN_FLUSH_MS = 2_000;

function otlpExporter(endpoint: string): SpanExporter {
  const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http");
  return new OTLPTraceExporter({ url: `${endpoint.replace(/\/+$/, "")}/v1/traces`, timeoutMillis: EXPORT_TIMEOUT_MS });
}

/** One service's tracing: its tracer, or none when nothing would receive the spans. */
export class Tracing {
  static readonly off = new Tracing(undefined, undefined);

  private constructor(
    readonly tracer: Tracer | undefined,
    private readonly provider: BasicTracerProvider | undefined,
  ) {}

  /**
   * @param trustCaller false at the public edge: a caller's sampling flag is not obeyed there (the
   *   trace id is kept, the decision is this process's), so no client can have every call recorded.
   */
  static start(service: string, settings: TracingSettings, trustCaller = true): Tracing {
    const exporter = testExporter ?? (settings.otlpEndpoint ? otlpExporter(settings.otlpEndpoint) : undefined);
    if (!exporter) return Tracing.off;
    installContext();
    const { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, SimpleSpanProcessor, TraceIdRatioBasedSampler } = sdk();
    const { resourceFromAttributes } = require("@opentelemetry/resources") as typeof import("@opentelemetry/resources");
    const ratio = new TraceIdRatioBasedSampler(Math.min(100, Math.max(0, settings.samplePercent)) / 100);
    const sampler = new ParentBasedSampler({ root: ratio, ...(trustCaller ? {} : { remoteParentSampled: ratio, remoteParentNotSampled: ratio }) });
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": service }),
      sampler,
      spanProcessors: [testExporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
    });
    return new Tracing(provider.getTracer("chirp"), provider);
  }

  get enabled(): boolean {
    return this.tracer !== undefined;
  }

  /**
   * Runs `work` in a span of this service that continues the trace `carrier` names (incoming
   * metadata or headers), or starts one; the span ends when `work` settles, failed if it threw.
   * Without a tracer, just runs `work`.
   */
  entry<T>(name: string, kind: SpanKind, carrier: Carrier | undefined, attributes: Attributes, work: (span: Span | undefined) => Promise<T>): Promise<T> {
    if (!this.tracer) return work(undefined);
    const parent = carrier ? propagation.extract(ROOT_CONTEXT, carrier.source, carrier.getter) : context.active();
    const span = this.tracer.startSpan(name, { kind, attributes }, parent);
    const active = trace.setSpan(parent, span).setValue(TRACER, this.tracer);
    return context.with(active, () => settle(span, work(span)));
  }

  /**
   * Sends the spans still buffered and stops; later spans are dropped. A trace backend that is
   * down or never answers costs a stopping process at most SHUTDOWN_FLUSH_MS and those spans,
   * never its clean exit: the failure is returned for the caller to log, not thrown.
   */
  async shutdown(): Promise<Error | undefined> {
    if (!this.provider) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      this.provider.shutdown().then(
        () => undefined,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      ),
      new Promise<Error>((resolve) => {
        timer = setTimeout(() => resolve(new Error(`the trace backend took over ${SHUTDOWN_FLUSH_MS} ms; the last spans were not sent`)), SHUTDOWN_FLUSH_MS);
      }),
    ]);
    clearTimeout(timer);
    return outcome;
  }
}

