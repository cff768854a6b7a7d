import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { MAX_ATTEMPTS, retriesSafely, type Lookup } from "@chirp/kit/grpc";
import type { Logger } from "@chirp/kit";
import { Rotation } from "./rotation.js";

/** Errors that say the call was never handled: no connection, or a stream refused (HTTP/2 promises it was not processed). */
const NEVER_SENT = new Set(["ECONNREFUSED", "ERR_HTTP2_GOAWAY_SESSION", "ERR_HTTP2_INVALID_SESSION"]);
const NETWORK_ERRORS = new Set([...NEVER_SENT, "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "EPIPE", "ERR_HTTP2_STREAM_ERROR"]);

function causeOf(error: unknown): { code?: unknown; message?: unknown } | undefined {
  return (error instanceof ConnectError ? error.cause : error) as { code?: unknown; message?: unknown } | undefined;
}

/** The replica could not be reached: the socket failed (connect-node reports that as INTERNAL with the cause inside). */
function unreachable(error: unknown): boolean {
  const code = causeOf(error)?.code;
  return typeof code === "string" && NETWORK_ERRORS.has(code);
}

/** The call was refused before it was handled: safe to send to another replica, whatever it does. */
function neverSent(error: unknown): boolean {
  const cause = causeOf(error);
  if (typeof cause?.code === "string" && NEVER_SENT.has(cause.code)) return true;
  return cause?.code === "ERR_HTTP2_STREAM_ERROR" && String(cause.message).includes("NGHTTP2_REFUSED_STREAM");
}

interface Member {
  readonly key: string;
  readonly transport: Transport;
  downUntil: number;
}

export interface BalancedTransportOptions {
  /** One replica or many (`resolveReplicas`). */
  address: string;
  /** A transport to one replica, at `http://host:port` (`https://` when `secure`). */
  transportTo(baseUrl: string): Transport;
  /** Whether the replicas speak TLS (the mesh's mutual TLS: see the transports `transportTo` makes). */
  secure?: boolean;
  log: Logger;
  /** Replaces DNS (tests). */
  lookup?: Lookup;
  resolveEveryMs?: number;
}

/**
 * A Connect transport over every replica of a service: each call goes to the next replica in
 * turn, replicas are looked up again every few seconds (a headless Service's name lists its ready
 * pods), and one that cannot be reached leaves the rotation for a moment. A unary call is sent
 * again, to another replica and within its deadline, when its method has no side effects, when it
 * carries an idempotency key (a repeated write is then answered with the first one's result), or
 * when its connection was refused (nothing of it was sent). Streams are not retried.
 */
export class BalancedTransport implements Transport {
  private readonly rotation: Rotation<Member>;
  private readonly ready: Promise<void>;

  constructor(private readonly options: BalancedTransportOptions) {
    const { address, log, lookup, resolveEveryMs } = options;
    const scheme = options.secure ? "https" : "http";
    this.rotation = new Rotation<Member>({ address, log, lookup, resolveEveryMs, join: (key) => ({ key, transport: options.transportTo(`${scheme}://${key}`), downUntil: 0 }) });
    this.ready = this.rotation.ready;
  }

  /** The replicas in the rotation now, for tests and diagnostics. */
  replicas(): string[] {
    return this.rotation.keys();
  }

  close(): void {
    this.rotation.close();
  }

  private pick(exclude: Set<Member>): Member {
    const member = this.rotation.pick(exclude);
    if (!member) throw new ConnectError(`no replica of ${this.options.address} is known`, Code.Unavailable);
    return member;
  }

  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: Parameters<Transport["unary"]>[3],
    input: MessageInitShape<I>,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse<I, O>> {
    await this.ready;
    const started = Date.now();
    const repeatable = retriesSafely(method.idempotency) || hasIdempotencyKey(input);
    const tried = new Set<Member>();
    for (let attempt = 1; ; attempt++) {
      const member = this.pick(tried);
      tried.add(member);
      const left = timeoutMs === undefined ? undefined : timeoutMs - (Date.now() - started);
      try {
        return await member.transport.unary(method, signal, left, header, input, contextValues);
      } catch (error) {
        if (!unreachable(error)) throw error;
        this.rotation.down(member);
        const timeLeft = timeoutMs === undefined || timeoutMs - (Date.now() - started) > 0;
        if (attempt >= MAX_ATTEMPTS || !timeLeft || signal?.aborted || !(repeatable || neverSent(error))) throw error;
      }
    }
  }

  async stream<I extends DescMessage, O extends DescMessage>(
    method: DescMethodStreaming<I, O>,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: Parameters<Transport["unary"]>[3],
    input: AsyncIterable<MessageInitShape<I>>,
    contextValues?: ContextValues,
  ): Promise<StreamResponse<I, O>> {
    await this.ready;
    const member = this.pick(new Set());
    try {
      return await member.transport.stream(method, signal, timeoutMs, header, input, contextValues);
    } catch (error) {
      if (unreachable(error)) this.rotation.down(member);
      throw error;
    }
  }
}

/** A write the service answers once however often it is sent (CreateTweet's idempotency_key). */
function hasIdempotencyKey(input: unknown): boolean {
  const key = (input as { idempotencyKey?: unknown } | null)?.idempotencyKey;
  return typeof key === "string" && key !== "";
}
