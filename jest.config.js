/**
 * One jest run for every package and service. Sources are transpiled by ts-jest (type checking is
 * `npm run typecheck`, which `npm test` runs first), and workspace imports map to their sources
 * so tests never need a build.
 * @type {import('jest').Config}
 */
const config = {
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

/**
 * The Jaeger suite reads a trace back from a real Jaeger. Where none answers it is left out of the
 * run, and the run says so, rather than being listed as a skipped test among passing ones. CI does
 * not build Jaeger (about five minutes on two cores); the same trace is checked there with an
 * in-memory exporter (mesh/test/observability.test.ts).
 */
const JAEGER_SUITE = "<rootDir>/mesh/test/jaeger.test.ts";
const jaegerQueryUrl = process.env.JAEGER_QUERY_URL ?? "http://127.0.0.1:16686";

async function jaegerAnswers() {
  try {
    const answer = await fetch(`${jaegerQueryUrl}/api/services`, { signal: AbortSignal.timeout(3000) });
    return answer.ok;
  } catch {
    return false;
  }
}

module.exports = async () => {
  if (await jaegerAnswers()) return config;
  // jest reads its configuration more than once a run: say it once.
  if (!process.env.CHIRP_JAEGER_NOTE_SAID) process.stderr.write(`jest: mesh/test/jaeger.test.ts is not run: no Jaeger answers at ${jaegerQueryUrl} (../shared/jaeger/start runs one)\n`);
  process.env.CHIRP_JAEGER_NOTE_SAID = "1";
  return { ...config, testPathIgnorePatterns: ["/node_modules/", JAEGER_SUITE] };
};
