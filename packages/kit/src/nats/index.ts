export * from "./jetstream.js";
