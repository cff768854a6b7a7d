#!/usr/bin/env node
// The embedded mesh for `npm run bench:edge` (bench/edge.mjs): every service and the gateway in
// one process, in memory, speaking mutual TLS with throwaway certificates, plus the kit's
// do-nothing LoadTestService twice: once in plaintext with no checks (the grpc-js no-op, the
// reference), and once as a mesh service (mutual TLS, the caller's token verified, the gateway its
// only peer), which the gateway forwards like any service. Logs go to stdout at LOG_LEVEL (info by default, as
// deployed: one line per call at the gateway and at each service); the harness sends them to
// /dev/null. The ports go out as one JSON line on file descriptor 3. Stops on SIGTERM.
import { createWriteStream } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLogger, verifierFor } = require("@chirp/kit");
const { bindService, GrpcServer, MeshCertificateSet } = require("@chirp/kit/grpc");
const { startMesh } = require("@chirp/mesh");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");
const { LoadTestServiceService } = require("@chirp/proto/grpc/chirp/loadtest/v1/loadtest");

const log = createLogger("bench-edge", process.env.LOG_LEVEL ?? "info");
const noopLog = log.child({ service: "loadtest" });
const handlers = { noop: async (request) => ({ payload: request.payload }) };
const reference = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: noopLog });
reference.activate(LoadTestServiceService, bindService(LoadTestServiceService, handlers, noopLog));
const certificates = new MeshCertificateSet();
process.once("exit", () => certificates.remove());
const noop = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: noopLog, tls: certificates.filesOf("loadtest") });
const mesh = await startMesh({
  env: process.env,
  log,
  loopback: true,
  certificates,
  extraUpstreams: [{ name: "loadtest", address: `127.0.0.1:${noop.port}`, service: LoadTestService }],
});
// Served once the mesh's token key is known.
const tokens = verifierFor(mesh.publicKeyPem);
noop.activate(LoadTestServiceService, bindService(LoadTestServiceService, handlers, noopLog, undefined, { peers: { noop: ["gateway"] }, tokens, tls: true }));
// With the gateway's certificate files, for the calls the harness makes straight to a service.
const ready = createWriteStream(null, { fd: 3 });
ready.end(`${JSON.stringify({ ready: true, http2Port: mesh.gateway.http2Port, httpPort: mesh.gateway.httpPort, ...mesh.ports, reference: reference.port, loadtest: noop.port, tls: certificates.filesOf("gateway") })}\n`);

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 15_000).unref();
  void Promise.all([mesh.stop(), noop.shutdown(), reference.shutdown()]).then(() => process.exit(0));
});
