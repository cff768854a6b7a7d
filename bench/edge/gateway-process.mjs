#!/usr/bin/env node
// The gateway as its own process for `npm run bench:edge`'s multi-process topology: gateway/dist/main.js
// with one more upstream, the mesh's do-nothing LoadTestService at LOADTEST_ADDRESS (a process of
// its own, bench/edge/noop-server.mjs), so that the gateway no-op is measured as deployed.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { runService } = require("@chirp/kit");
const { startGateway } = require("@chirp/gateway");
const { loadConfig } = require("@chirp/gateway/config");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");

const address = process.env.LOADTEST_ADDRESS;
if (!address) {
  process.stderr.write("bench/edge/gateway-process.mjs needs LOADTEST_ADDRESS (host:port of the mesh no-op)\n");
  process.exit(2);
}
runService(loadConfig, (config, log) => startGateway(config, { log, extraUpstreams: [{ name: "loadtest", address, service: LoadTestService }] }));
