#!/usr/bin/env node
// The least a Node process can do to forward a gRPC call, for `npm run bench:edge`'s multi-process
// topology: Node's HTTP/2 server takes a stream, reads its body, sends it on one pooled HTTP/2
// session (mutual TLS as the gateway workload, to the mesh no-op at UPSTREAM_ADDRESS) and answers
// with the upstream's body and grpc-status. No token check, access rule, budget, validation,
// log line, metric or deadline: what is left is Node's HTTP/2 on both sides, the floor under
// the gateway's own per-call cost. Needs the gateway's TLS_* files; the port goes out as one
// JSON line on file descriptor 3. Stops on SIGTERM. Not a server to deploy.
import { createWriteStream, readFileSync } from "node:fs";
import { connect, createServer } from "node:http2";
import { connect as tlsConnect } from "node:tls";

const { UPSTREAM_ADDRESS: address, TLS_CERT_FILE: certFile, TLS_KEY_FILE: keyFile, TLS_CA_FILE: caFile, UPSTREAM_NAME: servername = "loadtest" } = process.env;
if (!address || !certFile || !keyFile || !caFile) {
  process.stderr.write("bench/edge/bare-forwarder.mjs needs UPSTREAM_ADDRESS and TLS_CERT_FILE, TLS_KEY_FILE, TLS_CA_FILE\n");
  process.exit(2);
}
const [host, port] = [address.slice(0, address.lastIndexOf(":")), Number(address.slice(address.lastIndexOf(":") + 1))];
const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile), ca: readFileSync(caFile) };
let session;
const upstream = () => {
  if (session && !session.closed && !session.destroyed) return session;
  session = connect(`https://${address}`, {
    createConnection: () => {
      const socket = tlsConnect({ host, port, servername, ALPNProtocols: ["h2"], ...tls });
      socket.setNoDelay(true);
      return socket;
    },
  });
  session.on("error", () => undefined);
  return session;
};

const server = createServer();
server.on("stream", (stream, headers) => {
  stream.on("error", () => undefined);
  const chunks = [];
  stream.on("data", (chunk) => chunks.push(chunk));
  stream.once("end", () => {
    const call = upstream().request({ ":method": "POST", ":path": headers[":path"], ":scheme": "https", "content-type": "application/grpc", te: "trailers", authorization: headers.authorization ?? "" });
    const answer = [];
    let trailers = {};
    call.on("error", () => undefined);
    call.on("trailers", (t) => (trailers = t));
    call.on("data", (chunk) => answer.push(chunk));
    call.once("close", () => {
      if (stream.destroyed) return;
      stream.respond({ ":status": 200, "content-type": "application/grpc+proto" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": String(trailers["grpc-status"] ?? "14") }));
      stream.end(Buffer.concat(answer));
    });
    call.end(Buffer.concat(chunks));
  });
});
server.listen(0, "127.0.0.1", () => {
  createWriteStream(null, { fd: 3 }).end(`${JSON.stringify({ ready: true, port: server.address().port })}\n`);
});
process.on("SIGTERM", () => {
  session?.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2_000).unref();
});
