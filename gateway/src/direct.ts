import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { brotliDecompress, gunzip } from "node:zlib";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import { sensitiveHeaders, type ServerHttp2Stream } from "node:http2";
import { fromBinary, fromJsonString, toBinary, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJson, parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { findTrailerError, parseTimeout as parseGrpcTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { isDomainError, type Logger, type TokenVerifier } from "@chirp/kit";
import { acceptedRequestId, AUTHORIZATION_KEY, CLIENT_ADDRESS_KEY, MAX_ATTEMPTS, REQUEST_ID_KEY, retriesSafely } from "@chirp/kit/grpc";
import { failed, kitMetrics, SpanKind, startChildSpan, traceHeaders, type Tracing } from "@chirp/kit/telemetry";
import { ADMIN_ROLE, isServed, ruleOf, type ServedRule } from "./access.js";
import { binaryToJson } from "./binary-to-json.js";
import { Cancellation, UpstreamUnreachable, type ByteUpstream } from "./byte-upstream.js";
import type { TrustedProxies } from "./client-address.js";
import type { Caller } from "./context.js";
import type { Handler } from "./http.js";
import type { Limiter } from "./rate-limit.js";
import { COOKIE_MODE_HEADER } from "./refresh-cookie.js";
import type { Revocations } from "./revocations.js";

/**
 * The verified-then-forwarded path for unary calls (gRPC, gRPC-Web, and Connect with
 * `application/proto` or JSON): the token is verified, the access rule and the budget applied
 * and the request read as a valid message exactly as on the Connect router's path, and then the
 * message's bytes go to the service over a pooled HTTP/2 session (byte-upstream.ts) and its
 * answer's bytes, status and retry hint come back, in the client's framing. Binary answers are
 * never decoded; JSON ones are written as protobuf's JSON mapping straight from their bytes. Neither
 * connect-node's server nor its client runs: that machinery cost about ten times a grpc-js hop
 * per call (bench/RESULTS.md, `npm run bench:edge`).
 *
 * What it does not take is left to the router, unchanged: Connect GET, streams, methods without a
 * rule or internal ones, rules that read the request (CountTweets' admin check), calls asking for
 * the refresh cookie, encodings it does not know, gRPC over HTTP/1.1, gRPC-Web or gRPC with JSON,
 * and a Connect-Protocol-Version it does not know.
 */

/** `connect` is Connect unary in binary protobuf, `json` Connect unary in JSON. */
type Protocol = "grpc" | "grpc-web" | "connect" | "json";
const isConnect = (protocol: Protocol) => protocol === "connect" || protocol === "json";
/** Connect's unary JSON content types, as the router matches them. */
const JSON_TYPE = /^application\/json(?:; ?charset=utf-?8)?$/i;
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** JSON as the router reads it (app.ts STRICT_JSON): a key the message does not have is refused. */
const JSON_READ = { ignoreUnknownFields: false };

interface Route {
  method: DescMethod;
  service: DescService;
  rule: ServedRule;
  upstream: ByteUpstream;
  name: string;
  /** Reads may be sent again to another replica; other calls only when nothing of them was sent. */
  repeatable: boolean;
  /** The call-duration series of this route, by code. */
  series: Map<string, { observe(seconds: number): void }>;
}

export interface DirectSettings {
  log: Logger;
  verifier: TokenVerifier;
  revocations: Revocations;
  limiters: { writes: Limiter; reads: Limiter };
  proxies: TrustedProxies;
  tracing: Tracing;
  compressions: readonly Compression[];
  maxBodyBytes: number;
  compressMinBytes: number;
  defaultTimeoutMs: number;
}

const GRPC_TYPES = new Map<string, Protocol>([
  ["application/grpc", "grpc"],
  ["application/grpc+proto", "grpc"],
  ["application/grpc-web", "grpc-web"],
  ["application/grpc-web+proto", "grpc-web"],
  ["application/proto", "connect"],
]);
/** The most a client may ask for (connect-node's own bound): about 115 days. */
const MAX_TIMEOUT_MS = 2 ** 32 - 1;
const HEADER_GETTER = {
  keys: (headers: IncomingHttpHeaders) => Object.keys(headers),
  get: (headers: IncomingHttpHeaders, key: string) => headers[key] as string | string[] | undefined,
};
/**
 * Headers whose values change with every call: sent as never-indexed literals, so that they do
 * not churn HPACK's 4 KiB dynamic table, where each would push out the entries that do repeat
 * (a caller's token, the path), which then went out whole, Huffman-coded, call after call.
 */
const PER_CALL_HEADERS = ["grpc-timeout", REQUEST_ID_KEY];
const codeName = (code: Code) => Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

/** The routes the direct path takes: every served unary method of every upstream, by request path. */
export function directRoutes(upstreams: { service: DescService; bytes: ByteUpstream }[]): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const { service, bytes } of upstreams) {
    for (const method of service.methods) {
      const rule = ruleOf(method);
      if (method.methodKind !== "unary" || !isServed(rule)) continue;
      if (rule.who === "signed-in" && rule.adminFor) continue;
      routes.set(`/${service.typeName}/${method.name}`, {
        method,
        service,
        rule,
        upstream: bytes,
        name: `${service.typeName}/${method.name}`,
        repeatable: retriesSafely(method.idempotency),
        series: new Map(),
      });
    }
  }
  return routes;
}

