import { randomUUID } from "node:crypto";
import { Metadata, type CallOptions, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";

type ServerSurfaceCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;
import { DomainError, unauthenticated } from "../errors.js";
import type { Logger } from "../logger.js";
import type { AccessClaims } from "../tokens.js";
import { acceptedRequestId, AUTHORIZATION_KEY, CLIENT_ADDRESS_KEY, REQUEST_ID_KEY } from "./metadata.js";

/** What verifies the access tokens calls carry: a TokenVerifier with the users service's public keys. */
export interface CallerTokens {
  verify(token: string): AccessClaims;
}

/** How a call arrived: who the peer is, and what verifies the end user's token. */
export interface CallSecurity {
  /** Absent: no key is configured, and any call carrying a token is refused. */
  tokens: CallerTokens | undefined;
  /** Whether the connection is mutual TLS (a peer identity is known) or plaintext (development). */
  tls: boolean;
  /** The workload the peer's certificate names (with TLS). */
  peer: string | undefined;
}

/** Longest `authorization` value read: an access token is well under 1 KiB. */
const MAX_AUTHORIZATION_LENGTH = 4096;

/** Why a call's signal aborted: its caller cancelled it, or its deadline passed. */
const CANCELLED = new Error("the call was cancelled");
const DEADLINE_PASSED = new Error("the call's deadline passed");

/** What a handler knows about the call it serves, without touching gRPC types. */
export interface CallContext {
  readonly requestId: string;
  readonly method: string;
  /** A logger bound to this call's request id and method. */
  readonly log: Logger;
  /** The end user, from the access token the call carries, verified here; undefined without one. */
  readonly callerId: string | undefined;
  readonly callerRoles: readonly string[];
  /** The session of the caller's access token, when it names one. */
  readonly callerSessionId: string | undefined;
  /** The workload that made the call, as its certificate names it; undefined on a plaintext mesh. */
  readonly peer: string | undefined;
  /** The client's address as the gateway saw it (at most 64 characters), or "" from anyone else. */
  readonly clientAddress: string;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** The caller's id; UNAUTHENTICATED when the call has none. */
  requireCaller(): string;
  /**
   * Metadata and options for calls this handler makes to other services on the caller's behalf:
   * the same request id, the caller's access token (which the service called verifies in its turn)
   * and deadline.
   */
  forward(): { metadata: Metadata; options: Partial<CallOptions> };
  /** Why the call is refused before its handler runs (a token that does not verify), if it is. */
  readonly refusal: DomainError | undefined;
}

/** The verified claims of the call's access token, undefined without one, or the refusal of a bad one. */
function verifiedCaller(metadata: Metadata, tokens: CallerTokens | undefined): { claims?: AccessClaims; token?: string; refusal?: DomainError } {
  const values = metadata.get(AUTHORIZATION_KEY);
  if (values.length === 0) return {};
  const value = values[0];
  if (values.length > 1 || typeof value !== "string" || value.length > MAX_AUTHORIZATION_LENGTH || !value.startsWith("Bearer ")) {
    return { refusal: unauthenticated("authorization: expected one \"Bearer <access token>\"") };
  }
  if (!tokens) return { refusal: unauthenticated("authorization: this service has no key to verify access tokens with (AUTH_PUBLIC_KEY)") };
  const token = value.slice("Bearer ".length);
  try {
    return { claims: tokens.verify(token), token };
  } catch (error) {
    if (error instanceof DomainError) return { refusal: error };
    throw error;
  }
}

function first(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A call without tokens or peers: plaintext, nobody's token verifiable (tests of other things). */
const NO_SECURITY: CallSecurity = { tokens: undefined, tls: false, peer: undefined };

/**
 * A served call's context. Its logger and its signal are made when first read: a child logger
 * (its bindings serialised and redacted) and an AbortController with a deadline timer were a
 * measurable part of a do-nothing call, and most handlers never read either. The call's own
 * finishing line (`logLine`) goes out with the same fields through the service's logger.
 */
export class ServedCallContext implements CallContext {
  readonly requestId: string;
  readonly callerId: string | undefined;
  readonly callerRoles: readonly string[];
  readonly callerSessionId: string | undefined;
  readonly clientAddress: string;
  readonly peer: string | undefined;
  /** Set by the caller's checks that come after the context is made (bind.ts: the peer rule). */
  refusal: DomainError | undefined;
  private readonly token: string | undefined;
  private readonly bindings: Record<string, string>;
  private logger: Logger | undefined;
  private controller: AbortController | undefined;
  private cancelled = false;

  constructor(
    private readonly call: ServerSurfaceCall,
    readonly method: string,
    private readonly serviceLog: Logger,
    security: CallSecurity,
  ) {
    const metadata = call.metadata;
    const peer = (this.peer = security.peer);
    // Direct callers (other services, tools) choose their ids as the gateway's clients do: only a
    // short plain token is kept, so nobody writes what they like into this service's logs.
    this.requestId = acceptedRequestId(first(metadata, REQUEST_ID_KEY)) ?? randomUUID();
    const { claims, token, refusal } = verifiedCaller(metadata, security.tokens);
    this.token = token;
    this.refusal = refusal;
    this.callerId = claims?.sub;
    this.callerRoles = claims?.roles ?? [];
    this.callerSessionId = claims?.sid;
    // Only the gateway sees clients; on a plaintext (development) mesh nobody is known, as before.
    const trustsAddress = security.tls ? peer === "gateway" : true;
    this.clientAddress = trustsAddress ? (first(metadata, CLIENT_ADDRESS_KEY) ?? "").slice(0, 64) : "";
    this.bindings = { requestId: this.requestId, method, ...(this.callerId ? { callerId: this.callerId } : {}), ...(peer ? { peer } : {}) };
    call.once("cancelled", () => {
      this.cancelled = true;
      // With a reason made once: an abort without one builds a DOMException, stack and all.
      this.controller?.abort(CANCELLED);
    });
  }

  get log(): Logger {
    return (this.logger ??= this.serviceLog.child(this.bindings));
  }

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = (this.controller = new AbortController());
    if (this.cancelled) {
      controller.abort(CANCELLED);
      return controller.signal;
    }
    const deadline = this.call.getDeadline();
    if (deadline instanceof Date || typeof deadline === "number") {
      const remaining = new Date(deadline).getTime() - Date.now();
      if (Number.isFinite(remaining)) {
        const timer = setTimeout(() => controller.abort(DEADLINE_PASSED), Math.max(0, remaining));
        timer.unref();
        controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
      }
    }
    return controller.signal;
  }

  /** A line about the call, with its request id, method, caller and peer, as `log` writes them. */
  logLine(level: "info" | "error", fields: Record<string, unknown>, message: string): void {
    if (this.logger) this.logger[level](fields, message);
    else this.serviceLog[level]({ ...this.bindings, ...fields }, message);
  }

  requireCaller(): string {
    if (!this.callerId) throw unauthenticated("this call needs an authenticated caller");
    return this.callerId;
  }

  forward(): { metadata: Metadata; options: Partial<CallOptions> } {
    const out = new Metadata();
    out.set(REQUEST_ID_KEY, this.requestId);
    if (this.token) out.set(AUTHORIZATION_KEY, `Bearer ${this.token}`);
    return { metadata: out, options: { deadline: this.call.getDeadline() } };
  }
}

export function createCallContext(call: ServerSurfaceCall, method: string, log: Logger, security: CallSecurity = NO_SECURITY): ServedCallContext {
  return new ServedCallContext(call, method, log, security);
}
