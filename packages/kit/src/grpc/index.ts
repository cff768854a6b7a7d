export * from "./bind.js";
export * from "./client.js";
export * from "./context.js";
export * from "./health-client.js";
export * from "./metadata.js";
export * from "./server.js";
export * from "./status.js";