/** What the direct path takes of a request: its route, protocol and request encoding; undefined leaves it to the router. */
function admit(routes: Map<string, Route>, compressions: readonly Compression[], method: string | undefined, path: string | undefined, headers: IncomingHttpHeaders, http2: boolean) {
  if (method !== "POST") return undefined;
  const route = routes.get(path ?? "");
  if (!route) return undefined;
  const contentType = headers["content-type"] ?? "";
  const protocol = GRPC_TYPES.get(contentType.toLowerCase()) ?? (JSON_TYPE.test(contentType) ? "json" : undefined);
  if (!protocol || headers[COOKIE_MODE_HEADER] !== undefined) return undefined;
  if (protocol === "grpc" && !http2) return undefined;
  // Encodings the router knows how to refuse; only known ones are taken here.
  const name = isConnect(protocol) ? headers["content-encoding"] : headers["grpc-encoding"];
  const encoding = name === undefined || name === "identity" ? undefined : compressions.find((c) => c.name === name);
  if (name !== undefined && name !== "identity" && !encoding) return undefined;
  if (isConnect(protocol) && headers["connect-protocol-version"] !== undefined && headers["connect-protocol-version"] !== "1") return undefined;
  return { route, protocol, encoding };
}

export interface DirectPath {
  /** For the HTTP/1.1 server's (and any compatibility) handler chain: what it does not take goes to `next`. */
  handler(next: Handler): Handler;
  /**
   * For the HTTP/2 server's streams, before the compatibility layer makes request and response
   * objects of them: true when the direct path took the stream.
   */
  stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean;
}

/** The direct path: `cors` gives the headers a request's Origin earns (http.ts), as withCors adds them on the router's path. */
export function directPath(routes: Map<string, Route>, settings: DirectSettings, cors: (origin: string | undefined) => OutgoingHttpHeaders | undefined): DirectPath {
  const durations = kitMetrics().rpcDuration;
  return {
    handler: (next) => (req, res) => {
      const admitted = admit(routes, settings.compressions, req.method, req.url, req.headers, req.httpVersionMajor === 2);
      if (!admitted) return next(req, res);
      void new Call(admitted.route, admitted.protocol, compatExchange(req, res), settings, admitted.encoding, durations).run();
    },
    stream: (stream, headers) => {
      const admitted = admit(routes, settings.compressions, headers[":method"] as string | undefined, headers[":path"] as string | undefined, headers, true);
      if (!admitted) return false;
      const origin = typeof headers.origin === "string" ? headers.origin : undefined;
      void new Call(admitted.route, admitted.protocol, streamExchange(stream, headers, cors(origin)), settings, admitted.encoding, durations).run();
      return true;
    },
  };
}

