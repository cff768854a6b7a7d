import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createLogger, generateSigningKeyPair, type EventBus, type LevelWithSilent, type Logger } from "@chirp/kit";
import { EVENT_SUBJECTS, InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { connectMongo } from "@chirp/kit/mongo";
import { durableFromNow, JetStreamBus } from "@chirp/kit/nats";
import { startGateway, type GatewayApp, type UpstreamService } from "@chirp/gateway";
import { loadConfig as gatewayConfig } from "@chirp/gateway/config";
import { startGraph, type GraphApp } from "@chirp/graph";
import { loadConfig as graphConfig } from "@chirp/graph/config";
import { startTimeline, type TimelineApp } from "@chirp/timeline";
import { loadConfig as timelineConfig } from "@chirp/timeline/config";
import { startTweets, type TweetsApp } from "@chirp/tweets";
import { loadConfig as tweetsConfig } from "@chirp/tweets/config";
import { startUsers, type UsersApp } from "@chirp/users";
import { loadConfig as usersConfig } from "@chirp/users/config";

type Env = Record<string, string | undefined>;
type Service = "users" | "tweets" | "graph" | "timeline";
const SERVICES: readonly Service[] = ["users", "tweets", "graph", "timeline"];

/**
 * The subjects each service's durable consumer reads (see its events.ts). A run's consumers are
 * made from them before the services start, and must sit on the same streams as the service's
 * own: on a stream where it finds none, a service makes one that replays the stream from its
 * beginning. (The service then sets the subjects itself.)
 */
const CONSUMED_SUBJECTS = {
  tweets: [EVENT_SUBJECTS.userDeleted, EVENT_SUBJECTS.tweetDeleted],
  graph: [EVENT_SUBJECTS.userCreated, EVENT_SUBJECTS.userDeleted],
  /** Every event: posts, likes and follows to fan out, and the people it shows. */
  timeline: Object.values(EVENT_SUBJECTS),
} satisfies Partial<Record<Service, string[]>>;
type ConsumingService = keyof typeof CONSUMED_SUBJECTS;

export interface MeshOptions {
  /**
   * The settings of every service and of the gateway, read as each reads its own environment
   * (default: this process's). MONGODB_URI and NATS_URL choose MongoDB, a database per service,
   * and JetStream; without them data stays in memory and events go through one in-process bus.
   * Test and benchmark knobs are settings too: PASSWORD_HASH_COST, OUTBOX_POLL_MS,
   * CELEBRITY_FOLLOWERS, …
   */
  env?: Env;
  log?: Logger;
  /**
   * The gateway listens on 127.0.0.1 at ports the system picks, whatever HTTP_HOST, HTTP_PORT and
   * HTTP2_PORT say (the services always do): for tests and benchmarks, which run beside each other
   * and beside `npm start`.
   */
  loopback?: boolean;
  /**
   * A run of its own on servers shared with other runs (tests, benchmarks): its databases are
   * `<run>_<service>`, and its durable consumers `<run>_<service>` are made before the services
   * start, at the streams' end, so that earlier runs' events are not replayed. `stop` removes
   * both, unless `keep`.
   */
  run?: string;
  keep?: boolean;
  /** More services for the gateway to forward (the benchmark's do-nothing backend). */
  extraUpstreams?: UpstreamService[];
}

export interface Mesh {
  gateway: GatewayApp;
  /** Where each service's gRPC server listens, on 127.0.0.1. */
  ports: Record<Service, number>;
  /** The same as "127.0.0.1:<port>", for clients. */
  addresses: Record<Service, string>;
  /** Each service's composition root, for what a test or a benchmark looks at (an outbox relay to flush). */
  apps: { users: UsersApp; tweets: TweetsApp; graph: GraphApp; timeline: TimelineApp };
  /** Each service's MongoDB database (when MONGODB_URI is set). */
  databases: Record<Service, string>;
  /** The run's durable consumers, when a run was named. */
  consumers: Record<ConsumingService, string> | undefined;
  /** The in-process bus, when NATS_URL is not set. */
  bus: EventBus | undefined;
  /** The users service's operator handle for roles: how the demo data makes its admin. */
  roles: UsersApp["roles"];
  /** Stops the gateway, then the services in reverse order, then removes the run's consumers and databases. */
  stop(): Promise<void>;
}

/**
 * Every service and the gateway in one process, each through its own composition root and its own
 * gRPC server on a loopback port, exactly as in production: `npm start`, the end-to-end tests and
 * the benchmarks all start the mesh here. Services get ephemeral ports; the gateway keeps its
 * configured ones unless `loopback`.
 */
export async function startMesh(options: MeshOptions = {}): Promise<Mesh> {
  const { env = process.env, log = createLogger("mesh", "info"), run } = options;
  const child = (name: string) => createLogger(name, log.level as LevelWithSilent);
  const bus = env.NATS_URL ? undefined : new InProcessEventBus(child("bus"));
  // One signing key for the whole mesh: the configured one, or a throwaway for development.
  const signingKey = env.AUTH_SIGNING_KEY_FILE ? readFileSync(env.AUTH_SIGNING_KEY_FILE, "utf8") : (env.AUTH_SIGNING_KEY ?? generateSigningKeyPair().privateKeyPem);
  const publicKey = createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString();
  const internal: Env = { ...env, GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", AUTH_SIGNING_KEY: signingKey, AUTH_SIGNING_KEY_FILE: undefined };
  // Each service owns its database, as in production: <prefix>_users, <prefix>_tweets, …
  const prefix = run ?? env.MONGODB_DATABASE_PREFIX ?? "chirp";
  const databases = Object.fromEntries(SERVICES.map((s) => [s, `${prefix}_${s}`])) as Record<Service, string>;
  const own = (service: Service): Env => ({ ...internal, MONGODB_DATABASE: databases[service] });
  const consumers = run ? { tweets: `${run}_tweets`, graph: `${run}_graph`, timeline: `${run}_timeline` } : undefined;

  const stops: Array<() => Promise<unknown>> = [];
  /** Every step runs even when one before it fails, so a failed start still removes what it made. */
  const stopAll = async () => {
    const failures: unknown[] = [];
    for (const stop of stops.splice(0).reverse()) await stop().catch((error: unknown) => failures.push(error));
    if (failures.length > 0) throw failures[0];
  };
  try {
    if (run) await prepareRun(env, databases, consumers!, stops, options.keep ?? false, child("mesh"));

    const users = await startUsers(usersConfig(own("users")), { log: child("users"), bus });
    stops.push(users.stop);
    // Tweets and graph ask users, before every write, whether the caller's account is live.
    const usersAddress = { USERS_ADDRESS: `127.0.0.1:${users.port}` };
    const tweets = await startTweets(tweetsConfig({ ...own("tweets"), ...usersAddress }), { log: child("tweets"), bus, consumerName: consumers?.tweets });
    stops.push(tweets.stop);
    const graph = await startGraph(
      graphConfig({ ...own("graph"), ...usersAddress, ...(consumers && { USER_EVENTS_CONSUMER: consumers.graph }) }),
      { log: child("graph"), bus },
    );
    stops.push(graph.stop);
    const addresses = {
      ...usersAddress,
      TWEETS_ADDRESS: `127.0.0.1:${tweets.port}`,
      GRAPH_ADDRESS: `127.0.0.1:${graph.port}`,
    };
    const timeline = await startTimeline(
      timelineConfig({ ...own("timeline"), ...addresses, ...(consumers && { CONSUMER_NAME: consumers.timeline }) }),
      { log: child("timeline"), bus },
    );
    stops.push(timeline.stop);
    const gateway = await startGateway(
      gatewayConfig({
        ...env,
        ...addresses,
        TIMELINE_ADDRESS: `127.0.0.1:${timeline.port}`,
        AUTH_PUBLIC_KEY: publicKey,
        AUTH_PUBLIC_KEY_FILE: undefined,
        ...(options.loopback && { HTTP_HOST: "127.0.0.1", HTTP_PORT: "0", HTTP2_PORT: "0" }),
      }),
      { log: child("gateway"), extraUpstreams: options.extraUpstreams ?? [] },
    );
    stops.push(gateway.stop);

    const ports = { users: users.port, tweets: tweets.port, graph: graph.port, timeline: timeline.port };
    return {
      gateway,
      ports,
      addresses: Object.fromEntries(SERVICES.map((s) => [s, `127.0.0.1:${ports[s]}`])) as Record<Service, string>,
      apps: { users, tweets, graph, timeline },
      databases,
      consumers,
      bus,
      roles: users.roles,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/**
 * Makes a run's durable consumers at the streams' end (with NATS_URL), and registers their
 * removal and that of the run's databases (with MONGODB_URI) to follow the services' stop.
 */
async function prepareRun(
  env: Env,
  databases: Record<Service, string>,
  consumers: Record<ConsumingService, string>,
  stops: Array<() => Promise<unknown>>,
  keep: boolean,
  log: Logger,
): Promise<void> {
  const { MONGODB_URI: mongoUri, NATS_URL: natsUrl } = env;
  if (natsUrl) {
    const admin = await JetStreamBus.connect(natsUrl, "chirp-mesh-run", log);
    stops.push(() => admin.close());
    await admin.ensureStreams([STREAMS.users, STREAMS.tweets, STREAMS.graph, STREAMS.deadLetters]);
    for (const service of Object.keys(consumers) as ConsumingService[]) {
      const remove = await durableFromNow(admin, consumers[service], CONSUMED_SUBJECTS[service]);
      if (!keep) stops.push(remove);
    }
  }
  if (mongoUri && !keep) {
    stops.push(async () => {
      const connection = await connectMongo(mongoUri, databases.users, log);
      try {
        for (const database of Object.values(databases)) await connection.client.db(database).dropDatabase();
      } finally {
        await connection.close();
      }
    });
  }
}
