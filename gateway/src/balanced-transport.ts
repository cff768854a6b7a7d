import type { DescMessage, DescMethodStreaming, DescMethodUnary, MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { MAX_ATTEMPTS, RESOLVE_EVERY_MS, replicaKey, resolveReplicas, retriesSafely, systemLookup, type Lookup } from "@chirp/kit/grpc";
import type { Logger } from "@chirp/kit";

/** How long a replica that could not be reached is left out of the rotation, unless it is the only one. */
const DOWN_MS = 2_000;

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
  key: string;
  transport: Transport;
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
  private members: Member[] = [];
  private next = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly ready: Promise<void>;

  constructor(private readonly options: BalancedTransportOptions) {
    this.ready = this.refresh();
    this.timer = setInterval(() => void this.refresh(), options.resolveEveryMs ?? RESOLVE_EVERY_MS);
    this.timer.unref();
  }

  /** The replicas in the rotation now, for tests and diagnostics. */
  replicas(): string[] {
    return this.members.map((m) => m.key);
  }

  close(): void {
    clearInterval(this.timer);
  }

  private async refresh(): Promise<void> {
    try {
      const found = await resolveReplicas(this.options.address, this.options.lookup ?? systemLookup);
      if (found.length === 0) return;
      const known = new Map(this.members.map((m) => [m.key, m]));
      this.members = found.map((r) => {
        const key = replicaKey(r);
        return known.get(key) ?? { key, transport: this.options.transportTo(`${this.options.secure ? "https" : "http"}://${key}`), downUntil: 0 };
      });
    } catch (error) {
      // Keep the replicas known so far: a failed lookup says nothing about them.
      this.options.log.warn({ err: error, address: this.options.address }, "replicas not looked up; keeping the last ones known");
    }
  }

  private pick(exclude: Set<Member>): Member {
    if (this.members.length === 0) throw new ConnectError(`no replica of ${this.options.address} is known`, Code.Unavailable);
    const now = Date.now();
    const n = this.members.length;
    for (const allowDown of [false, true]) {
      for (let i = 0; i < n; i++) {
        const member = this.members[(this.next + i) % n]!;
        if (exclude.has(member) || (!allowDown && member.downUntil > now)) continue;
        this.next = (this.next + i + 1) % n;
        return member;
      }
    }
    // Every replica was tried: start over with the first in turn.
    const member = this.members[this.next % n]!;
    this.next = (this.next + 1) % n;
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
        member.downUntil = Date.now() + DOWN_MS;
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
      if (unreachable(error)) member.downUntil = Date.now() + DOWN_MS;
      throw error;
    }
  }
}

/** A write the service answers once however often it is sent (CreateTweet's idempotency_key). */
function hasIdempotencyKey(input: unknown): boolean {
  const key = (input as { idempotencyKey?: unknown } | null)?.idempotencyKey;
  return typeof key === "string" && key !== "";
}
