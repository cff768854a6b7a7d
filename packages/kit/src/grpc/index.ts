// Loaded by every service and the gateway, so their protobuf encoding shares one string hook.
import "./wire.js";

export * from "./accounts.js";
export * from "./bind.js";
export * from "./client.js";
export * from "./context.js";
export * from "./health-client.js";
export * from "./mesh-ca.js";
export * from "./metadata.js";
export * from "./peers.js";
export * from "./replicas.js";
export * from "./server.js";
export * from "./single-copy-writer.js";
export * from "./status.js";
export * from "./tls.js";
