export * from "./authorization.js";
export * from "./durable-from-now.js";
export * from "./jetstream.js";
export * from "./shared-values.js";
