#!/usr/bin/env node
// The CPU cost of the mesh's identities per call: a kit gRPC server answering the do-nothing
// LoadTestService/Noop, with and without mutual TLS (and its peer rules) and with and without
// the end user's access token verified, printed as ratios to the same server without either, in
// one run. Also the road not taken: a token minted for each call (an internal token bound to the
// call, audience the service), which the caller signs and the service verifies every time.
//
// The server runs in a child process pinned to CPU 0 (`taskset`), this process (the load
// generator: grpc-js clients, as the gateway and the services are) on CPU 1. The server's CPU
// time (process.cpuUsage: all its threads) is counted from after the warm-up to the last answer,
// and so is the load generator's. Calls go over one connection that stays open (as the mesh's
// do), 16 at a time; the TLS handshake is paid once per connection, not per call. The settings
// run in turn, `rounds` times over, and each one's median is reported.
//
//   npm run bench:identity [-- --calls 20000 --rounds 3]
import { fork, spawnSync } from "node:child_process";
import { createPrivateKey } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
const here = fileURLToPath(import.meta.url);
const { Metadata } = require("@grpc/grpc-js");
const { generateSigningKeyPair, TokenSigner, createLogger } = require("@chirp/kit");
const grpc = require("@chirp/kit/grpc");
const { LoadTestServiceClient, LoadTestServiceService } = require("@chirp/proto/grpc/chirp/loadtest/v1/loadtest");

/** What each setting turns on: mutual TLS (with the peer rules), and which token calls carry. */
const SETTINGS = {
  plaintext: { tls: false, token: "none" },
  "forwarded token": { tls: false, token: "forwarded" },
  "mutual TLS": { tls: true, token: "none" },
  "mutual TLS + forwarded token": { tls: true, token: "forwarded" },
  "token minted per call": { tls: false, token: "minted" },
};

if (process.env.BENCH_IDENTITY_SETTING === undefined) await loadGenerator();
else await server(process.env.BENCH_IDENTITY_SETTING);

async function loadGenerator() {
  const { values } = parseArgs({ options: { calls: { type: "string", default: "20000" }, rounds: { type: "string", default: "3" } } });
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const pinned = availableParallelism() >= 2 && spawnSync("taskset", ["-a", "-cp", "1", String(process.pid)], { stdio: "ignore" }).status === 0;
  const placement = pinned ? "server pinned to CPU 0, load generator to CPU 1 (taskset)" : "NOT pinned (taskset or a second CPU missing): server and load generator share the CPUs";

  const certificates = new grpc.MeshCertificateSet();
  const keys = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(keys.privateKeyPem), { issuer: "chirp", audience: "chirp", ttlSeconds: 900 });
  const samples = Object.fromEntries(Object.keys(SETTINGS).map((s) => [s, []]));
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const setting of Object.keys(SETTINGS)) {
        const result = await measure(setting, calls, { pinned, certificates, keys, signer });
        samples[setting].push(result);
        process.stderr.write(`round ${round}/${rounds}, ${setting}: server ${result.serverUs.toFixed(1)} µs/call, load generator ${result.clientUs.toFixed(1)} µs/call\n`);
      }
    }
  } finally {
    certificates.remove();
  }

  const median = (list) => {
    const sorted = [...list].sort((a, b) => a - b);
    const middle = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  };
  const summary = Object.fromEntries(
    Object.keys(SETTINGS).map((s) => [
      s,
      {
        server: median(samples[s].map((r) => r.serverUs)),
        client: median(samples[s].map((r) => r.clientUs)),
        wall: median(samples[s].map((r) => r.wallUs)),
        rounds: samples[s].map((r) => r.serverUs.toFixed(1)).join(" "),
      },
    ]),
  );
  const base = summary.plaintext;
  console.log(`identity cost: LoadTestService/Noop on a kit gRPC server, ${calls} calls per setting and round, 16 in flight on one connection, median of ${rounds} rounds`);
  console.log(`Node ${process.version}; ${placement}`);
  console.log("");
  console.log("setting                        server CPU µs/call   ratio   caller CPU µs/call   ratio   wall µs/call   server µs/call in each round");
  for (const [s, r] of Object.entries(summary)) {
    console.log(
      `${s.padEnd(30)} ${r.server.toFixed(1).padStart(18)}   ${(r.server / base.server).toFixed(2).padStart(5)}   ${r.client.toFixed(1).padStart(18)}   ${(r.client / base.client).toFixed(2).padStart(5)}   ${r.wall.toFixed(1).padStart(12)}   ${r.rounds}`,
    );
  }
}

