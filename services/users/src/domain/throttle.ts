/**
 * Slows down password guessing against one account, whatever addresses the guesses come from (the
 * gateway limits each address on its own). Keyed by what the caller typed (a username or an email,
 * lower-cased), never by whether it names an account: a name that names nobody is throttled exactly
 * like one that does, so the throttle tells nothing about which accounts exist. The price: an
 * account's username and email are counted apart.
 *
 * The first FREE_FAILURES failures cost nothing; each one after makes the next attempt wait twice
 * as long, from BASE_DELAY_MS up to MAX_DELAY_MS. Attempts made while waiting are refused before any
 * work and are not counted. A success, or FORGET_AFTER_MS without failures, starts over.
 *
 * Kept in process memory, bounded to MAX_ENTRIES names (the oldest forgotten first): every replica
 * counts on its own, and a restart forgets.
 */
export const THROTTLE = {
  FREE_FAILURES: 5,
  BASE_DELAY_MS: 1_000,
  MAX_DELAY_MS: 5 * 60_000,
  FORGET_AFTER_MS: 15 * 60_000,
  MAX_ENTRIES: 10_000,
} as const;

interface Failures {
  count: number;
  lastAt: number;
  /** No attempt before this time (ms since the epoch). */
  nextAllowedAt: number;
}

export class LoginThrottle {
  private readonly entries = new Map<string, Failures>();

  constructor(
    private readonly clock: () => Date = () => new Date(),
    private readonly settings: typeof THROTTLE = THROTTLE,
  ) {}

  /** How long the key must still wait before its next attempt, in ms; 0 when it may try now. */
  waitMs(key: string): number {
    const entry = this.current(key);
    return entry ? Math.max(0, entry.nextAllowedAt - this.clock().getTime()) : 0;
  }

  failed(key: string): void {
    const now = this.clock().getTime();
    const count = (this.current(key)?.count ?? 0) + 1;
    const over = count - this.settings.FREE_FAILURES;
    const delay = over >= 0 ? Math.min(this.settings.MAX_DELAY_MS, this.settings.BASE_DELAY_MS * 2 ** Math.min(over, 30)) : 0;
    // Delete then set: the map's order is the order of last failure, so the oldest goes first.
    this.entries.delete(key);
    if (this.entries.size >= this.settings.MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { count, lastAt: now, nextAllowedAt: now + delay });
  }

  succeeded(key: string): void {
    this.entries.delete(key);
  }

  private current(key: string): Failures | undefined {
    const entry = this.entries.get(key);
    if (entry && this.clock().getTime() - entry.lastAt > this.settings.FORGET_AFTER_MS) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }
}
