import { newId } from "@chirp/kit";
import { everyoneLive, testConfigFrom } from "@chirp/kit/testing";
import { schema, type TweetsConfig } from "../src/config.js";
import type { TweetRepository } from "../src/domain/ports.js";
import { Tweets, type NewTweet, type TweetsDependencies } from "../src/domain/tweets.js";
import { tweetEvents } from "../src/events.js";
import { InMemoryTweetRepository } from "../src/storage/memory.js";

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

export const testConfig = (overrides: Partial<TweetsConfig> = {}): TweetsConfig => ({ ...testConfigFrom(schema), ...overrides });

/** User-perceived characters that are several code points each. */
export const FAMILY = "👩‍👩‍👧‍👦";
export const FLAG = "🇫🇷";
/** "e" and a combining acute accent: one character, which NFC turns into one code point. */
export const E_ACUTE_DECOMPOSED = "e\u0301";
/** "q" and a combining acute accent: one character that has no precomposed form. */
export const Q_ACUTE = "q\u0301";
