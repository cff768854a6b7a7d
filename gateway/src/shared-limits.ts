import { randomUUID } from "node:crypto";
import { GATEWAY_SHARED_VALUES, type Logger } from "@chirp/kit";
import type { SharedValues } from "@chirp/kit/nats";
import type { Limiter, RateLimiter } from "./rate-limit.js";
import type { Slots } from "./streams.js";

/**
 * Rate limits and stream caps every gateway replica holds together, on shared values in NATS
 * JetStream (`SharedValues`, NATS KV's mechanism). Should NATS not answer, each replica falls back
 * to its own limits, and says so in its log.
 */

/** Where the shared limits live; longer than any bucket takes to refill whole. */
export const LIMITS_VALUES = { ...GATEWAY_SHARED_VALUES, maxAgeMs: 10 * 60_000 };

interface Bucket {
  tokens: number;
  updated: number;
}

/** A lease renewal's outcome: tokens were added to the lease, the bucket is empty for `waitMs`, or NATS did not answer. */
type Renewal = { waitMs: number } | "unreachable";

/**
 * A token bucket per key shared by every gateway replica. A replica takes a few tokens at once
 * (a lease, at most a tenth of the burst) and spends them locally for up to a second: one shared
 * write per lease, not per call. Tokens are taken from the shared bucket before they are spent, so
 * all replicas together never allow more than the budget; a lease's unspent tokens lapse.
 *
 * One renewal per key at a time: the calls that find a caller's lease spent while a renewal is
 * under way wait for it and spend from the new lease. Each renewing on its own made a burst of
 * concurrent calls (a client's 32 streams) race compare-and-set writes on one value, most of them
 * refused and retried, and every winner's lease replaced the last one's unspent tokens, so a
 * caller well within the budget was refused.
 */
export class SharedRateLimiter implements Limiter {
  private readonly leases = new Map<string, { tokens: number; until: number }>();
  private readonly renewals = new Map<string, Promise<Renewal>>();
  private readonly refillPerMs: number;
  private readonly leaseSize: number;
  private warned = false;

  constructor(
    private readonly values: SharedValues,
    private readonly space: string,
    perMinute: number,
    private readonly burst: number,
    private readonly fallback: RateLimiter,
    private readonly log: Logger,
    private readonly leaseMs = 1_000,
  ) {
    this.refillPerMs = perMinute / 60_000;
    this.leaseSize = Math.max(1, Math.floor(burst / 10));
  }

  /** 0 when allowed, otherwise the milliseconds until a token is available. */
  take(key: string): number | Promise<number> {
    // Spent from a live lease without waiting: most calls end here.
    return this.spend(key) ? 0 : this.takeRenewed(key);
  }

  private spend(key: string): boolean {
    const lease = this.leases.get(key);
    if (!lease || lease.until <= Date.now() || lease.tokens < 1) return false;
    lease.tokens -= 1;
    return true;
  }

  private async takeRenewed(key: string): Promise<number> {
    // Each pass waits for a renewal that added at least one token, so the calls waiting on a key
    // are served within as many passes as the leases they need.
    for (;;) {
      let renewal = this.renewals.get(key);
      if (!renewal) {
        renewal = this.renew(key).finally(() => this.renewals.delete(key));
        this.renewals.set(key, renewal);
      }
      const outcome = await renewal;
      if (outcome === "unreachable") return this.fallback.take(key);
      if (outcome.waitMs > 0) return outcome.waitMs;
      if (this.spend(key)) return 0;
    }
  }

  private async renew(key: string): Promise<Renewal> {
    try {
      const outcome = await this.values.update<Bucket, { granted: number; waitMs: number }>(this.values.subject(this.space, key), (bucket) => {
        const at = Date.now();
        const stored = bucket ?? { tokens: this.burst, updated: at };
        const tokens = Math.min(this.burst, stored.tokens + Math.max(0, at - stored.updated) * this.refillPerMs);
        if (tokens < 1) return { result: { granted: 0, waitMs: Math.ceil((1 - tokens) / this.refillPerMs) } };
        const granted = Math.min(this.leaseSize, Math.floor(tokens));
        return { value: { tokens: tokens - granted, updated: at }, result: { granted, waitMs: 0 } };
      });
      this.warned = false;
      if (outcome.granted === 0) return { waitMs: outcome.waitMs };
      // Tokens of a lease still live are kept: they were taken from the shared bucket already.
      const now = Date.now();
      const lease = this.leases.get(key);
      const left = lease && lease.until > now ? lease.tokens : 0;
      this.leases.set(key, { tokens: left + outcome.granted, until: now + this.leaseMs });
      return { waitMs: 0 };
    } catch (error) {
      if (!this.warned) this.log.warn({ err: error, limiter: this.space }, "shared rate limits unreachable; this replica's own limits apply meanwhile");
      this.warned = true;
      return "unreachable";
    }
  }

  sweep(): void {
    const now = Date.now();
    for (const [key, lease] of this.leases) if (lease.until <= now) this.leases.delete(key);
    this.fallback.sweep();
  }
}

/**
 * Open streams per caller across replicas: each replica records how many it holds for a caller
 * under its own id (refreshed while held, so a crashed replica's count lapses with the entry's
 * age), and a new stream is allowed while the sum is under the cap. Two replicas opening a
 * caller's last slot in the same instant may both succeed: the cap can be passed by one per
 * replica for that instant, never more.
 */
export class SharedStreamSlots implements Slots {
  private readonly held = new Map<string, number>();
  private readonly replica = randomUUID();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly values: SharedValues,
    private readonly maxPerCaller: number,
    private readonly log: Logger,
    private readonly space = "streams",
    refreshMs = 60_000,
  ) {
    this.timer = setInterval(() => void this.refresh(), refreshMs);
    this.timer.unref();
  }

  private subject(key: string): string {
    return this.values.subject(this.space, key);
  }

  private async publish(key: string): Promise<void> {
    const count = this.held.get(key) ?? 0;
    await this.values.update<Record<string, { count: number; at: number }>, void>(this.subject(key), (entry) => {
      const now = Date.now();
      const others = Object.fromEntries(Object.entries(entry ?? {}).filter(([id, v]) => id !== this.replica && now - v.at < 3 * 60_000));
      return { value: count > 0 ? { ...others, [this.replica]: { count, at: now } } : others, result: undefined };
    });
  }

  private async refresh(): Promise<void> {
    for (const key of this.held.keys()) await this.publish(key).catch(() => undefined);
  }

  /** A release function, or undefined when the caller holds the most streams allowed. */
  async take(key: string): Promise<(() => void) | undefined> {
    const mine = this.held.get(key) ?? 0;
    try {
      const { value } = await this.values.read<Record<string, { count: number; at: number }>>(this.subject(key));
      const now = Date.now();
      const total = mine + Object.entries(value ?? {}).filter(([id, v]) => id !== this.replica && now - v.at < 3 * 60_000).reduce((sum, [, v]) => sum + v.count, 0);
      if (total >= this.maxPerCaller) return undefined;
    } catch (error) {
      this.log.warn({ err: error }, "shared stream counts unreachable; this replica's own count applies");
      if (mine >= this.maxPerCaller) return undefined;
    }
    this.held.set(key, mine + 1);
    await this.publish(key).catch(() => undefined);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
      void this.publish(key).catch(() => undefined);
    };
  }

  close(): void {
    clearInterval(this.timer);
  }
}
