import { randomUUID } from "node:crypto";
import { Metadata, type CallOptions, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";

type ServerSurfaceCall = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>;
import { unauthenticated } from "../errors.js";
import type { Logger } from "../logger.js";
import { acceptedRequestId, CALLER_ID_KEY, CALLER_ROLES_KEY, CALLER_SESSION_KEY, CLIENT_ADDRESS_KEY, REQUEST_ID_KEY } from "./metadata.js";

/** Why a call's signal aborted: its caller cancelled it, or its deadline passed. */
const CANCELLED = new Error("the call was cancelled");
const DEADLINE_PASSED = new Error("the call's deadline passed");

/** What a handler knows about the call it serves, without touching gRPC types. */
export interface CallContext {
  readonly requestId: string;
  readonly method: string;
  /** A logger bound to this call's request id and method. */
  readonly log: Logger;
  /** The verified caller, when the gateway named one. */
  readonly callerId: string | undefined;
  readonly callerRoles: readonly string[];
  /** The session of the caller's access token, when the gateway named one. */
  readonly callerSessionId: string | undefined;
  /** The client's address as the gateway saw it (at most 64 characters), or "" from anyone else. */
  readonly clientAddress: string;
  /** Aborted when the client cancels or the deadline passes. */
  readonly signal: AbortSignal;
  /** The caller's id; UNAUTHENTICATED when the call has none. */
  requireCaller(): string;
  /** Metadata and options for calls this handler makes to other services: same request id, caller and deadline. */
  forward(): { metadata: Metadata; options: Partial<CallOptions> };
}

function first(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" && value !== "" ? value : undefined;
}

export function createCallContext(call: ServerSurfaceCall, method: string, log: Logger): CallContext {
  const metadata = call.metadata;
  // Direct callers (other services, tools) choose their ids as the gateway's clients do: only a
  // short plain token is kept, so nobody writes what they like into this service's logs.
  const requestId = acceptedRequestId(first(metadata, REQUEST_ID_KEY)) ?? randomUUID();
  const callerId = first(metadata, CALLER_ID_KEY);
  const callerRoles = (first(metadata, CALLER_ROLES_KEY) ?? "").split(",").filter(Boolean);
  const callerSessionId = first(metadata, CALLER_SESSION_KEY);
  const clientAddress = (first(metadata, CLIENT_ADDRESS_KEY) ?? "").slice(0, 64);
  const controller = new AbortController();
  // With a reason made once: an abort without one builds a DOMException, stack and all, for every call.
  call.on("cancelled", () => controller.abort(CANCELLED));
  const deadline = call.getDeadline();
  if (deadline instanceof Date || typeof deadline === "number") {
    const remaining = new Date(deadline).getTime() - Date.now();
    if (Number.isFinite(remaining)) {
      const timer = setTimeout(() => controller.abort(DEADLINE_PASSED), Math.max(0, remaining));
      timer.unref();
      controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
    }
  }

  return {
    requestId,
    method,
    log: log.child({ requestId, method, ...(callerId ? { callerId } : {}) }),
    callerId,
    callerRoles,
    callerSessionId,
    clientAddress,
    signal: controller.signal,
    requireCaller() {
      if (!callerId) throw unauthenticated("this call needs an authenticated caller");
      return callerId;
    },
    forward() {
      const out = new Metadata();
      out.set(REQUEST_ID_KEY, requestId);
      if (callerId) out.set(CALLER_ID_KEY, callerId);
      if (callerRoles.length > 0) out.set(CALLER_ROLES_KEY, callerRoles.join(","));
      return { metadata: out, options: { deadline: call.getDeadline() } };
    },
  };
}
