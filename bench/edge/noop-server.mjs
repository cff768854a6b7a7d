#!/usr/bin/env node
// The grpc-js no-op alone: the kit's GrpcServer serving chirp.loadtest.v1.LoadTestService/Noop,
// for `npm run bench:edge` runs whose mesh has none of its own (the multi-process topology). Logs
// at LOG_LEVEL (info by default) to stdout; the port goes out as one JSON line on file descriptor 3.
import { createWriteStream } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLogger } = require("@chirp/kit");
const { bindService, GrpcServer } = require("@chirp/kit/grpc");
const { LoadTestServiceService } = require("@chirp/proto/grpc/chirp/loadtest/v1/loadtest");

const log = createLogger("loadtest", process.env.LOG_LEVEL ?? "info");
const noop = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log });
noop.activate(LoadTestServiceService, bindService(LoadTestServiceService, { noop: async (request) => ({ payload: request.payload }) }, log));
createWriteStream(null, { fd: 3 }).end(`${JSON.stringify({ ready: true, loadtest: noop.port })}\n`);
process.on("SIGTERM", () => void noop.shutdown().then(() => process.exit(0)));
