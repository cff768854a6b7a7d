import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import type { Compression, UniversalHandler, UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import type { DescMessage } from "@bufbuild/protobuf";
import type { Logger } from "@chirp/kit";
import { REQUEST_ID_KEY } from "@chirp/kit/grpc";
import { reachedKey, requestIdKey } from "./context.js";
import { unreadableRequest } from "./interceptors.js";

/**
 * The router's handlers, each wrapped for calls it refuses before any interceptor runs, which
 * the interceptors therefore never log. For a unary call connect-node reads and decodes the
 * request first: a body that is not JSON, a content type no protocol serves, a body over
 * MAX_BODY_BYTES, and a message that is not valid protobuf are answered there. The last comes
 * back as INTERNAL ("parse binary: …"), the code connect-node also gives an answer it cannot
 * read, so the client is told the gateway failed. Those answers are complete and small by then;
 * this reads them, makes a message that is not valid protobuf INVALID_ARGUMENT, adds the request
 * id and logs the refusal with its HTTP status and code.
 *
 * It also refuses a Connect GET whose percent-encoded `message` is not UTF-8, which the router
 * would otherwise read with U+FFFD in place of the bad bytes.
 */
export function guardRoutes(routes: (router: ConnectRouter) => void, log: Logger, compressions: readonly Compression[]) {
  return (router: ConnectRouter) => {
    routes(router);
    router.handlers.forEach((handler, i) => (router.handlers[i] = guard(handler, log, compressions)));
  };
}

function guard(handler: UniversalHandler, log: Logger, compressions: readonly Compression[]): UniversalHandler {
  const method = `${handler.service.typeName}/${handler.method.name}`;
  const guarded = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    const early = req.method === "GET" ? unreadableQuery(req.url) : undefined;
    const res = early ? connectError(early) : await handler(req);
    if (req.contextValues?.get(reachedKey)) return res;
    const requestId = req.contextValues?.get(requestIdKey) ?? "";
    const { response, error } = await refusal(res, handler.method.input, compressions);
    response.header.set(REQUEST_ID_KEY, requestId);
    const reason = error ? { code: Code[error.code], reason: error.rawMessage } : {};
    log.info({ requestId, method, httpStatus: response.status, ...reason }, "rpc refused");
    return response;
  };
  const { protocolNames, service, method: desc, requestPath, allowedMethods, supportedContentType } = handler;
  return Object.assign(guarded, { protocolNames, service, method: desc, requestPath, allowedMethods, supportedContentType });
}

/** Why a Connect GET's `message` cannot be read as text, if it cannot. */
function unreadableQuery(url: string): ConnectError | undefined {
  const query = url.slice(url.indexOf("?") + 1 || url.length);
  for (const pair of query.split("&")) {
    if (!pair.startsWith("message=")) continue;
    try {
      decodeURIComponent(pair.slice("message=".length).replace(/\+/g, " "));
    } catch {
      return new ConnectError("request: the message query parameter is not valid UTF-8 (send binary messages with base64=1)", Code.InvalidArgument);
    }
  }
  return undefined;
}

type Refusal = { response: UniversalServerResponse & { header: Headers }; error: ConnectError | undefined };

/** The refusal `res` reports (code and message), and the answer to send, INVALID_ARGUMENT for a message that is not protobuf. */
async function refusal(res: UniversalServerResponse, input: DescMessage, compressions: readonly Compression[]): Promise<Refusal> {
  const header = new Headers(res.header);
  const contentType = header.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) {
    // gRPC-Web: the status is in the trailer frame, the body's last.
    const frames = splitFrames(await collect(res.body));
    const last = frames.at(-1);
    if (!last || !(last.flags & GRPC_WEB_TRAILER)) return { response: { ...res, header }, error: undefined };
    let data = last.data;
    if (last.flags & COMPRESSED) data = await decompress(data, header.get("grpc-encoding"), compressions);
    const trailer = parseTrailer(data);
    const error = grpcError(trailer);
    const answered = error && (unreadableRequest(error, input) as ConnectError);
    if (answered && answered !== error) setGrpcStatus(trailer, answered);
    frames[frames.length - 1] = { flags: GRPC_WEB_TRAILER, data: serializeTrailer(trailer) };
    return { response: { ...res, header, body: once(joinFrames(frames)) }, error: answered };
  }
  if (contentType.startsWith("application/grpc")) {
    // gRPC: the status is in the trailers (complete: the call ended before any interceptor).
    const trailer = new Headers(res.trailer);
    const error = grpcError(trailer) ?? grpcError(header);
    const answered = error && (unreadableRequest(error, input) as ConnectError);
    if (answered && answered !== error) setGrpcStatus(res.trailer ? trailer : header, answered);
    return { response: { ...res, header, trailer: res.trailer ? trailer : undefined }, error: answered };
  }
  if (res.status !== 200 && contentType.startsWith("application/json")) {
    // Connect unary: the status is the HTTP status, the code and message are the JSON body.
    let body = await collect(res.body);
    if (header.has("content-encoding")) body = await decompress(body, header.get("content-encoding"), compressions);
    const error = connectErrorOf(body);
    const answered = error && (unreadableRequest(error, input) as ConnectError);
    if (answered && answered !== error) {
      const replaced = connectError(answered);
      header.forEach((value, name) => void (name.startsWith("content-") || replaced.header.set(name, value)));
      return { response: replaced, error: answered };
    }
    header.delete("content-encoding");
    header.set("content-length", String(body.byteLength));
    return { response: { ...res, header, body: once(body) }, error };
  }
  return { response: { ...res, header }, error: undefined };
}

