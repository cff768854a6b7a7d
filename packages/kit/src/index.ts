// Transport- and storage-neutral plumbing; domain code may import from here.
export * from "./accounts.js";
export * from "./bus.js";
export * from "./cache.js";
export * from "./config.js";
export * from "./errors.js";
export * from "./ids.js";
export * from "./lifecycle.js";
export * from "./logger.js";
export * from "./outbox.js";
export * from "./pagination.js";
export * from "./set-index.js";
export * from "./sorted.js";
export * from "./text.js";
export * from "./tokens.js";
export * from "./turns.js";
