import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { DomainError, invalidArgument, isId, newId, notFound, unauthenticated, type BusMessage } from "@chirp/kit";
import type { Account, AccountSessions, Session } from "./model.js";
import type { SessionStore, TokenIssuer, UserEvents } from "./ports.js";

export interface SessionSettings {
  /** A session ends when it has not been refreshed for this long. */
  refreshTtlMs: number;
  /** How long an access token lives: a revoked session's tokens are refused at the gateway until then. */
  accessTtlMs: number;
}

/** Sessions an account may hold at once; a new login past it ends the least recently used one. */
export const MAX_SESSIONS = 20;
/** Used refresh tokens remembered per session, to recognise one presented again (theft) rather than just refuse it. */
export const MAX_USED_HASHES = 20;
const MAX_DEVICE_LABEL = 64;
/** `<user id>.<session id>.<secret>`: 26 + 1 + 26 + 1 + 43 characters. */
const MAX_REFRESH_TOKEN = 128;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** How often a change reads the sessions again after another change got in first. */
const ATTEMPTS = 5;
/** The gateway's clock tolerance for token expiry, added to how long it must remember a revocation. */
const VERIFIER_TOLERANCE_MS = 30_000;

export interface IssuedTokens {
  accessToken: string;
  expiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
  sessionId: string;
  account: Account;
}

export interface SessionView {
  id: string;
  deviceLabel: string;
  clientAddress: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  current: boolean;
}

export interface SessionsDependencies {
  store: SessionStore;
  events: UserEvents;
  tokens: TokenIssuer;
  settings: SessionSettings;
  clock: () => Date;
  onEventsRecorded?: () => void;
}

/** What a change to an account's sessions decided. */
interface Change<T> {
  sessions: Session[];
  /** Sessions that end with this change: announced, so their access tokens stop working. */
  revoked: string[];
  passwordHash?: string;
  result: T;
  /** Raised once the change is written (a reused refresh token: the session ends, and the caller hears why). */
  thenFail?: DomainError;
}

const hashOf = (secret: string) => createHash("sha256").update(secret).digest("base64url");

function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The parts of a refresh token, or INVALID_ARGUMENT naming `refresh_token` when it cannot be one. Bounded before it is split. */
export function parseRefreshToken(token: string, field = "refresh_token"): { userId: string; sessionId: string; secret: string } {
  if (token === "") throw invalidArgument(field, "is required");
  if (token.length > MAX_REFRESH_TOKEN) throw invalidArgument(field, "is not a refresh token");
  const [userId, sessionId, secret, ...rest] = token.split(".");
  if (rest.length > 0 || !userId || !sessionId || !secret || !isId(userId) || !isId(sessionId) || !SECRET_PATTERN.test(secret)) {
    throw invalidArgument(field, "is not a refresh token");
  }
  return { userId, sessionId, secret };
}

