/**
 * One jest run for every package and service. Sources are transpiled by ts-jest (type checking is
 * `npm run typecheck`, which `npm test` runs first), and workspace imports map to their sources
 * so tests never need a build.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/packages", "<rootDir>/services", "<rootDir>/gateway", "<rootDir>/mesh", "<rootDir>/k8s"],
  testMatch: ["**/test/**/*.test.ts"],
  transform: {
    "^.+\\.ts$": ["ts-jest", { tsconfig: "<rootDir>/tsconfig.test.json" }],
  },
  moduleNameMapper: {
    "^@chirp/kit$": "<rootDir>/packages/kit/src/index.ts",
    // The kit's one file-level entry (the web client's text rules); its others are folders.
    "^@chirp/kit/text$": "<rootDir>/packages/kit/src/text.ts",
    "^@chirp/kit/(.*)$": "<rootDir>/packages/kit/src/$1/index.ts",
    "^@chirp/proto/descriptor-set$": "<rootDir>/packages/proto/src/descriptor_set.ts",
    "^@chirp/proto/(.*)$": "<rootDir>/packages/proto/src/$1",
    "^@chirp/gateway$": "<rootDir>/gateway/src/app.ts",
    "^@chirp/gateway/config$": "<rootDir>/gateway/src/config.ts",
    "^@chirp/mesh$": "<rootDir>/mesh/src/mesh.ts",
    // Any other @chirp/<name> is a service, in services/<name> (the first match wins: these come last).
    "^@chirp/([a-z0-9-]+)$": "<rootDir>/services/$1/src/app.ts",
    "^@chirp/([a-z0-9-]+)/config$": "<rootDir>/services/$1/src/config.ts",
    "^(\\.{1,2}/.*)\\.js$": "$1",
  },
  testTimeout: 30_000,
  // The integration suites share one MongoDB and one NATS server; keep the load on them bounded.
  maxWorkers: 2,
  verbose: true,
};
