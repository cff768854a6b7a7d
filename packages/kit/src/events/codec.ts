import { Event } from "@chirp/proto/grpc/chirp/events/v1/events";
import type { BusMessage } from "../bus.js";
import { newId } from "../ids.js";
import { traceHeaders } from "../telemetry/context.js";
import { EVENT_SUBJECTS } from "./catalog.js";

export type EventPayload = NonNullable<Event["payload"]>;

/** Wraps a payload in an Event envelope with a fresh id and the active trace context, ready for the outbox. */
export function eventMessage(payload: EventPayload, occurredAt: Date = new Date()): BusMessage {
  const id = newId(occurredAt.getTime());
  const data = Event.encode({ id, occurredAt, payload }).finish();
  // Recorded inside the call that made it, so the trace that caused it can be continued later.
  const headers = traceHeaders();
  return { id, subject: EVENT_SUBJECTS[payload.$case], data, ...(headers.traceparent ? { headers } : {}) };
}

export function decodeEvent(data: Uint8Array): Event {
  return Event.decode(data);
}
