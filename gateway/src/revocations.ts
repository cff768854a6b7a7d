import { GATEWAY_FOLLOWS, type LiveSubscriber, type LiveSubscription, type Logger } from "@chirp/kit";
import { decodeEvent, EVENT_SUBJECTS } from "@chirp/kit/events";

/**
 * How long a deleted account's tokens are refused: the longest access-token lifetime the users
 * service accepts (AUTH_TOKEN_TTL_SECONDS at most a day) and the verifier's clock tolerance.
 */
export const DELETED_ACCOUNT_MS = 86_400_000 + 30_000;
/** Revocations remembered at once; each is an id and a time. Past it the soonest to lapse go first. */
const MAX_ENTRIES = 200_000;

/**
 * The deny-list: sessions that ended and accounts that were deleted, each remembered only until
 * every access token it could have issued has expired, so the list stays as small as the number of
 * revocations within one token lifetime. Filled from the users service's events (followRevocations).
 */
export class Revocations {
  private readonly sessions = new Map<string, number>();
  private readonly accounts = new Map<string, number>();

  constructor(private readonly log?: Logger) {}

  /** Refuse tokens naming these sessions until `untilMs`, at most a day (+ tolerance) from now. */
  revokeSessions(sessionIds: readonly string[], untilMs: number, now = Date.now()): void {
    const until = Math.min(untilMs, now + DELETED_ACCOUNT_MS);
    if (until <= now) return;
    for (const id of sessionIds) this.remember(this.sessions, id, until, now);
  }

  /** Refuse every token of the account, for as long as any issued before `deletedAt` could still be valid. */
  accountDeleted(userId: string, deletedAt = Date.now(), now = Date.now()): void {
    const until = Math.min(deletedAt, now) + DELETED_ACCOUNT_MS;
    if (until > now) this.remember(this.accounts, userId, until, now);
  }

  /** Whether a verified token's session was revoked or its account deleted. Two Map lookups. */
  refuses(claims: { sub: string; sid?: string }, now = Date.now()): boolean {
    return this.holds(this.accounts, claims.sub, now) || (claims.sid !== undefined && this.holds(this.sessions, claims.sid, now));
  }

  get size(): number {
    return this.sessions.size + this.accounts.size;
  }

  /** Forgets what has lapsed; run now and then. */
  sweep(now = Date.now()): void {
    for (const map of [this.sessions, this.accounts]) {
      for (const [id, until] of map) if (until <= now) map.delete(id);
    }
  }

  private holds(map: Map<string, number>, id: string, now: number): boolean {
    const until = map.get(id);
    if (until === undefined) return false;
    if (until > now) return true;
    map.delete(id);
    return false;
  }

  private remember(map: Map<string, number>, id: string, until: number, now: number): void {
    if (this.size >= MAX_ENTRIES) {
      this.sweep(now);
      // Still full: entries were added in about the order they lapse, so the first lapses soonest.
      if (this.size >= MAX_ENTRIES) {
        this.log?.warn({ entries: this.size }, "revocation list full: forgetting the revocation that lapses soonest");
        map.delete(map.keys().next().value!);
      }
    }
    map.set(id, Math.max(until, map.get(id) ?? 0));
  }
}

/**
 * Fills the deny-list from the bus: SessionsRevoked and UserDeleted, as the users service's outbox
 * publishes them. A live subscription: every gateway process hears every revocation; one that
 * starts (or restarts) first replays the last DELETED_ACCOUNT_MS of them, every revocation whose
 * tokens may still be valid.
 */
export function followRevocations(bus: LiveSubscriber, revocations: Revocations, log: Logger): Promise<LiveSubscription> {
  return bus.subscribe(
    GATEWAY_FOLLOWS.map((event) => EVENT_SUBJECTS[event]),
    async (message) => {
      const { payload, occurredAt } = decodeEvent(message.data);
      if (payload?.$case === "sessionsRevoked") {
        const { userId, sessionIds, accessTokensExpireBy } = payload.value;
        revocations.revokeSessions(sessionIds, accessTokensExpireBy?.getTime() ?? Date.now() + DELETED_ACCOUNT_MS);
        log.info({ userId, sessions: sessionIds.length, eventId: message.id }, "sessions revoked");
      } else if (payload?.$case === "userDeleted") {
        revocations.accountDeleted(payload.value.userId, occurredAt?.getTime());
        log.info({ userId: payload.value.userId, eventId: message.id }, "deleted account's tokens revoked");
      }
    },
    { replayMs: DELETED_ACCOUNT_MS },
  );
}
