export * from "./connect.js";
export * from "./outbox.js";
