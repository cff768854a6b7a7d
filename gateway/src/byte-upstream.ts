import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http2";
import type { Lookup } from "@chirp/kit/grpc";
import type { Logger } from "@chirp/kit";
import { connect as netConnect, type Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { Rotation } from "./rotation.js";

/** Errors that say the call was never handled: no connection, or a stream refused (HTTP/2 promises it was not processed). */
const NEVER_SENT = new Set(["ECONNREFUSED", "ERR_HTTP2_GOAWAY_SESSION", "ERR_HTTP2_INVALID_SESSION"]);
const NETWORK_ERRORS = new Set([...NEVER_SENT, "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "EPIPE", "ERR_HTTP2_STREAM_ERROR", "ERR_HTTP2_SESSION_ERROR"]);

/**
 * The most of an answer the gateway holds for one call: grpc-js's own default for a received
 * message. A 100-item page is some 30 KiB; past this, a service is answering what no page needs,
 * and the call is cancelled upstream rather than held in memory.
 */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** A call's outcome as the upstream gave it: its message bytes (one gRPC envelope, unparsed) and its status. */
export interface UpstreamAnswer {
  /** The envelopes' bytes as they came (5-byte prefix and message each). */
  body: Buffer;
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
}

/** The upstream could not be reached, or the connection broke: `neverSent` when nothing of the call was handled. */
export class UpstreamUnreachable extends Error {
  constructor(
    override readonly cause: unknown,
    readonly neverSent: boolean,
  ) {
    super(`upstream unreachable: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/**
 * A call's cancellation: an AbortController without the EventTarget, whose creation and listener
 * bookkeeping were a measurable part of a forwarded call. One listener at a time, as a call has
 * one thing to cancel at a time (reading the request, then the upstream call).
 */
export class Cancellation {
  aborted = false;
  reason: unknown;
  private listener: (() => void) | undefined;

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listener = this.listener;
    this.listener = undefined;
    listener?.();
  }

  /** Runs `listener` on abort (not when already aborted); the function returned removes it. */
  listen(listener: () => void): () => void {
    this.listener = listener;
    return () => {
      if (this.listener === listener) this.listener = undefined;
    };
  }
}

interface Member {
  readonly key: string;
  session?: ClientHttp2Session;
  downUntil: number;
}

export interface ByteUpstreamOptions {
  /** One replica or many (`resolveReplicas`). */
  address: string;
  log: Logger;
  /** An idle session is PINGed this often, and closed when a PING is still unanswered at the next. */
  keepaliveMs: number;
  /** Connects to a replica over TLS (the mesh's mutual TLS, as the gateway workload); plaintext when absent. */
  secureConnection?: (authority: URL) => TLSSocket;
  lookup?: Lookup;
  resolveEveryMs?: number;
  /** MAX_ANSWER_BYTES unless given. */
  maxAnswerBytes?: number;
}

/**
 * gRPC calls as bytes over one pooled HTTP/2 session per replica of a service, for the gateway's
 * verified-then-forwarded path (direct.ts): the request's message goes out as the client sent it
 * and the answer's envelope and trailers come back unparsed. Replicas are taken in turn, looked
 * up again every few seconds, and one that cannot be reached leaves the rotation for a moment, as
 * in BalancedTransport; `call` retries a call on another replica when `repeatable` says so or
 * nothing of it was sent.
 */
export class ByteUpstream {
  private readonly rotation: Rotation<Member>;
  private readonly ready: Promise<void>;
  private found = false;
  private closed = false;
  /** The `:scheme` calls carry: `https` over the mesh's TLS. */
  readonly scheme: "http" | "https";

  constructor(private readonly options: ByteUpstreamOptions) {
    this.scheme = options.secureConnection ? "https" : "http";
    const { address, log, lookup, resolveEveryMs } = options;
    this.rotation = new Rotation<Member>({
      address,
      log,
      lookup,
      resolveEveryMs,
      join: (key) => ({ key, downUntil: 0 }),
      // A replica no longer listed, or the upstream closed: its session ends once its calls have.
      leave: (member) => member.session?.close(),
    });
    this.ready = this.rotation.ready.then(() => void (this.found = true));
  }

  close(): void {
    this.closed = true;
    this.rotation.close();
  }

  private sessionOf(member: Member): ClientHttp2Session {
    const live = member.session;
    if (live && !live.closed && !live.destroyed) return live;
    // No Nagle: a call's few small frames must leave at once, not wait for the previous ACK.
    const { secureConnection } = this.options;
    const createConnection = (url: URL): Socket => {
      if (!secureConnection) return netConnect({ host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port), noDelay: true });
      const socket = secureConnection(url);
      socket.setNoDelay(true);
      return socket;
    };
    const session = connect(`${this.scheme}://${member.key}`, { createConnection });
    member.session = session;
    const forget = () => {
      if (member.session === session) member.session = undefined;
    };
    session.once("close", forget);
    session.once("goaway", forget);
    // A session's errors reach its streams too; here they only retire it.
    session.on("error", forget);
    keepAlive(session, this.options.keepaliveMs);
    // Idle sessions must not keep the process alive.
    session.unref();
    return session;
  }

  /**
   * Sends one unary call: `headers` (pseudo-headers included) and `body` (the gRPC envelope),
   * answered with the upstream's bytes, headers and trailers, or UpstreamUnreachable. `signal`
   * cancels it (RST_STREAM CANCEL). Calls `repeatable` are retried on another replica, within
   * `deadline` (a Date.now() time), at most `maxAttempts` times in all.
   */
  async call(headers: OutgoingHttpHeaders, body: Buffer, signal: Cancellation, deadline: number, repeatable: boolean, maxAttempts: number): Promise<UpstreamAnswer> {
    // The first lookup, once: an await of a settled promise still costs every call a turn.
    if (!this.found) await this.ready;
    const tried = new Set<Member>();
    for (let attempt = 1; ; attempt++) {
      const member = this.closed ? undefined : this.rotation.pick(tried);
      if (!member) throw new UpstreamUnreachable(new Error(`no replica of ${this.options.address} is known`), true);
      tried.add(member);
      try {
        return await this.once(member, headers, body, signal);
      } catch (error) {
        if (!(error instanceof UpstreamUnreachable)) throw error;
        this.rotation.down(member);
        if (attempt >= maxAttempts || Date.now() >= deadline || signal.aborted || !(repeatable || error.neverSent)) throw error;
      }
    }
  }

  private once(member: Member, headers: OutgoingHttpHeaders, body: Buffer, signal: Cancellation): Promise<UpstreamAnswer> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        // No options: a POST's stream stays open for its body by default.
        stream = this.sessionOf(member).request(headers);
      } catch (error) {
        return reject(new UpstreamUnreachable(error, true));
      }
      let responded: IncomingHttpHeaders | undefined;
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      const limit = this.options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
      const unlisten = signal.listen(() => stream.close(constants.NGHTTP2_CANCEL));
      stream.on("response", (h) => (responded = h));
      stream.on("trailers", (t) => (trailers = t));
      stream.on("data", (chunk: Buffer) => {
        if (over) return;
        size += chunk.byteLength;
        if (size <= limit) return void chunks.push(chunk);
        over = true;
        chunks.length = 0;
        unlisten();
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new Error(`the answer of ${this.options.address} passed ${limit} bytes; the call was cancelled`));
      });
      stream.once("error", (error: NodeJS.ErrnoException) => {
        unlisten();
        const code = typeof error.code === "string" ? error.code : "";
        // A stream still waiting for its session when the connection failed was never sent.
        if (code === "ERR_HTTP2_STREAM_CANCEL" && !signal.aborted) return reject(new UpstreamUnreachable(error.cause ?? error, true));
        const refused = code === "ERR_HTTP2_STREAM_ERROR" && String(error.message).includes("NGHTTP2_REFUSED_STREAM");
        if (NETWORK_ERRORS.has(code)) reject(new UpstreamUnreachable(error, refused || (NEVER_SENT.has(code) && responded === undefined)));
        else reject(error);
      });
      stream.once("close", () => {
        unlisten();
        if (signal.aborted) return reject(signal.reason);
        if (!responded) {
          // Closed without an answer: the connection went away, or the stream was reset.
          const refused = stream.rstCode === constants.NGHTTP2_REFUSED_STREAM;
          return reject(new UpstreamUnreachable(new Error(`the stream closed without an answer (code ${stream.rstCode})`), refused));
        }
        resolve({ body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), headers: responded, trailers });
      });
      stream.end(body);
    });
  }
}

/** PINGs a session while it is open, closing it when a PING is still unanswered at the next. */
function keepAlive(session: ClientHttp2Session, intervalMs: number): void {
  let awaiting = false;
  const timer = setInterval(() => {
    if (session.destroyed || session.closed) return clearInterval(timer);
    if (awaiting) {
      clearInterval(timer);
      session.destroy();
      return;
    }
    awaiting = true;
    try {
      if (!session.ping(() => (awaiting = false))) awaiting = false;
    } catch {
      awaiting = false;
    }
  }, intervalMs);
  timer.unref();
  session.once("close", () => clearInterval(timer));
}
