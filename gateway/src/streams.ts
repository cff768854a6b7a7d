import type { ServerHttp2Session } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/** How the gateway keeps server streams: see relayStream. */
export interface StreamSettings {
  /** A stream is ended cleanly (OK) after this long; the client reconnects and catches up. */
  maxLifetimeMs: number;
  /** An idle stream gets an empty message this often. */
  heartbeatMs: number;
  /** Streams one caller may hold open at once. */
  maxPerCaller: number;
  /** Where open streams are counted: this replica alone by default, or all of them (shared-limits.ts). */
  slots?: Slots;
}

/** Open streams per caller: `take` answers a function giving the slot back, or undefined when none is free. */
export interface Slots {
  take(key: string): (() => void) | undefined | Promise<(() => void) | undefined>;
}

/**
 * Open streams per caller. Each slot is given back once, whatever ends its stream (the client
 * leaving, the lifetime, an upstream error, shutdown), so a caller is never locked out by a stream
 * that no longer exists.
 */
export class StreamSlots implements Slots {
  private readonly open = new Map<string, number>();

  constructor(private readonly maxPerCaller: number) {}

  /** A function giving the slot back, or undefined when the caller already holds every slot. */
  take(key: string): (() => void) | undefined {
    const held = this.open.get(key) ?? 0;
    if (held >= this.maxPerCaller) return undefined;
    this.open.set(key, held + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }
}

type Next<T> = { result: IteratorResult<T> } | { error: unknown };

/**
 * Relays an upstream server stream to the client for as long as both want it, bounded by
 * `maxLifetimeMs`, never by the unary default deadline (a live timeline is meant to stay open).
 *
 * - The first message is `empty()`, sent once the upstream has answered with its headers: the
 *   service has then subscribed (it follows before its headers leave), so a client catching up
 *   after it misses nothing in between.
 * - Whenever nothing was sent for `heartbeatMs`, another `empty()` goes out, so proxies that cut
 *   idle connections (an ingress's read timeout, typically 60 s) see traffic.
 * - At `maxLifetimeMs` the stream ends with OK and the upstream call is cancelled; clients
 *   reconnect and catch up. This bounds how long one connection pins a gateway and a service, and
 *   lets streams move to new replicas after a rollout.
 *
 * `open` starts the upstream call with the signal that cancels it and a callback for its headers.
 * The upstream is cancelled whenever the relay ends, including when `signal` (the client's) aborts.
 */
export async function* relayStream<T>(
  open: (signal: AbortSignal, onHeader: () => void) => AsyncIterable<T>,
  empty: () => T,
  signal: AbortSignal,
  settings: Pick<StreamSettings, "maxLifetimeMs" | "heartbeatMs">,
): AsyncGenerator<T> {
  // A call that comes in after shutdown began has its signal aborted already: no listener would hear it.
  if (signal.aborted) throw endedBecause(signal.reason);
  const upstream = new AbortController();
  const cancelUpstream = () => upstream.abort(signal.reason);
  signal.addEventListener("abort", cancelUpstream, { once: true });
  // One waiter at a time; events that come while none waits are kept in these flags.
  let wake: ((event: "headers" | "lifetime") => void) | undefined;
  let headersIn = false;
  let announced = false;
  let lifetimeOver = false;
  const lifetime = setTimeout(() => {
    lifetimeOver = true;
    wake?.("lifetime");
  }, settings.maxLifetimeMs);
  const iterator = open(upstream.signal, () => {
    headersIn = true;
    wake?.("headers");
  })[Symbol.asyncIterator]();
  let heartbeat: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      // Asked once per message, and kept across heartbeats: an iterator must not be asked twice.
      const next: Promise<Next<T>> = iterator.next().then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      let arrived: Next<T> | undefined;
      while (arrived === undefined) {
        const event = await new Promise<Next<T> | "headers" | "lifetime" | "heartbeat">((resolve) => {
          wake = resolve;
          if (lifetimeOver) return resolve("lifetime");
          if (headersIn && !announced) return resolve("headers");
          heartbeat = setTimeout(() => resolve("heartbeat"), settings.heartbeatMs);
          void next.then(resolve);
        });
        wake = undefined;
        clearTimeout(heartbeat);
        if (event === "lifetime") return;
        if (event === "headers" || event === "heartbeat") {
          announced = true;
          yield empty();
        } else {
          arrived = event;
        }
      }
      // Ended here (client gone, its deadline, shutdown): say why, not how the upstream call broke off.
      if ("error" in arrived) throw signal.aborted ? endedBecause(signal.reason) : arrived.error;
      if (arrived.result.done) return;
      if (!announced) {
        announced = true;
        yield empty();
      }
      yield arrived.result.value;
    }
  } finally {
    clearTimeout(lifetime);
    clearTimeout(heartbeat);
    signal.removeEventListener("abort", cancelUpstream);
    // Ends the upstream call if it is still open (lifetime reached, client gone).
    upstream.abort();
  }
}

/** The client's deadline as it is; anything else aborting the call is the client leaving or shutdown. */
function endedBecause(reason: unknown): ConnectError {
  if (reason instanceof ConnectError) return reason;
  return new ConnectError("the stream was closed: the client left or the gateway is shutting down", Code.Canceled);
}

/**
 * PINGs an HTTP/2 connection every `intervalMs` and closes it when a PING is still unanswered at
 * the next one. A client that vanished without closing (a laptop lid, a dropped NAT mapping) is
 * found within two intervals, and its streams end and give their slots back.
 */
export function keepAlive(session: ServerHttp2Session, intervalMs: number): void {
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
      // The session is closing: its close event ends the timer.
      awaiting = false;
    }
  }, intervalMs);
  timer.unref();
  session.once("close", () => clearInterval(timer));
}