type Request = Parameters<Handler>[0];
type Response = Parameters<Handler>[1];

/** A request and its answer, whichever server it came on. */
interface Exchange {
  headers: IncomingHttpHeaders;
  remoteAddress: string | undefined;
  /** The request body's chunks. */
  body: NodeJS.ReadableStream & { pause(): unknown };
  /** Runs `gone` when the exchange closes (the client left, or the answer was sent). */
  onClose(gone: () => void): void;
  /** Whether an answer has begun. */
  answered(): boolean;
  /** The whole answer at once; `trailers` (HTTP/2 only) follow the body. */
  answer(status: number, headers: OutgoingHttpHeaders, body: Buffer | undefined, trailers?: OutgoingHttpHeaders): void;
  destroy(): void;
}

function compatExchange(req: Request, res: Response): Exchange {
  return {
    headers: req.headers,
    remoteAddress: req.socket?.remoteAddress,
    body: req as unknown as Exchange["body"],
    onClose: (gone) => void res.once("close", gone),
    answered: () => res.headersSent || res.writableEnded || res.destroyed,
    answer: (status, headers, body, trailers) => {
      if (trailers) (res as unknown as { addTrailers(t: OutgoingHttpHeaders): void }).addTrailers(trailers);
      res.writeHead(status, headers);
      if (body) res.end(body);
      else res.end();
    },
    destroy: () => void res.destroy(),
  };
}

function streamExchange(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, cors: OutgoingHttpHeaders | undefined): Exchange {
  // A reset or a lost connection is an error of the stream; the call hears of it as the stream's close.
  stream.on("error", () => undefined);
  return {
    headers,
    remoteAddress: stream.session?.socket?.remoteAddress,
    body: stream,
    onClose: (gone) => void stream.once("close", gone),
    answered: () => stream.headersSent || stream.destroyed || stream.closed,
    answer: (status, answerHeaders, body, trailers) => {
      const head: OutgoingHttpHeaders = cors ? { ...cors, ...answerHeaders, ":status": status } : { ...answerHeaders, ":status": status };
      if (body === undefined && !trailers) {
        stream.respond(head, { endStream: true });
        return;
      }
      stream.respond(head, { waitForTrailers: trailers !== undefined });
      if (trailers) stream.once("wantTrailers", () => stream.sendTrailers(trailers));
      stream.end(body);
    },
    destroy: () => void stream.destroy(),
  };
}

/** One call on the direct path, from the request's headers to the last byte of the answer. */
class Call {
  private readonly started = performance.now();
  private readonly requestId: string;
  private readonly cancel = new Cancellation();
  private finished = false;

  constructor(
    private readonly route: Route,
    private readonly protocol: Protocol,
    private readonly exchange: Exchange,
    private readonly settings: DirectSettings,
    private readonly encoding: Compression | undefined,
    private readonly durations: ReturnType<typeof kitMetrics>["rpcDuration"],
  ) {
    this.requestId = acceptedRequestId(exchange.headers[REQUEST_ID_KEY]) ?? randomUUID();
  }

  async run(): Promise<void> {
    // The client leaving (a reset stream, a closed connection) cancels the upstream call.
    this.exchange.onClose(() => {
      if (!this.finished) this.cancel.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    });
    const { tracing } = this.settings;
    if (!tracing.enabled) {
      await this.serve();
      return;
    }
    const attributes = { "rpc.system": "connect", "rpc.method": this.route.name, "chirp.content_type": String(this.exchange.headers["content-type"] ?? "").slice(0, 64) };
    await tracing
      .entry(this.route.name, SpanKind.SERVER, { source: this.exchange.headers, getter: HEADER_GETTER as never }, attributes, async (span) => {
        const code = await this.serve();
        if (code !== Code[Code.Unknown] && span && code !== "OK") span.setAttribute("rpc.connect.code", code);
      })
      .catch(() => undefined);
  }

