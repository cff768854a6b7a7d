import { createLogger, Lifecycle, OutboxRelay, type EventBus, type Logger, type OutboxStore } from "@chirp/kit";
import { InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { bindService, GrpcServer, UserAccounts } from "@chirp/kit/grpc";
import { connectMongo } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { warnAboutFallbacks, type TweetsConfig } from "./config.js";
import type { TweetRepository } from "./domain/ports.js";
import { Tweets } from "./domain/tweets.js";
import { consumeEvents, tweetEvents, TWEETS_CONSUMER } from "./events.js";
import { TweetsService, tweetsHandlers } from "./grpc/handlers.js";
import { InMemoryTweetRepository } from "./storage/memory.js";
import { MongoTweetRepository } from "./storage/mongo.js";

/** What the embedded mesh or a test may supply instead of the configured parts. */
export interface TweetsOverrides {
  log?: Logger;
  /** A bus shared with other services in the same process. */
  bus?: EventBus;
  /** The durable consumer's name; tests sharing one NATS server each need their own. */
  consumerName?: string;
}

export interface TweetsApp {
  port: number;
  relay: OutboxRelay;
  bus: EventBus;
  stop(): Promise<void>;
}

/**
 * The composition root: connects storage and the event bus, wires the domain to them, subscribes
 * it to the events it reacts to and serves it over gRPC. The server listens first (health
 * NOT_SERVING) and serves once everything is up.
 */
export async function startTweets(config: TweetsConfig, overrides: TweetsOverrides = {}): Promise<TweetsApp> {
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  warnAboutFallbacks(config, log);
  const lifecycle = new Lifecycle(log);
  const server = await GrpcServer.start({ host: config.host, port: config.port, services: [TweetsService], log });
  try {
    let repository: TweetRepository;
    let outbox: OutboxStore;
    if (config.mongo) {
      const mongo = await connectMongo(config.mongo.uri, config.mongo.database, log);
      lifecycle.onStop("MongoDB", () => mongo.close());
      const store = await MongoTweetRepository.open(mongo.db);
      repository = store;
      outbox = store.outbox;
    } else {
      const store = new InMemoryTweetRepository();
      repository = store;
      outbox = store;
    }

    let bus: EventBus;
    if (overrides.bus) {
      bus = overrides.bus;
    } else if (config.natsUrl) {
      const jetstream = await JetStreamBus.connect(config.natsUrl, `chirp-${config.serviceName}`, log);
      lifecycle.onStop("NATS", () => jetstream.close());
      await jetstream.ensureStreams([STREAMS.tweets, STREAMS.users, STREAMS.deadLetters]);
      bus = jetstream;
    } else {
      bus = new InProcessEventBus(log);
    }

    const relay = new OutboxRelay(outbox, bus, log, { pollIntervalMs: config.outboxPollMs });
    relay.start();
    lifecycle.onStop("outbox relay", () => relay.stop());

    // Connects on first use: the users service need not be up for this one to start and serve reads.
    const accounts = new UserAccounts(config.upstreams.users);
    lifecycle.onStop("users client", () => accounts.close());
    const tweets = new Tweets({ repository, events: tweetEvents, accounts, onEventsRecorded: () => relay.notify() });
    const consumer = await consumeEvents(bus, tweets, overrides.consumerName ?? TWEETS_CONSUMER);
    lifecycle.onStop("event consumer", () => consumer.stop());
    // Registered last so it stops first: calls drain while storage and the bus are still there.
    lifecycle.onStop("gRPC server", () => server.shutdown());
    server.activate(TweetsService, bindService(TweetsService, tweetsHandlers(tweets), log));
    log.info({ port: server.port }, "tweets service ready");

    return { port: server.port, relay, bus, stop: () => lifecycle.stop() };
  } catch (error) {
    await server.shutdown();
    await lifecycle.stop();
    throw error;
  }
}
