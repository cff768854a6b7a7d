import type { Attributes } from "@opentelemetry/api";
import {
  DEFAULT_MAX_DELIVER,
  type BusMessage,
  type Consumer,
  type ConsumerSpec,
  type EventBus,
  type EventHandler,
  type LiveHandler,
  type LiveSubscriber,
  type LiveSubscription,
} from "../bus.js";
import { recordCarrier, SpanKind, traceHeaders } from "./context.js";
import { eventLabel, kitMetrics } from "./metrics.js";
import type { Tracing } from "./tracing.js";

/**
 * A service's view of the bus, observed, whatever carries the messages (JetStream or the
 * in-process bus):
 *
 * - a publish is a producer span, child of the trace the message was recorded in (kept with it in
 *   the outbox, so a publish after a crash joins the original trace), and the message leaves with
 *   the publish span's context in its headers;
 * - a delivery to a durable consumer is a consumer span, child of that publish, with its handling
 *   time, redeliveries, dead letters and the consumer's backlog in the metrics;
 * - a live message is a consumer span too.
 */
export class ObservedBus implements EventBus, LiveSubscriber {
  constructor(
    private readonly bus: EventBus & LiveSubscriber,
    private readonly tracing: Tracing,
    private readonly service: string,
  ) {}

  publish(message: BusMessage): Promise<void> {
    if (!this.tracing.enabled) return this.bus.publish(message);
    return this.tracing.entry(`publish ${message.subject}`, SpanKind.PRODUCER, message.headers && recordCarrier(message.headers), messageAttributes(message), () => {
      const headers = traceHeaders();
      return this.bus.publish(headers.traceparent ? { ...message, headers } : message);
    });
  }

  consume(spec: ConsumerSpec, handler: EventHandler): Promise<Consumer> {
    const metrics = kitMetrics();
    const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
    const labels = { service: this.service, consumer: spec.durable };
    return this.bus.consume(spec, async (delivery) => {
      const event = eventLabel(delivery.subject);
      if (delivery.pending !== undefined) metrics.consumerPending.set(labels, delivery.pending);
      if (delivery.attempt > 1) metrics.consumerRedeliveries.inc({ ...labels, event });
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      const attributes = { ...messageAttributes(delivery), "messaging.consumer.group.name": spec.durable, "messaging.delivery.attempt": delivery.attempt };
      try {
        await this.tracing.entry(`process ${delivery.subject}`, SpanKind.CONSUMER, recordCarrier(delivery.headers ?? {}), attributes, () => handler(delivery));
        metrics.consumerHandling.observe({ ...labels, event, outcome: "ok" }, seconds());
      } catch (error) {
        metrics.consumerHandling.observe({ ...labels, event, outcome: "failed" }, seconds());
        // The bus dead-letters a message whose last attempt failed (see JetStreamBus.failed).
        if (delivery.attempt >= maxDeliver) metrics.consumerDeadLetters.inc({ ...labels, event });
        throw error;
      }
    });
  }

  subscribe(subjects: string[], handler: LiveHandler): Promise<LiveSubscription> {
    if (!this.tracing.enabled) return this.bus.subscribe(subjects, handler);
    return this.bus.subscribe(subjects, (message) =>
      this.tracing.entry(`live ${message.subject}`, SpanKind.CONSUMER, recordCarrier(message.headers ?? {}), messageAttributes(message), () => handler(message)),
    );
  }
}

const messageAttributes = (message: BusMessage): Attributes => ({
  "messaging.system": "nats",
  "messaging.destination.name": message.subject,
  "messaging.message.id": message.id,
});
