#!/usr/bin/env node
// The grpc-js no-op alone, for `npm run bench:edge` runs whose mesh has none of its own (the
// multi-process topology): the kit's GrpcServer serving chirp.loadtest.v1.LoadTestService/Noop in
// plaintext with no checks (the reference). With the TLS_* files and AUTH_PUBLIC_KEY of a mesh
// workload, it serves the same no-op as a mesh service instead (mutual TLS, the caller's token
// verified, the gateway its only peer), for the gateway to forward. Logs at LOG_LEVEL (info by
// default) to stdout; the port goes out as one JSON line on file descriptor 3. Stops on SIGTERM.
import { createWriteStream } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLogger, verifierFor } = require("@chirp/kit");
const { bindService, GrpcServer } = require("@chirp/kit/grpc");
const { LoadTestServiceService } = require("@chirp/proto/grpc/chirp/loadtest/v1/loadtest");

const log = createLogger("loadtest", process.env.LOG_LEVEL ?? "info");
const handlers = { noop: async (request) => ({ payload: request.payload }) };
const { TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_CA_FILE: caFile, AUTH_PUBLIC_KEY: publicKey } = process.env;
const mesh = Boolean(certFile && keyFile && caFile && publicKey);
const noop = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, ...(mesh && { tls: { certFile, keyFile, caFile } }) });
const guard = mesh ? { peers: { noop: ["gateway"] }, tokens: verifierFor(publicKey), tls: true } : undefined;
noop.activate(LoadTestServiceService, bindService(LoadTestServiceService, handlers, log, undefined, guard));
createWriteStream(null, { fd: 3 }).end(`${JSON.stringify({ ready: true, loadtest: noop.port, mesh })}\n`);
process.on("SIGTERM", () => void noop.shutdown().then(() => process.exit(0)));
