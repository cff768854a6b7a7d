/** A limit per key: `take` answers 0 when a call may go, else the milliseconds until one may. */
export interface Limiter {
  take(key: string): number | Promise<number>;
  sweep(): void;
}

/**
 * Token buckets, one per key: `burst` calls at once, refilled at `perMinute`. Idle buckets are
 * forgotten so memory stays bounded by the number of recently active callers.
 */
export class RateLimiter implements Limiter {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();
  private readonly refillPerMs: number;

  constructor(
    perMinute: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.refillPerMs = perMinute / 60_000;
  }

  /** Takes one token: 0 when allowed, otherwise the milliseconds until one is available. */
  take(key: string): number {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, updated: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + (now - bucket.updated) * this.refillPerMs);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / this.refillPerMs);
  }

  /** Drops buckets that have refilled completely: they hold nothing worth remembering. */
  sweep(): void {
    const now = this.now();
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updated) * this.refillPerMs >= this.burst) this.buckets.delete(key);
    }
  }
}
