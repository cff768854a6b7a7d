#!/usr/bin/env node
// The system under test, in its own process so the load generator does not share its CPU: the
// whole mesh (memory and an in-process bus, or MongoDB and JetStream when MONGODB_URI and NATS_URL
// are set) on loopback ports, plus the do-nothing LoadTestService, which the same gateway forwards
// like any service.
// Prints one JSON line with the ports once everything serves; stops on SIGTERM.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLogger } = require("@chirp/kit");
const { bindService, GrpcServer, MeshCertificateSet } = require("@chirp/kit/grpc");
const { startMesh } = require("@chirp/mesh");
const { LoadTestService } = require("@chirp/proto/es/chirp/loadtest/v1/loadtest_pb");
const { LoadTestServiceService } = require("@chirp/proto/grpc/chirp/loadtest/v1/loadtest");

const log = createLogger("bench-server", process.env.LOG_LEVEL ?? "warn");
const noopLog = log.child({ service: "loadtest" });
// The mesh's certificates, made here so that the do-nothing backend speaks mutual TLS too.
const certificates = new MeshCertificateSet();
process.once("exit", () => certificates.remove());
const noop = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log: noopLog, tls: certificates.filesOf("loadtest") });
// A run of its own (BENCH_RUN): its databases and durable consumers are its own, and go with it
// unless BENCH_KEEP=true.
const mesh = await startMesh({
  env: process.env,
  log,
  loopback: true,
  run: process.env.BENCH_RUN,
  keep: process.env.BENCH_KEEP === "true",
  certificates,
  extraUpstreams: [{ name: "loadtest", address: `127.0.0.1:${noop.port}`, service: LoadTestService }],
});
// Served once the mesh's token key is known: it verifies the caller's token as every service does,
// and takes calls from the gateway only.
const { verifierFor } = require("@chirp/kit");
const tokens = verifierFor(mesh.publicKeyPem);
noop.activate(
  LoadTestServiceService,
  bindService(LoadTestServiceService, { noop: async (request) => ({ payload: request.payload }) }, noopLog, undefined, { peers: { noop: ["gateway"] }, tokens, tls: true }),
);
// With the gateway's certificate files, for the calls the benchmark makes straight to a service.
process.stdout.write(`${JSON.stringify({ ready: true, http2Port: mesh.gateway.http2Port, httpPort: mesh.gateway.httpPort, ...mesh.ports, loadtest: noop.port, tls: certificates.filesOf("gateway") })}\n`);

// SIGUSR2 starts a V8 CPU profile and, sent again, writes it to BENCH_PROFILE_DIR: the benchmark
// profiles each measured phase on its own, without start-up and loading.
if (process.env.BENCH_PROFILE_DIR) {
  const { Session } = require("node:inspector/promises");
  const { mkdirSync, writeFileSync } = require("node:fs");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  let profiling = false;
  let count = 0;
  process.on("SIGUSR2", () => {
    profiling = !profiling;
    if (profiling) return void session.post("Profiler.start");
    void session.post("Profiler.stop").then(({ profile }) => {
      mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
      writeFileSync(`${process.env.BENCH_PROFILE_DIR}/phase-${++count}.cpuprofile`, JSON.stringify(profile));
    });
  });
}

let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(1), 15_000).unref();
  void Promise.all([mesh.stop(), noop.shutdown()]).then(() => process.exit(0));
});