  /** Serves the call; resolves with the code it ended with, as the metrics name it. */
  private async serve(): Promise<string> {
    const { route, settings } = this;
    let timer: NodeJS.Timeout | undefined;
    const expireIn = (ms: number) => (timer = setTimeout(() => this.cancel.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded)), ms));
    try {
      // A client's deadline runs from the call's arrival; UPSTREAM_TIMEOUT_MS, for calls that set
      // none, from when the call is forwarded, as on the router's path (a shared budget waiting on
      // NATS does not eat the service's time).
      const clientTimeoutMs = this.clientTimeout();
      let deadline = clientTimeoutMs === undefined ? Infinity : Date.now() + clientTimeoutMs;
      if (clientTimeoutMs !== undefined) expireIn(clientTimeoutMs);
      try {
        const caller = this.authenticate();
        // Budgets answer at once unless a shared one is renewing: no promise to wait for then.
        const spending = this.spend(caller);
        if (spending) await spending;
        const { request, message } = this.check(await this.readMessage());
        if (clientTimeoutMs === undefined) {
          deadline = Date.now() + settings.defaultTimeoutMs;
          expireIn(settings.defaultTimeoutMs);
        }
        const timeoutMs = deadline - Date.now();
        if (timeoutMs <= 0) throw new ConnectError("the operation timed out", Code.DeadlineExceeded);
        const envelope = await this.forward(caller, message, request, timeoutMs, deadline);
        const answering = this.answer(envelope);
        if (answering) await answering;
      } finally {
        clearTimeout(timer);
      }
      this.finished = true;
      this.record("OK");
      settings.log.info({ requestId: this.requestId, method: route.name, path: "direct", code: "OK", durationMs: this.elapsed() }, "rpc finished");
      return "OK";
    } catch (thrown) {
      const error = this.cancel.aborted && !(thrown instanceof ConnectError) ? this.cancel.reason : thrown;
      return this.fail(error);
    }
  }

  private elapsed(): number {
    return Math.round((performance.now() - this.started) * 100) / 100;
  }

  private record(code: string): void {
    // Each route keeps its histogram series by code: prom-client hashes a labels object on every observe.
    let series = this.route.series.get(code);
    if (!series) this.route.series.set(code, (series = this.durations.labels({ service: "gateway", method: this.route.name, code })));
    series.observe((performance.now() - this.started) / 1000);
  }

  /** The client's deadline in ms, if it set one; a malformed one is refused as the router refuses it. */
  private clientTimeout(): number | undefined {
    const header = isConnect(this.protocol) ? this.exchange.headers["connect-timeout-ms"] : this.exchange.headers["grpc-timeout"];
    if (header === undefined) return undefined;
    const parsed = isConnect(this.protocol) ? parseConnectTimeout(String(header), MAX_TIMEOUT_MS) : parseGrpcTimeout(String(header), MAX_TIMEOUT_MS);
    if (parsed.error) throw parsed.error;
    return parsed.timeoutMs;
  }

  /** The verified caller, as the authentication interceptor finds it; undefined for public RPCs. */
  private authenticate(): Caller | undefined {
    const { rule } = this.route;
    if (rule.who === "public") return undefined;
    const header = this.exchange.headers.authorization;
    const token = /^Bearer\s+(\S+)$/i.exec(typeof header === "string" ? header : "")?.[1];
    if (!token) throw new ConnectError("authorization: a bearer access token is required", Code.Unauthenticated);
    let caller: Caller;
    try {
      const claims = this.settings.verifier.verify(token);
      if (this.settings.revocations.refuses(claims)) throw new ConnectError("authorization: the session has ended; sign in again", Code.Unauthenticated);
      caller = { id: claims.sub, roles: claims.roles, token, ...(claims.sid !== undefined && { sessionId: claims.sid }) };
    } catch (error) {
      if (isDomainError(error)) throw new ConnectError(`authorization: ${error.message}`, Code.Unauthenticated);
      throw error;
    }
    if (rule.who === "admin" && !caller.roles.includes(ADMIN_ROLE)) throw new ConnectError(rule.refusal, Code.PermissionDenied);
    return caller;
  }

  private clientAddress(): string {
    return this.settings.proxies.clientAddress(this.exchange.remoteAddress, this.exchange.headers["x-forwarded-for"]);
  }

  /** A token from the budget the rule names, as the rate-limit interceptor takes it. */
  private spend(caller: Caller | undefined): Promise<void> | undefined {
    const { budget } = this.route.rule;
    const key = budget === "entry" || !caller ? `address:${this.clientAddress()}` : `user:${caller.id}`;
    const taken = (budget === "read" ? this.settings.limiters.reads : this.settings.limiters.writes).take(key);
    if (typeof taken !== "number") return taken.then((waitMs) => this.refuseOver(waitMs));
    this.refuseOver(taken);
    return undefined;
  }

  private refuseOver(waitMs: number): void {
    if (waitMs <= 0) return;
    const { budget } = this.route.rule;
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    throw new ConnectError(`too many ${budget === "read" ? "reads" : "writes"}: retry after ${seconds} s`, Code.ResourceExhausted, { "retry-after": String(seconds) });
  }

  /** The request's one message, unframed and decompressed, within MAX_BODY_BYTES. */
  private async readMessage(): Promise<Uint8Array> {
    const { maxBodyBytes } = this.settings;
    const framed = !isConnect(this.protocol);
    // The envelope's 5 bytes, and what compression could not shrink below the limit.
    const limit = framed ? maxBodyBytes + 5 : maxBodyBytes;
    const body = await readBody(this.exchange.body, limit, this.cancel);
    let message: Uint8Array;
    let compressed: boolean;
    if (framed) {
      if (body.length < 5) throw new ConnectError("protocol error: missing message", Code.InvalidArgument);
      const length = body.readUInt32BE(1);
      if (body.length < 5 + length) throw new ConnectError("protocol error: promised large message, received less", Code.InvalidArgument);
      if (body.length > 5 + length) throw new ConnectError("protocol error: received extra input message for unary method", Code.InvalidArgument);
      compressed = (body[0]! & 1) === 1;
      message = body.subarray(5);
    } else {
      compressed = this.encoding !== undefined;
      message = body;
    }
    if (compressed) {
      if (!this.encoding) throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.InvalidArgument);
      message = await decompress(this.encoding.name, message, maxBodyBytes);
    }
    return message;
  }

  /**
   * The request as a message and as the bytes to forward, read exactly as the router reads it:
   * bytes that are not one, text that is not UTF-8 and JSON that does not fit the message are
   * INVALID_ARGUMENT.
   */
  private check(body: Uint8Array): { request: unknown; message: Uint8Array } {
    const input = this.route.method.input;
    if (this.protocol === "json") {
      let text: string;
      try {
        text = strictUtf8.decode(body);
      } catch {
        throw new ConnectError("request: the body is not valid UTF-8", Code.InvalidArgument);
      }
      let request: Message;
      try {
        request = fromJsonString(input, text, JSON_READ);
      } catch (error) {
        throw ConnectError.from(error, Code.InvalidArgument);
      }
      return { request, message: toBinary(input, request) };
    }
    try {
      return { request: fromBinary(input, body, { readUnknownFields: false }), message: body };
    } catch (error) {
      throw new ConnectError(`request: not a valid ${input.typeName}: ${String((error as Error).message).slice(0, 200)}`, Code.InvalidArgument);
    }
  }

  /** Sends the request's message to the service; resolves with its answer's envelope (prefix and message), or throws its error. */
  private async forward(caller: Caller | undefined, message: Uint8Array, request: unknown, timeoutMs: number, deadline: number): Promise<Buffer> {
    const { route } = this;
    const headers: OutgoingHttpHeaders = {
      ":method": "POST",
      ":path": `/${route.name}`,
      ":scheme": route.upstream.scheme,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": grpcTimeout(timeoutMs),
      [REQUEST_ID_KEY]: this.requestId,
      [CLIENT_ADDRESS_KEY]: this.clientAddress(),
    };
    // The service verifies the caller's token again: none believes a header naming a caller.
    if (caller) headers[AUTHORIZATION_KEY] = `Bearer ${caller.token}`;
    (headers as Record<symbol, unknown>)[sensitiveHeaders] = PER_CALL_HEADERS;
    const child = this.settings.tracing.enabled ? startChildSpan(route.name, SpanKind.CLIENT, { "rpc.system": "grpc", "rpc.method": route.name }) : undefined;
    if (child) Object.assign(headers, traceHeaders(child.context));
    const envelope = Buffer.allocUnsafe(5 + message.byteLength);
    envelope[0] = 0;
    envelope.writeUInt32BE(message.byteLength, 1);
    envelope.set(message, 5);
    // A write carrying an idempotency key is answered once however often it is sent.
    const key = (request as { idempotencyKey?: unknown }).idempotencyKey;
    const repeatable = route.repeatable || (typeof key === "string" && key !== "");
    try {
      const answer = await route.upstream.call(headers, envelope, this.cancel, deadline, repeatable, MAX_ATTEMPTS);
      const status = String(answer.trailers["grpc-status"] ?? answer.headers["grpc-status"] ?? "");
      if (status !== "0") throw upstreamError(answer.headers, answer.trailers);
      child?.span.end();
      return envelopeOf(answer.body);
    } catch (error) {
      if (child) {
        failed(child.span, error);
        child.span.end();
      }
      if (error instanceof UpstreamUnreachable) throw new ConnectError(`${route.service.typeName} is unavailable; retry shortly`, Code.Unavailable);
      throw error;
    }
  }

  /**
   * The answer's message, in the client's framing, compressed when it is large and the client
   * accepts it: a promise only then, so that most answers leave in the same turn.
   */
  private answer(envelope: Buffer): Promise<void> | undefined {
    const { exchange, protocol } = this;
    const answer = envelope.subarray(5);
    // JSON clients get the answer written as protobuf's JSON mapping, as the router writes it, in one pass over its bytes.
    const message = protocol === "json" ? Buffer.from(binaryToJson(this.route.method.output, answer)) : answer;
    const accepted = isConnect(protocol) ? exchange.headers["accept-encoding"] : exchange.headers["grpc-accept-encoding"];
    const compression = message.byteLength >= this.settings.compressMinBytes ? this.accepted(accepted) : undefined;
    // The gateway's own levels (compression.ts): in place up to 64 KiB, on zlib's thread pool above.
    if (compression) return compression.compress(message).then((packed) => this.send(asBuffer(packed), compression));
    this.send(message, undefined, envelope);
    return undefined;
  }

  /**
   * The answer in the client's framing, its body compressed or not. A gRPC client of an
   * uncompressed answer takes the upstream's `envelope` as it came: the same prefix and message.
   */
  private send(body: Buffer, compression: Compression | undefined, envelope?: Buffer): void {
    const { exchange, protocol } = this;
    if (isConnect(protocol)) {
      const head: OutgoingHttpHeaders = { "content-type": protocol === "json" ? "application/json" : "application/proto", "content-length": body.byteLength, [REQUEST_ID_KEY]: this.requestId };
      if (compression) head["content-encoding"] = compression.name;
      exchange.answer(200, head, body);
      return;
    }
    const head: OutgoingHttpHeaders = { "content-type": protocol === "grpc" ? "application/grpc+proto" : "application/grpc-web+proto", [REQUEST_ID_KEY]: this.requestId };
    if (compression) head["grpc-encoding"] = compression.name;
    if (protocol === "grpc" && !compression && envelope) return exchange.answer(200, head, envelope, GRPC_OK_TRAILERS);
    const framed = Buffer.allocUnsafe(5 + body.byteLength + (protocol === "grpc" ? 0 : GRPC_WEB_OK.byteLength));
    framed[0] = compression ? 1 : 0;
    framed.writeUInt32BE(body.byteLength, 1);
    framed.set(body, 5);
    if (protocol === "grpc") {
      exchange.answer(200, head, framed, GRPC_OK_TRAILERS);
    } else {
      framed.set(GRPC_WEB_OK, 5 + body.byteLength);
      exchange.answer(200, head, framed);
    }
  }

  /** Of the client's accepted encodings, the first it lists that the gateway has. */
  private accepted(header: string | string[] | undefined): Compression | undefined {
    if (header === undefined) return undefined;
    for (const name of String(header).split(",")) {
      const found = this.settings.compressions.find((c) => c.name === name.trim().split(";")[0]);
      if (found) return found;
    }
    return undefined;
  }

  /** Answers an error in the client's protocol, logs it once and counts it, as observe and the router do. */
  private fail(thrown: unknown): string {
    this.finished = true;
    const { settings, route } = this;
    const fields = { requestId: this.requestId, method: route.name, path: "direct", durationMs: this.elapsed() };
    // The HTTP status the refusal is answered with, as the router's refusals are logged.
    const httpStatus = (code: Code) => (isConnect(this.protocol) ? codeToHttpStatus(code) : 200);
    let error: ConnectError;
    if (thrown instanceof ConnectError) {
      error = new ConnectError(thrown.rawMessage, thrown.code, retryHeaders(thrown));
      settings.log.info({ ...fields, code: Code[error.code], httpStatus: httpStatus(error.code) }, "rpc failed");
    } else {
      error = new ConnectError(`internal error (request id ${this.requestId})`, Code.Internal);
      settings.log.error({ ...fields, err: thrown, httpStatus: httpStatus(error.code) }, "rpc failed unexpectedly");
    }
    this.record(codeName(error.code));
    if (!this.exchange.answered()) this.answerError(error);
    else this.exchange.destroy();
    return codeName(error.code);
  }

  private answerError(error: ConnectError): void {
    const { exchange, protocol } = this;
    const retryAfter = error.metadata.get("retry-after");
    if (isConnect(protocol)) {
      const body = Buffer.from(JSON.stringify(errorToJson(error, undefined)));
      const head: OutgoingHttpHeaders = { "content-type": "application/json", "content-length": body.byteLength, [REQUEST_ID_KEY]: this.requestId };
      if (retryAfter) head["retry-after"] = retryAfter;
      exchange.answer(codeToHttpStatus(error.code), head, body);
      return;
    }
    const status = setTrailerStatus(new Headers(), error);
    if (retryAfter) status.set("retry-after", retryAfter);
    if (protocol === "grpc") {
      // Trailers-only: the status in the one HEADERS frame.
      const head: OutgoingHttpHeaders = { "content-type": "application/grpc+proto", [REQUEST_ID_KEY]: this.requestId };
      status.forEach((value, name) => (head[name] = value));
      exchange.answer(200, head, undefined);
      return;
    }
    // gRPC-Web: the retry hint travels in the trailer frame with the status, as the router sends it.
    const head: OutgoingHttpHeaders = { "content-type": "application/grpc-web+proto", [REQUEST_ID_KEY]: this.requestId };
    let text = "";
    status.forEach((value, name) => (text += `${name}: ${value}\r\n`));
    const trailer = Buffer.from(text, "latin1");
    const frame = Buffer.allocUnsafe(5);
    frame[0] = 0x80;
    frame.writeUInt32BE(trailer.byteLength, 1);
    exchange.answer(200, head, Buffer.concat([frame, trailer]));
  }
}

