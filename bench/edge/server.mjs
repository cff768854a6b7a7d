#!/usr/bin/env node
// The embedded mesh for `npm run bench:edge` (bench/edge.mjs): every service and the gateway in
// one process, in memory, plus the kit's do-nothing LoadTestService (the grpc-js no-op), which the
// gateway forwards like any service. Logs go to stdout at LOG_LEVEL (info by default, as
// deployed: one line per call at the gateway and at each service); the harness sends them to
// /dev/null. The ports go out as one JSON line on file descriptor 3. Stops on SIGTERM.
import { createWriteStream } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLogger } = require("@chirp/kit");
const { bindService, GrpcServer } = require("@chirp/kit/grpc");
const { startMesh } = require("@chirp/mesh");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");
const { LoadTestServiceService } = require("@chirp/proto/grpc/chirp/loadtest/v1/loadtest");

const log = createLogger("bench-edge", process.env.LOG_LEVEL ?? "info");
const noopLog = log.child({ service: "loadtest" });
const noop = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: noopLog });
noop.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: async (request) => ({ payload: request.payload }) }, noopLog));
const mesh = await startMesh({
  env: process.env,
  log,
  loopback: true,
  extraUpstreams: [{ name: "loadtest", address: `127.0.0.1:${noop.port}`, service: LoadTestService }],
});
const ready = createWriteStream(null, { fd: 3 });
ready.end(`${JSON.stringify({ ready: true, http2Port: mesh.gateway.http2Port, httpPort: mesh.gateway.httpPort, ...mesh.ports, loadtest: noop.port })}\n`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 15_000).unref();
  void Promise.all([mesh.stop(), noop.shutdown()]).then(() => process.exit(0));
});