/** A device label as given: single line, bounded, control characters refused. */
export function deviceLabel(value: string, field = "device_label"): string {
  if (value.length > MAX_DEVICE_LABEL * 2) throw invalidArgument(field, `must be at most ${MAX_DEVICE_LABEL} characters`);
  const label = value.trim();
  if ([...label].length > MAX_DEVICE_LABEL) throw invalidArgument(field, `must be at most ${MAX_DEVICE_LABEL} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(label)) throw invalidArgument(field, "must be a single line without control characters");
  return label;
}

const ended = () => unauthenticated("refresh_token: the session has ended; sign in again");

/**
 * Sessions and their refresh tokens. A refresh token is `<user id>.<session id>.<secret>`: the ids
 * find the session with one read by key, the 256-bit secret proves the holder; only its SHA-256 is
 * stored (a fast hash is enough for a random secret, unlike a password). Each refresh replaces the
 * secret (rotation) and remembers the old hash, so an old token coming back is recognised as a copy
 * in someone else's hands and ends the session for both. Every change is one conditional write of
 * the account's sessions with the events it causes, so nothing is announced that was not written.
 */
export class Sessions {
  constructor(private readonly deps: SessionsDependencies) {}

  /** A new session for an account whose credentials were just checked. */
  async start(account: Account, label: string, clientAddress: string): Promise<IssuedTokens> {
    const secret = randomBytes(32).toString("base64url");
    const now = this.deps.clock();
    const session: Session = {
      id: newId(now.getTime()),
      deviceLabel: label,
      clientAddress,
      createdAt: now,
      lastUsedAt: now,
      expiresAt: this.refreshExpiry(now),
      tokenHash: hashOf(secret),
      usedHashes: [],
    };
    const { result } = await this.change(account.id, (current) => {
      const live = [...current.sessions, session].sort((a, b) => b.lastUsedAt.getTime() - a.lastUsedAt.getTime() || (a.id < b.id ? 1 : -1));
      const evicted = live.slice(MAX_SESSIONS).filter((s) => s.id !== session.id);
      const kept = live.filter((s) => !evicted.includes(s));
      return { sessions: kept, revoked: evicted.map((s) => s.id), result: current.account };
    });
    return this.issue(result, session, secret);
  }

  /** Rotation: the token given is used up, a new pair comes back with the account's roles as they are now. */
  async refresh(refreshToken: string, clientAddress: string): Promise<IssuedTokens> {
    const { userId, sessionId, secret } = parseRefreshToken(refreshToken);
    const presented = hashOf(secret);
    const next = randomBytes(32).toString("base64url");
    const { result } = await this.change(userId, (current, now): Change<{ account: Account; session: Session } | undefined> => {
      const session = current.sessions.find((s) => s.id === sessionId);
      if (!session) throw ended();
      if (!sameHash(session.tokenHash, presented)) {
        if (!session.usedHashes.some((used) => sameHash(used, presented))) throw unauthenticated("refresh_token: is not valid");
        // A used token again: whoever holds the newer one and whoever holds this, one is a thief.
        return {
          sessions: current.sessions.filter((s) => s.id !== sessionId),
          revoked: [sessionId],
          result: undefined,
          thenFail: unauthenticated("refresh_token: was already used, so the session has been ended for safety; sign in again"),
        };
      }
      const rotated: Session = {
        ...session,
        tokenHash: hashOf(next),
        usedHashes: [...session.usedHashes, session.tokenHash].slice(-MAX_USED_HASHES),
        lastUsedAt: now,
        expiresAt: this.refreshExpiry(now),
        clientAddress: clientAddress || session.clientAddress,
      };
      return { sessions: current.sessions.map((s) => (s.id === sessionId ? rotated : s)), revoked: [], result: { account: current.account, session: rotated } };
    }, ended);
    return this.issue(result!.account, result!.session, next);
  }

  /** The user's live sessions, most recently used first. */
  async list(userId: string, currentSessionId: string | undefined): Promise<SessionView[]> {
    const current = await this.deps.store.findSessions(userId);
    if (!current) throw notFound("user", "the caller's account does not exist");
    const now = this.deps.clock().getTime();
    return current.sessions
      .filter((s) => s.expiresAt.getTime() > now)
      .sort((a, b) => b.lastUsedAt.getTime() - a.lastUsedAt.getTime())
      .map((s) => ({
        id: s.id,
        deviceLabel: s.deviceLabel,
        clientAddress: s.clientAddress,
        createdAt: s.createdAt,
        lastUsedAt: s.lastUsedAt,
        expiresAt: s.expiresAt,
        current: s.id === currentSessionId,
      }));
  }

  /**
   * Ends one of the user's sessions; NOT_FOUND naming `field` when the user has no such session,
   * whether it never existed, has ended or is someone else's: the answer tells nobody whose it is.
   */
  async revoke(userId: string, sessionId: string, field = "session_id"): Promise<void> {
    if (sessionId === "") throw invalidArgument(field, "is required");
    if (!isId(sessionId)) throw invalidArgument(field, "is not a session id");
    await this.change(userId, (current) => {
      if (!current.sessions.some((s) => s.id === sessionId)) throw notFound(field, `you have no session "${sessionId}"`);
      return { sessions: current.sessions.filter((s) => s.id !== sessionId), revoked: [sessionId], result: undefined };
    });
  }

  /** Ends every session of the user but `except`, and stores `passwordHash` with it when given. Answers how many ended. */
  async revokeAll(userId: string, except: string | undefined, passwordHash?: string): Promise<number> {
    const { result } = await this.change(userId, (current) => {
      const revoked = current.sessions.filter((s) => s.id !== except).map((s) => s.id);
      return { sessions: current.sessions.filter((s) => s.id === except), revoked, passwordHash, result: revoked.length };
    });
    return result;
  }

  /**
   * Reads the sessions, lets `decide` change them (expired ones are dropped first, unannounced: their
   * access tokens have long expired), and writes the result if nothing changed them meanwhile, else
   * tries again. An account that does not exist is `missing()`.
   */
  private async change<T>(
    userId: string,
    decide: (current: AccountSessions, now: Date) => Change<T>,
    missing: () => DomainError = () => notFound("user", "the account does not exist"),
  ): Promise<Change<T>> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      const stored = await this.deps.store.findSessions(userId);
      if (!stored) throw missing();
      const now = this.deps.clock();
      const live = stored.sessions.filter((s) => s.expiresAt.getTime() > now.getTime());
      const change = decide({ ...stored, sessions: live }, now);
      const events: BusMessage[] =
        change.revoked.length > 0 ? [this.deps.events.sessionsRevoked(userId, change.revoked, now, new Date(now.getTime() + this.deps.settings.accessTtlMs + VERIFIER_TOLERANCE_MS))] : [];
      const saved = await this.deps.store.saveSessions(userId, stored.version, change.sessions, events, change.passwordHash);
      if (saved === "missing") throw missing();
      if (saved === "stale") continue;
      if (events.length > 0) this.deps.onEventsRecorded?.();
      if (change.thenFail) throw change.thenFail;
      return change;
    }
    throw new DomainError("ABORTED", `sessions: changed during each of ${ATTEMPTS} attempts; retry`);
  }

  private refreshExpiry(now: Date): Date {
    return new Date(now.getTime() + this.deps.settings.refreshTtlMs);
  }

  private issue(account: Account, session: Session, secret: string): IssuedTokens {
    const { token, expiresAt } = this.deps.tokens.sign(account.id, account.roles, this.deps.clock().getTime(), session.id);
    return {
      accessToken: token,
      expiresAt,
      refreshToken: `${account.id}.${session.id}.${secret}`,
      refreshExpiresAt: session.expiresAt,
      sessionId: session.id,
      account,
    };
  }
}
