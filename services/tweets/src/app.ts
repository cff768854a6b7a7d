import { STREAMS } from "@chirp/kit/events";
import { repositoryWithOutbox, startService, type RepositoryStorage, type ServiceApp, type ServiceOverrides } from "@chirp/kit/service";
import { schema, type TweetsConfig } from "./config.js";
import type { TweetRepository } from "./domain/ports.js";
import { Tweets } from "./domain/tweets.js";
import { consumeEvents, tweetEvents, TWEETS_CONSUMER } from "./events.js";
import { TweetsService, tweetsHandlers } from "./grpc/handlers.js";
import { tweetsPeers } from "./grpc/peers.js";
import { InMemoryTweetRepository } from "./storage/memory.js";
import { MongoTweetRepository } from "./storage/mongo.js";

export interface TweetsOverrides extends ServiceOverrides {
  /** The durable consumer's name; tests sharing one NATS server each need their own. */
  consumerName?: string;
}

export type TweetsApp = ServiceApp<RepositoryStorage<TweetRepository>>;

/**
 * The composition root: tweets on their repository, announced through its outbox, checking with
 * the users service before every write, and reacting to users' and their own events.
 */
export function startTweets(config: TweetsConfig, overrides: TweetsOverrides = {}): Promise<TweetsApp> {
  return startService({
    config,
    schema,
    overrides,
    service: TweetsService,
    peers: tweetsPeers,
    streams: [STREAMS.tweets, STREAMS.users],
    storage: repositoryWithOutbox<TweetRepository>(() => new InMemoryTweetRepository(), (db) => MongoTweetRepository.open(db)),
    async parts({ storage: { repository }, bus, eventsRecorded, accounts, own }) {
      // One users client answers both questions: is the caller live, and who are the likers.
      const tweets = new Tweets({ repository, events: tweetEvents, accounts: accounts(), profiles: accounts(), onEventsRecorded: eventsRecorded });
      own("event consumer", await consumeEvents(bus, tweets, overrides.consumerName ?? TWEETS_CONSUMER));
      return { handlers: tweetsHandlers(tweets) };
    },
  });
}