/**
 * A deadline as gRPC writes it: whole units, at most 8 digits. A client's timeout may come in
 * microseconds or nanoseconds, so it is rounded up to the millisecond (a fraction would make the
 * header invalid), and a very long one is said in seconds.
 */
export function grpcTimeout(ms: number): string {
  const whole = Math.max(1, Math.ceil(ms));
  return whole <= 99_999_999 ? `${whole}m` : `${Math.min(99_999_999, Math.ceil(whole / 1000))}S`;
}

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

const GRPC_OK_TRAILERS: OutgoingHttpHeaders = { "grpc-status": "0" };

/** gRPC-Web's trailer frame of a call that succeeded. */
const GRPC_WEB_OK = (() => {
  const text = Buffer.from("grpc-status: 0\r\n", "latin1");
  const frame = Buffer.allocUnsafe(5 + text.byteLength);
  frame[0] = 0x80;
  frame.writeUInt32BE(text.byteLength, 1);
  text.copy(frame, 5);
  return frame;
})();

function retryHeaders(error: ConnectError): Record<string, string> {
  const retryAfter = error.metadata.get("retry-after");
  return retryAfter ? { "retry-after": retryAfter } : {};
}

/** The error an upstream answered with: its code and message, and its retry hint (details and other metadata stay behind, as on the router's path). */
function upstreamError(headers: IncomingHttpHeaders, trailers: IncomingHttpHeaders): ConnectError {
  const fields = new Headers();
  for (const source of [headers, trailers]) {
    for (const [name, value] of Object.entries(source)) {
      if (name.startsWith(":") || value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [String(value)]) fields.append(name, v);
    }
  }
  const status = headers[":status"];
  if (status !== undefined && Number(status) !== 200 && !fields.has("grpc-status")) {
    return new ConnectError(`upstream answered HTTP ${String(status)}`, Code.Unavailable);
  }
  const found = findTrailerError(fields) ?? new ConnectError("protocol error: the upstream answered without a status", Code.Internal);
  const retryAfter = fields.get("retry-after");
  return new ConnectError(found.rawMessage, found.code, retryAfter ? { "retry-after": retryAfter } : {});
}

