import {
  context,
  createContextKey,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";

export { SpanKind, SpanStatusCode, type Attributes, type Context, type Span };

// The light half of tracing: only @opentelemetry/api, which does nothing until a service starts a
// tracer provider (tracing.ts). The logger and the event codec use it, so it must stay cheap.

/** The active service's tracer, kept in the context beside the active span. */
export const TRACER = createContextKey("chirp.tracer");

/** Where a remote parent may be read from: a header map and how to read it. */
export interface Carrier {
  source: unknown;
  getter: TextMapGetter<unknown>;
}

/** A carrier for a plain string map (event headers, stored outbox entries). */
export const recordCarrier = (source: Record<string, string>): Carrier => ({ source, getter: RECORD_GETTER as TextMapGetter<unknown> });

const RECORD_GETTER: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => (Object.hasOwn(carrier, key) ? carrier[key] : undefined),
};

/** Ends the span when the work settles: OK, or ERROR with the failure's message. */
export function settle<T>(span: Span, work: Promise<T>): Promise<T> {
  return work.then(
    (value) => {
      span.end();
      return value;
    },
    (error: unknown) => {
      failed(span, error);
      span.end();
      throw error;
    },
  );
}

export function failed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: String((error as Error)?.message ?? error).slice(0, 200) });
}

/** The tracer of the service whose span is active, when that span is recorded. */
export function activeTracer(): { tracer: Tracer; parent: Context } | undefined {
  const parent = context.active();
  const tracer = parent.getValue(TRACER) as Tracer | undefined;
  if (!tracer || !trace.getSpan(parent)?.isRecording()) return undefined;
  return { tracer, parent };
}

/**
 * A child of the active span for `work` (a MongoDB command, a publish, a fan-out batch), made
 * with the active service's tracer; `work` runs with it active. Without a recorded active span,
 * just runs `work`: background work with no trace behind it makes no root spans.
 */
export function inSpan<T>(name: string, attributes: Attributes, work: () => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  const active = activeTracer();
  if (!active) return work();
  const span = active.tracer.startSpan(name, { kind, attributes }, active.parent);
  return context.with(trace.setSpan(active.parent, span), () => settle(span, work()));
}

/** Starts a child of the active span that the caller ends (a call whose end comes by callback). */
export function startChildSpan(name: string, kind: SpanKind, attributes: Attributes): { span: Span; context: Context } | undefined {
  const active = activeTracer();
  if (!active) return undefined;
  const span = active.tracer.startSpan(name, { kind, attributes }, active.parent);
  return { span, context: trace.setSpan(active.parent, span) };
}

/** The active trace context as W3C headers (`traceparent`, `tracestate`); empty when there is none. */
export function traceHeaders(from: Context = context.active()): Record<string, string> {
  const headers: Record<string, string> = {};
  propagation.inject(from, headers);
  return headers;
}

/** The ids pino lines carry inside a recorded span. */
export function activeSpanIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