/** One setting's server in a child process: started, warmed up, measured, stopped. */
async function measure(setting, calls, { pinned, certificates, keys, signer }) {
  const { tls, token } = SETTINGS[setting];
  const child = fork(here, [], {
    ...(pinned && { execPath: "taskset", execArgv: ["-c", "0", process.execPath] }),
    env: {
      ...process.env,
      BENCH_IDENTITY_SETTING: setting,
      BENCH_PUBLIC_KEY: keys.publicKeyPem,
      BENCH_TLS: tls ? JSON.stringify(certificates.filesOf("example")) : "",
    },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${setting}: the server exited with ${code}`)))));
  const next = () =>
    new Promise((resolve, reject) => {
      child.once("message", resolve);
      exited.catch(reject);
    });
  const { port } = await next();
  const credentials = tls ? grpc.channelCredentials(certificates.filesOf("gateway"), "example") : grpc.insecureChannel();
  const client = new LoadTestServiceClient(`127.0.0.1:${port}`, credentials, tls ? grpc.meshChannelOptions("example") : {});
  // The caller's one token, forwarded with every call as the mesh does; or a new one each call.
  const forwarded = signer.sign("01M83VMQVV99P26KZM1TRZB034", []).token;
  const metadataFor = () => {
    const metadata = new Metadata();
    if (token === "forwarded") metadata.set("authorization", `Bearer ${forwarded}`);
    if (token === "minted") metadata.set("authorization", `Bearer ${signer.sign("01M83VMQVV99P26KZM1TRZB034", []).token}`);
    return metadata;
  };
  const run = async (count) => {
    let started = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (started < count) {
          started += 1;
          await grpc.unary(client, client.noop, { payload: "x" }, metadataFor());
        }
      }),
    );
  };
  await run(Math.min(3_000, calls));
  child.send("start");
  await next();
  const clientBefore = process.cpuUsage();
  const wallBefore = performance.now();
  await run(calls);
  const wallUs = ((performance.now() - wallBefore) * 1000) / calls;
  const clientCpu = process.cpuUsage(clientBefore);
  child.send("stop");
  const { cpuUs } = await next();
  client.close();
  child.send("exit");
  await exited;
  return { serverUs: cpuUs / calls, clientUs: (clientCpu.user + clientCpu.system) / calls, wallUs };
}

async function server(setting) {
  const { tls } = SETTINGS[setting];
  const log = createLogger("bench", "silent");
  const files = process.env.BENCH_TLS ? JSON.parse(process.env.BENCH_TLS) : undefined;
  const { verifierFor } = require("@chirp/kit");
  const tokens = verifierFor(process.env.BENCH_PUBLIC_KEY);
  const started = await grpc.GrpcServer.start({ host: "127.0.0.1", port: 0, services: [LoadTestServiceService], log, tls: files });
  // The handler asks for the caller, as a service's handlers do, when the setting carries a token.
  const handlers = { noop: async (request, ctx) => ({ payload: ctx.callerId === undefined ? request.payload : ctx.callerId }) };
  started.activate(LoadTestServiceService, grpc.bindService(LoadTestServiceService, handlers, log, undefined, { peers: { noop: ["gateway"] }, tokens, tls }));
  let before;
  process.on("message", async (message) => {
    if (message === "start") {
      before = process.cpuUsage();
      process.send({});
    } else if (message === "stop") {
      const used = process.cpuUsage(before);
      process.send({ cpuUs: used.user + used.system });
    } else if (message === "exit") {
      await started.shutdown();
      process.exit(0);
    }
  });
  process.send({ port: started.port });
}