/** An upstream's unary answer, checked to be one uncompressed message in its 5-byte envelope. */
function envelopeOf(body: Buffer): Buffer {
  if (body.byteLength < 5) throw new Error(`the upstream's answer holds no message (${body.byteLength} bytes)`);
  if (body[0]! & 1) throw new Error("the upstream compressed its answer, which the gateway never asks for");
  const length = body.readUInt32BE(1);
  if (body.byteLength !== 5 + length) throw new Error(`the upstream's answer is ${body.byteLength} bytes for a message of ${length}`);
  return body;
}

const gunzipAsync = promisify(gunzip);
const brotliDecompressAsync = promisify(brotliDecompress);

/** A request message unpacked, never past `maxBytes`: a small body that unpacks huge is RESOURCE_EXHAUSTED. */
async function decompress(name: string, bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  if (bytes.byteLength === 0) return bytes;
  try {
    return await (name === "br" ? brotliDecompressAsync(bytes, { maxOutputLength: maxBytes }) : gunzipAsync(bytes, { maxOutputLength: maxBytes }));
  } catch (error) {
    if ((error as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new ConnectError(`message is larger than configured readMaxBytes ${maxBytes} after decompression`, Code.ResourceExhausted);
    }
    throw new ConnectError("request: the message could not be decompressed", Code.InvalidArgument);
  }
}

/** The request body, whole, or RESOURCE_EXHAUSTED once it passes `limit` bytes (the rest is not read). */
function readBody(req: Exchange["body"], limit: number, signal: Cancellation): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let unlisten = () => undefined as void;
    const finish = (error?: unknown) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", finish);
      unlisten();
      if (error) reject(error);
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > limit) {
        req.pause();
        return finish(new ConnectError(`message size is larger than configured readMaxBytes ${limit}`, Code.ResourceExhausted));
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish();
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", finish);
    if (signal.aborted) return finish(signal.reason);
    unlisten = signal.listen(() => finish(signal.reason));
  });
}
