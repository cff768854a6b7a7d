// Test plumbing shared by every package's tests: jest suites and helpers. It runs inside jest only
// (it imports @jest/globals), so production code never imports it; a test in packages/kit enforces that.
export * from "./accounts.js";
export * from "./config.js";
export * from "./domain-purity.js";
export * from "./fake-users.js";
export * from "./grpc.js";
export * from "./identity.js";
export * from "./metrics.js";
export * from "./mongo.js";
export * from "./service-process.js";
export * from "./support.js";
export * from "./spans.js";
