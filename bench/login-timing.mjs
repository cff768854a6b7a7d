#!/usr/bin/env node
// Login timing: does a wrong password take as long as an unknown user? Starts the users service
// in-process (in-memory storage, production password cost), then times interleaved failed logins
// of both kinds over gRPC and prints the figures and their ratio. Usage: npm run bench:login [-- N]
// Every failed login names a different account (known or not), one failure each: the service
// throttles a name after five failures, which would measure the throttle instead.
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const { credentials } = require("@grpc/grpc-js");
const { createLogger } = require("@chirp/kit");
const { unary } = require("@chirp/kit/grpc");
const { UsersServiceClient } = require("@chirp/proto/grpc/chirp/users/v1/users");
const { startUsers } = require("@chirp/users");
const { loadConfig } = require("@chirp/users/config");

const rounds = Number(process.argv[2] ?? 40);
const config = { ...loadConfig({}), host: "127.0.0.1", port: 0, logLevel: "silent" };
const app = await startUsers(config, { log: createLogger("bench", "silent") });
const client = new UsersServiceClient(`127.0.0.1:${app.port}`, credentials.createInsecure());

for (let i = 0; i <= rounds; i++) {
  await unary(client, client.createUser, { username: `bench_user_${i}`, email: `bench${i}@example.org`, password: "the right password", displayName: "" });
}

async function failedLogin(usernameOrEmail) {
  const started = performance.now();
  try {
    await unary(client, client.login, { usernameOrEmail, password: "a wrong password", deviceLabel: "" });
    throw new Error("login unexpectedly succeeded");
  } catch (error) {
    if (error.code !== 16) throw error; // UNAUTHENTICATED
  }
  return performance.now() - started;
}

const samples = { "wrong password": [], "unknown user": [] };
await failedLogin(`bench_user_${rounds}`); // warm-up
for (let i = 0; i < rounds; i++) {
  samples["wrong password"].push(await failedLogin(`bench_user_${i}`));
  samples["unknown user"].push(await failedLogin(`nobody_${i}`));
}

const quantile = (values, q) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(q * values.length))];
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
console.log(`failed logins over gRPC, scrypt cost 2^${config.passwordHashCost}, ${rounds} rounds each, interleaved`);
console.log("case            mean ms   p50 ms   p90 ms");
for (const [name, values] of Object.entries(samples)) {
  console.log(`${name.padEnd(15)} ${mean(values).toFixed(1).padStart(7)}  ${quantile(values, 0.5).toFixed(1).padStart(7)}  ${quantile(values, 0.9).toFixed(1).padStart(7)}`);
}
const ratio = mean(samples["unknown user"]) / mean(samples["wrong password"]);
console.log(`ratio unknown-user / wrong-password (mean): ${ratio.toFixed(3)}`);

client.close();
await app.stop();
