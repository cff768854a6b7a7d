export * from "./catalog.js";
export * from "./codec.js";
export * from "./in-process-bus.js";
