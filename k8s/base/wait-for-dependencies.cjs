// Init container of each service: waits until the servers named by MONGODB_URI and NATS_URL
// accept TCP connections, then exits 0 so the service container starts.
//
// Why: a service that cannot reach MongoDB or NATS within seconds exits, and Kubernetes restarts
// it with a growing back-off (up to five minutes). On a fresh cluster MongoDB and NATS are still
// pulling their images when the services start, so without this wait the first `skaffold dev`
// spends minutes in CrashLoopBackOff. It runs with the service's own image (it has Node), so no
// extra image is pulled. It waits for as long as it takes; `kubectl logs <pod> -c
// wait-for-dependencies` says what it is waiting for.
"use strict";
const net = require("node:net");

const DEFAULT_PORTS = { mongodb: 27017, nats: 4222, tls: 4222 };
const RETRY_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
const REPORT_EVERY = 10;

/** host and port of the first server in a connection URL, or undefined when there is none to wait for. */
function endpointOf(variable) {
  const value = process.env[variable];
  if (!value) return undefined;
  const match = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(?:[^@/]*@)?([^/?#]+)/i.exec(value.trim());
  const scheme = (match?.[1] ?? "nats").toLowerCase();
  // SRV records name the servers; there is no fixed host and port to wait for.
  if (!match || scheme.endsWith("+srv")) return undefined;
  const first = match[2].split(",")[0];
  const hostPort = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(first);
  if (!hostPort) return undefined;
  const port = hostPort[2] ? Number(hostPort[2]) : DEFAULT_PORTS[scheme];
  if (!port) return undefined;
  return { variable, host: hostPort[1].replace(/^\[|\]$/g, ""), port };
}

function connects({ host, port }) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (error) => {
      socket.destroy();
      resolve(error);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(new Error("timed out")));
    socket.once("connect", () => done(undefined));
    socket.once("error", done);
  });
}

async function waitFor(endpoint) {
  const name = `${endpoint.host}:${endpoint.port} (${endpoint.variable})`;
  for (let attempt = 1; ; attempt++) {
    const error = await connects(endpoint);
    if (!error) {
      console.log(`${name} answers`);
      return;
    }
    if (attempt === 1 || attempt % REPORT_EVERY === 0) console.log(`waiting for ${name}: ${error.code ?? error.message}`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
  }
}

const endpoints = ["MONGODB_URI", "NATS_URL"].map(endpointOf).filter(Boolean);
Promise.all(endpoints.map(waitFor)).then(() => process.exit(0));