const COMPRESSED = 0b1;
const GRPC_WEB_TRAILER = 0b10000000;

async function collect(body: AsyncIterable<Uint8Array> | undefined): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

async function decompress(bytes: Uint8Array, name: string | null, compressions: readonly Compression[]): Promise<Uint8Array> {
  const compression = compressions.find((c) => c.name === name);
  // Only what the gateway itself compressed arrives here, so the algorithm is always known.
  if (!compression) throw new Error(`refused call answered with unknown encoding ${name}`);
  return compression.decompress(bytes, Number.MAX_SAFE_INTEGER);
}

function splitFrames(body: Uint8Array): { flags: number; data: Uint8Array }[] {
  const view = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const frames: { flags: number; data: Uint8Array }[] = [];
  for (let at = 0; at + 5 <= view.byteLength; ) {
    const length = view.readUInt32BE(at + 1);
    frames.push({ flags: view[at]!, data: view.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return frames;
}

function joinFrames(frames: { flags: number; data: Uint8Array }[]): Uint8Array {
  return Buffer.concat(
    frames.flatMap(({ flags, data }) => {
      const head = Buffer.alloc(5);
      head.writeUInt8(flags, 0);
      head.writeUInt32BE(data.byteLength, 1);
      return [head, data];
    }),
  );
}

/** A gRPC-Web trailer frame: header lines, CRLF-separated. */
function parseTrailer(data: Uint8Array): Headers {
  const trailer = new Headers();
  for (const line of Buffer.from(data).toString("latin1").split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) trailer.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  return trailer;
}

function serializeTrailer(trailer: Headers): Uint8Array {
  let text = "";
  trailer.forEach((value, key) => (text += `${key}: ${value}\r\n`));
  return Buffer.from(text, "latin1");
}

function grpcError(fields: Headers): ConnectError | undefined {
  const status = Number(fields.get("grpc-status") ?? "0");
  if (!Number.isInteger(status) || status <= 0 || status > 16) return undefined;
  let message = fields.get("grpc-message") ?? "";
  try {
    message = decodeURIComponent(message);
  } catch {
    // Left as sent.
  }
  return new ConnectError(message, status as Code);
}

function setGrpcStatus(fields: Headers, error: ConnectError): void {
  fields.set("grpc-status", String(error.code));
  fields.set("grpc-message", encodeURIComponent(error.rawMessage));
  // Details describe the error replaced; none are sent with the new one.
  fields.delete("grpc-status-details-bin");
}

/** Connect's error codes as they are spelled in JSON ("invalid_argument"), by Code. */
const CONNECT_CODE_NAMES = new Map<string, Code>(
  Object.entries(Code)
    .filter((entry): entry is [string, Code] => typeof entry[1] === "number")
    .map(([name, code]) => [name.replace(/(?<=[a-z])(?=[A-Z])/g, "_").toLowerCase(), code]),
);
/** The HTTP status of each code in the Connect protocol. */
const HTTP_STATUS: Partial<Record<Code, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

function connectErrorOf(body: Uint8Array): ConnectError | undefined {
  try {
    const json = JSON.parse(Buffer.from(body).toString("utf8")) as { code?: unknown; message?: unknown };
    const code = typeof json.code === "string" ? CONNECT_CODE_NAMES.get(json.code) : undefined;
    return code === undefined ? undefined : new ConnectError(typeof json.message === "string" ? json.message : "", code);
  } catch {
    return undefined;
  }
}

/** A Connect unary error answer. */
function connectError(error: ConnectError): UniversalServerResponse & { header: Headers } {
  const json: { code: string; message?: string } = { code: [...CONNECT_CODE_NAMES].find(([, code]) => code === error.code)![0] };
  if (error.rawMessage) json.message = error.rawMessage;
  const body = Buffer.from(JSON.stringify(json));
  return {
    status: HTTP_STATUS[error.code] ?? 500,
    header: new Headers({ "content-type": "application/json", "content-length": String(body.byteLength) }),
    body: once(body),
  };
}
