// Starting a service: gRPC, MongoDB, NATS and the outbox relay together, so this lives apart from
// the neutral index that domain code may import.
export * from "./start.js";
