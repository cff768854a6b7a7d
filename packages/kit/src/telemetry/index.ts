export * from "./context.js";
export * from "./tracing.js";
export * from "./metrics.js";
export * from "./bus.js";
