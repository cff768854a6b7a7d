import { errors, headers, nanos, nkeyAuthenticator, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import {
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_IN_FLIGHT,
  DEFAULT_MAX_DELIVER,
  DEFAULT_MAX_HANDLING_MS,
  deadLetterSubject,
  redeliveryDelayMs,
  type BusMessage,
  type Consumer,
  type ConsumerSpec,
  type EventBus,
  type EventHandler,
  type LiveHandler,
  type LiveOptions,
  type LiveSubscriber,
  type LiveSubscription,
} from "../bus.js";
import type { StreamSpec } from "../events/catalog.js";
import type { Logger } from "../logger.js";

export interface StreamSettings {
  /** Publishes of one message id inside this window are stored once. */
  duplicateWindowMs: number;
  replicas: number;
}

/** Who a process is on NATS: its own user (an nkey) and the inbox its replies come to. */
export interface NatsIdentity {
  /** The user's nkey seed (`SU…`); without it the connection has no user (a server without authorization). */
  nkeySeed?: string;
  /** Where replies come (`_INBOX_<process>`, authorization.ts): the one subject space its user may subscribe to. */
  inboxPrefix?: string;
  /**
   * The streams it may change; the others it only creates when they are missing, never updates
   * (its user may not). Absent: it updates every stream it declares.
   */
  ownedStreams?: readonly string[];
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = {
  duplicateWindowMs: 10 * 60_000,
  replicas: 1,
};

const MSG_ID_HEADER = "Nats-Msg-Id";

/**
 * The JetStream event bus. Publishes carry the message id as `Nats-Msg-Id` for server-side
 * deduplication; consumers are durable pull consumers with explicit acknowledgement; live
 * subscriptions are ordered consumers (ephemeral, unacknowledged) starting after the stream's end.
 */
export class JetStreamBus implements EventBus, LiveSubscriber {
  private readonly js: JetStreamClient;
  private up = true;

  private constructor(
    readonly connection: NatsConnection,
    readonly manager: JetStreamManager,
    private readonly log: Logger,
    private readonly owned: readonly string[] | undefined,
  ) {
    this.js = jetstream(connection);
    void this.watch();
  }

  /** False while the connection is down or reconnecting, and once closed (for the metrics). */
  get connected(): boolean {
    return this.up && !this.connection.isClosed();
  }

  private async watch(): Promise<void> {
    for await (const change of this.connection.status()) {
      if (change.type === "disconnect") this.up = false;
      else if (change.type === "reconnect") this.up = true;
      // The server refused something this process's user may not do: a bug or a missing permission,
      // never silent (the request that caused it only times out).
      else if (change.type === "error" && change.error instanceof errors.PermissionViolationError) {
        this.log.error({ operation: change.error.operation, subject: change.error.subject }, "NATS refused a publish or subscription: no permission");
      }
    }
  }

  /** `url`: one NATS server, or several of a cluster, comma-separated. */
  static async connect(url: string, name: string, log: Logger, identity: NatsIdentity = {}): Promise<JetStreamBus> {
    // A cluster's servers may be listed, comma-separated; the client fails over between them.
    const servers = url.split(",").map((s) => s.trim()).filter(Boolean);
    const connection = await connect({
      servers,
      name,
      maxReconnectAttempts: -1,
      // The seed signs the server's nonce: it never travels, and the server holds only the public key.
      ...(identity.nkeySeed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(identity.nkeySeed)) } : {}),
      ...(identity.inboxPrefix ? { inboxPrefix: identity.inboxPrefix } : {}),
    });
    try {
      const manager = await jetstreamManager(connection);
      log.info({ url: connection.getServer(), user: identity.nkeySeed ? "own nkey" : "none" }, "connected to NATS JetStream");
      return new JetStreamBus(connection, manager, log, identity.ownedStreams);
    } catch (error) {
      await connection.close();
      throw error;
    }
  }

  /** Creates each stream, or brings an existing one's subjects and limits up to date. */
  async ensureStreams(specs: StreamSpec[], settings: StreamSettings = DEFAULT_STREAM_SETTINGS): Promise<void> {
    for (const spec of specs) {
      const config = {
        name: spec.name,
        subjects: spec.subjects,
        retention: RetentionPolicy.Limits,
        storage: StorageType.File,
        duplicate_window: nanos(settings.duplicateWindowMs),
        max_age: nanos(spec.maxAgeMs),
        num_replicas: settings.replicas,
      };
      try {
        const { config: current } = await this.manager.streams.info(spec.name);
        // Every replica of every service declares its streams at start: an update only when
        // something differs, as on a NATS cluster each one is a round of consensus.
        const same =
          current.subjects.length === config.subjects.length &&
          current.subjects.every((s, i) => s === config.subjects[i]) &&
          current.duplicate_window === config.duplicate_window &&
          current.max_age === config.max_age &&
          current.num_replicas === config.num_replicas;
        if (same) continue;
        // Only a stream's owner brings it up to date: the others' NATS users may not change it.
        if (this.owned && !this.owned.includes(spec.name)) this.log.warn({ stream: spec.name }, "stream differs from this process's declaration; its owner updates it");
        else await this.manager.streams.update(spec.name, config);
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.manager.streams.add(config);
        this.log.info({ stream: spec.name }, "stream created");
      }
    }
  }

  async publish(message: BusMessage): Promise<void> {
    let h: MsgHdrs | undefined;
    if (message.headers) {
      h = headers();
      for (const [key, value] of Object.entries(message.headers)) h.set(key, value);
    }
    await this.js.publish(message.subject, message.data, { msgID: message.id, ...(h ? { headers: h } : {}) });
  }

  /**
   * Runs a durable consumer per stream the subjects fall in. Redeliveries back off; after
   * `maxDeliver` failed attempts the message is copied to the dead-letter subject and terminated.
   * The server itself redelivers without limit, so a crash during the last attempt still ends in
   * the dead-letter stream instead of dropping the message.
   */
  async consume(spec: ConsumerSpec, handler: EventHandler): Promise<Consumer> {
    const byStream = await this.subjectsByStream(spec.subjects);
    const running: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];
    const ackWait = nanos(spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS);
    for (const [stream, subjects] of byStream) {
      const config = {
        durable_name: spec.durable,
        filter_subjects: subjects,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: spec.startAt === "new" ? DeliverPolicy.New : DeliverPolicy.All,
        ack_wait: ackWait,
        max_deliver: -1,
      };
      try {
        await this.manager.consumers.info(stream, spec.durable);
        await this.manager.consumers.update(stream, spec.durable, { filter_subjects: subjects, ack_wait: ackWait });
      } catch (error) {
        if (!isNotFound(error)) throw error;
        await this.manager.consumers.add(stream, config);
      }
      const consumer = await this.js.consumers.get(stream, spec.durable);
      const messages = await consumer.consume({ max_messages: Math.max(1, (spec.inFlight ?? DEFAULT_IN_FLIGHT) - 1) });
      running.push({ messages, done: this.dispatch(spec, messages, handler) });
    }
    return {
      stop: async () => {
        for (const r of running) await r.messages.close();
        await Promise.all(running.map((r) => r.done));
      },
    };
  }

  /** The stream each subject filter falls in, with the filters per stream. */
  private async subjectsByStream(subjects: string[]): Promise<Map<string, string[]>> {
    const byStream = new Map<string, string[]>();
    for (const subject of subjects) {
      const stream = await this.manager.streams.find(subject);
      byStream.set(stream, [...(byStream.get(stream) ?? []), subject]);
    }
    return byStream;
  }

  /**
   * An ordered consumer per stream the subjects fall in, starting after the stream's last message
   * at the time of the call. (An explicit start sequence rather than DeliverPolicy.New: when the
   * ordered consumer is recreated after a reconnect it resumes after the last message it saw, never
   * from the stream's beginning.) The server removes the consumer once it has been idle for a while
   * after a crash; `stop` removes it at once.
   */
  async subscribe(subjects: string[], handler: LiveHandler, options: LiveOptions = {}): Promise<LiveSubscription> {
    const running: Array<{ messages: ConsumerMessages; done: Promise<void>; remove: () => Promise<unknown> }> = [];
    for (const [stream, filters] of await this.subjectsByStream(subjects)) {
      const { state } = await this.manager.streams.info(stream);
      const start =
        options.replayMs !== undefined
          ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(Date.now() - options.replayMs).toISOString() }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: state.last_seq + 1 };
      const consumer = await this.js.consumers.get(stream, { filter_subjects: filters, ...start });
      const messages = await consumer.consume({ max_messages: 256 });
      running.push({ messages, done: this.relayLive(messages, handler), remove: () => consumer.delete().catch(() => false) });
    }
    return {
      stop: async () => {
        for (const r of running) await r.messages.close();
        await Promise.all(running.map((r) => r.done));
        await Promise.all(running.map((r) => r.remove()));
      },
    };
  }

  private async relayLive(messages: ConsumerMessages, handler: LiveHandler): Promise<void> {
    for await (const msg of messages) {
      const message = { id: msg.headers?.get(MSG_ID_HEADER) || `${msg.info.stream}:${msg.seq}`, subject: msg.subject, data: msg.data, ...traceOf(msg) };
      try {
        await handler(message);
      } catch (error) {
        this.log.warn({ err: error, eventId: message.id, subject: message.subject }, "live subscriber failed; message dropped");
      }
    }
  }

  private async dispatch(spec: ConsumerSpec, messages: ConsumerMessages, handler: EventHandler): Promise<void> {
    try {
      await this.dispatchEach(spec, messages, handler);
    } catch (error) {
      // The connection closed under a handling (the process is going away): what it held is
      // redelivered after the ack wait.
      if (!this.connection.isClosed()) throw error;
      this.log.warn({ err: error, durable: spec.durable }, "consumer stopped by its closed connection");
    }
  }

  private async dispatchEach(spec: ConsumerSpec, messages: ConsumerMessages, handler: EventHandler): Promise<void> {
    const maxDeliver = spec.maxDeliver ?? DEFAULT_MAX_DELIVER;
    const ackWaitMs = spec.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    const maxHandlingMs = spec.maxHandlingMs ?? DEFAULT_MAX_HANDLING_MS;
    for await (const msg of messages) {
      const delivery = {
        id: msg.headers?.get(MSG_ID_HEADER) || `${msg.info.stream}:${msg.seq}`,
        subject: msg.subject,
        data: msg.data,
        attempt: msg.info.deliveryCount,
        pending: msg.info.pending,
        ...traceOf(msg),
      };
      // A handling that runs longer than the ack wait keeps its message (a fan-out to many
      // followers), while one that dies with its process gives it back after the ack wait.
      const started = Date.now();
      const progress = setInterval(() => {
        if (Date.now() - started < maxHandlingMs) msg.working();
      }, Math.max(100, Math.floor(ackWaitMs / 3)));
      try {
        await handler(delivery);
      } catch (error) {
        clearInterval(progress);
        await this.failed(spec.durable, msg, delivery, maxDeliver, error);
        continue;
      }
      clearInterval(progress);
      // Not waited for: a round trip per message would make catching up on a long stream slow.
      // An acknowledgement lost with a crash means a redelivery, which the handlers take (they
      // are idempotent).
      msg.ack();
    }
  }

  private async failed(durable: string, msg: JsMsg, delivery: BusMessage & { attempt: number }, maxDeliver: number, error: unknown) {
    if (delivery.attempt < maxDeliver) {
      this.log.warn({ err: error, durable, eventId: delivery.id, attempt: delivery.attempt }, "event handler failed; will redeliver");
      msg.nak(redeliveryDelayMs(delivery.attempt));
      return;
    }
    this.log.error({ err: error, durable, eventId: delivery.id, subject: delivery.subject }, "event dead-lettered");
    const h = headers();
    h.set("Chirp-Original-Subject", delivery.subject);
    h.set("Chirp-Error", String((error as Error)?.message ?? error).slice(0, 512));
    try {
      await this.js.publish(deadLetterSubject(durable), delivery.data, { msgID: `${durable}:${delivery.id}`, headers: h });
      msg.term("dead-lettered");
    } catch (publishError) {
      this.log.error({ err: publishError, durable, eventId: delivery.id }, "dead-lettering failed; will redeliver");
      msg.nak(redeliveryDelayMs(delivery.attempt));
    }
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}

/** The trace context a message carries in its headers, if any. */
function traceOf(msg: JsMsg): { headers?: Record<string, string> } {
  const traceparent = msg.headers?.get("traceparent");
  if (!traceparent) return {};
  const tracestate = msg.headers?.get("tracestate");
  return { headers: { traceparent, ...(tracestate ? { tracestate } : {}) } };
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}
