/**
 * The event bus as the rest of the code sees it. Adapters: JetStream (`@chirp/kit/nats`) in
 * production, and an in-process bus (`@chirp/kit/events`) for the embedded mesh and unit tests.
 */
export interface BusMessage {
  /** Unique; the bus drops a second publish of the same id within its duplicate window. */
  id: string;
  subject: string;
  data: Uint8Array;
  /**
   * W3C trace context (`traceparent`, `tracestate`) of the work that recorded the message, kept
   * with it in the outbox and carried in the message's headers, so that its publish and handling
   * join that trace even when the publish comes after a crash.
   */
  headers?: Record<string, string>;
}

export interface EventPublisher {
  publish(message: BusMessage): Promise<void>;
}

export interface Delivery extends BusMessage {
  /** 1 on first delivery, counting up on each redelivery. */
  attempt: number;
  /** Messages still waiting for this consumer, where the bus says (JetStream does). */
  pending?: number;
}

export interface ConsumerSpec {
  /** The durable consumer's name: a restarted process resumes where the last one acknowledged. */
  durable: string;
  /** NATS subject filters (`*` and `>` wildcards). */
  subjects: string[];
  /** Deliveries before a message is dead-lettered. */
  maxDeliver?: number;
  /**
   * How long a delivery may go without a word from its handler before it is offered again: also
   * how soon what a crashed process had in hand is redelivered. While a handler runs, the bus
   * tells the server it is still working (JetStream's progress acknowledgement) every third of
   * this, up to `maxHandlingMs`, so a long handling is not redelivered while it runs.
   */
  ackWaitMs?: number;
  /** How long one handling may keep its message with progress acknowledgements. */
  maxHandlingMs?: number;
  /**
   * Messages a process holds unacknowledged at once: the one in hand and the ones fetched ahead.
   * Kept small, because each one fetched ahead waits its turn without progress acknowledgements
   * and what a crashed process held is only redelivered after `ackWaitMs`.
   */
  inFlight?: number;
  /**
   * Where a durable consumer starts the first time it is created: `"first"` replays what the
   * streams still hold (for a consumer that builds its records from the history), `"new"` only
   * takes what is published afterwards. A consumer that exists already resumes where it was.
   * Default `"first"`: losing nothing is the safe choice; each service states its own.
   */
  startAt?: "first" | "new";
}

/** Must be idempotent: every message may arrive more than once. Throwing asks for a redelivery. */
export type EventHandler = (delivery: Delivery) => Promise<void>;

export interface Consumer {
  stop(): Promise<void>;
}

export interface EventSubscriber {
  consume(spec: ConsumerSpec, handler: EventHandler): Promise<Consumer>;
}

export interface EventBus extends EventPublisher, EventSubscriber {}

/** Handles one message of a live subscription. A failure is logged; the message is not offered again. */
export type LiveHandler = (message: BusMessage) => Promise<void>;

export interface LiveSubscription {
  /** Stops delivery and waits for the message being handled, if any. */
  stop(): Promise<void>;
}

/**
 * Live, non-durable subscriptions: only messages published after `subscribe` resolves, in publish
 * order, each at most once, nothing acknowledged or redelivered. For pushing what happens now to
 * connected clients, never for keeping state: whatever is published while nobody subscribes is
 * not seen. Durable, at-least-once processing is `EventSubscriber.consume`.
 */
export interface LiveSubscriber {
  /** @param subjects NATS subject filters (`*` and `>` wildcards). */
  subscribe(subjects: string[], handler: LiveHandler, options?: LiveOptions): Promise<LiveSubscription>;
}

export interface LiveOptions {
  /**
   * Also deliver, first, what was published this many ms before the call (as far as the bus still
   * holds it): for a subscriber that keeps recent state, such as the gateway's revoked sessions.
   */
  replayMs?: number;
}

export const DEFAULT_MAX_DELIVER = 5;
/** Well inside the 30 s within which delivery must resume after a crash. */
export const DEFAULT_ACK_WAIT_MS = 10_000;
/** A fan-out to the largest fanned-out audience takes well under this. */
export const DEFAULT_MAX_HANDLING_MS = 10 * 60_000;
/**
 * Enough fetched ahead that catching up on a long stream is not one round trip per message; a
 * consumer whose handlings can take long (the timeline's fan-out) asks for fewer.
 */
export const DEFAULT_IN_FLIGHT = 16;

/** Where a message goes after its last failed delivery: one subject per consumer. */
export const deadLetterSubject = (durable: string) => `chirp.deadletter.${durable}`;

/** NATS subject matching: `*` matches one token, a trailing `>` one or more. */
export function subjectMatches(filter: string, subject: string): boolean {
  const want = filter.split(".");
  const have = subject.split(".");
  for (let i = 0; i < want.length; i++) {
    if (want[i] === ">") return have.length > i;
    if (i >= have.length || (want[i] !== "*" && want[i] !== have[i])) return false;
  }
  return want.length === have.length;
}

/** Exponential backoff between redeliveries, capped. */
export const redeliveryDelayMs = (attempt: number) => Math.min(100 * 2 ** (attempt - 1), 5_000);
