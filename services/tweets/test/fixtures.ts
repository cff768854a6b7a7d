import { newId, type Accounts } from "@chirp/kit";
import type { TweetsConfig } from "../src/config.js";
import type { TweetRepository } from "../src/domain/ports.js";
import { Tweets, type NewTweet, type TweetsDependencies } from "../src/domain/tweets.js";
import { tweetEvents } from "../src/events.js";
import { InMemoryTweetRepository } from "../src/storage/memory.js";

/** Every account is live: the users service is not part of these tests unless one says so. */
export const everyoneLive: Accounts = { isLive: async () => true };

/** Accounts as the users service would answer, with those added to `deleted` deleted. */
export function accountsWithDeletions() {
  const deleted = new Set<string>();
  const asked: string[] = [];
  const accounts: Accounts = {
    isLive: async (userId) => {
      asked.push(userId);
      return !deleted.has(userId);
    },
  };
  return { accounts, deleted, asked };
}

export const domainOn = (repository: TweetRepository, overrides: Partial<TweetsDependencies> = {}) =>
  new Tweets({ repository, events: tweetEvents, accounts: everyoneLive, ...overrides });

export function domainWithMemory() {
  const repository = new InMemoryTweetRepository();
  return { tweets: domainOn(repository), repository };
}

/**
 * The repository seen through a wrapper that records each method called and can make one method
 * throw on its nth call, as if the process died there.
 */
export function instrumented(repository: TweetRepository, failure?: { method: keyof TweetRepository; onCall: number }) {
  const calls: string[] = [];
  const wrapped = new Proxy(repository, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        if (failure?.method === name && calls.filter((c) => c === name).length === failure.onCall) {
          return Promise.reject(new Error("process killed"));
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { repository: wrapped, calls };
}

/** A fresh user id: users live in another service, here they are only ids. */
export const newUserId = () => newId();

/** A valid CreateTweet input. */
export const post = (text: string, overrides: Partial<NewTweet> = {}): NewTweet => ({ text, replyToId: "", tags: [], idempotencyKey: "", ...overrides });

export function testConfig(overrides: Partial<TweetsConfig> = {}): TweetsConfig {
  return {
    serviceName: "tweets",
    host: "127.0.0.1",
    port: 0,
    logLevel: "silent",
    mongo: undefined,
    natsUrl: undefined,
    // Nothing listens there: a test that writes starts a stand-in users service (startFakeUsers).
    upstreams: { users: "127.0.0.1:1" },
    outboxPollMs: 100,
    shutdownDeadlineMs: 5_000,
    ...overrides,
  };
}

/** User-perceived characters that are several code points each. */
export const FAMILY = "👩‍👩‍👧‍👦";
export const FLAG = "🇫🇷";
/** "e" and a combining acute accent: one character, which NFC turns into one code point. */
export const E_ACUTE_DECOMPOSED = "e\u0301";
/** "q" and a combining acute accent: one character that has no precomposed form. */
export const Q_ACUTE = "q\u0301";
