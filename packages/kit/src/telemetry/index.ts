export * from "./context.js";
export * from "./tracing.js";
export * from "./metrics.js";
export * from "./bus.js";
// For tests that look at the spans (with useSpanExporter).
export { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
