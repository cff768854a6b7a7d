// For suites that look at the spans services make: pass one to useSpanExporter (@chirp/kit/telemetry).
export { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
