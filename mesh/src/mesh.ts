import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { createLogger, generateSigningKeyPair, type EventBus, type LevelWithSilent, type Logger } from "@chirp/kit";
import { InProcessEventBus } from "@chirp/kit/events";
import { startGateway, type GatewayApp, type UpstreamService } from "@chirp/gateway";
import { loadConfig as gatewayConfig } from "@chirp/gateway/config";
import { startGraph } from "@chirp/graph";
import { loadConfig as graphConfig } from "@chirp/graph/config";
import { startTimeline } from "@chirp/timeline";
import { loadConfig as timelineConfig } from "@chirp/timeline/config";
import { startTweets } from "@chirp/tweets";
import { loadConfig as tweetsConfig } from "@chirp/tweets/config";
import { startUsers, type UsersApp } from "@chirp/users";
import { loadConfig as usersConfig } from "@chirp/users/config";

type Env = Record<string, string | undefined>;

export interface Mesh {
  gateway: GatewayApp;
  /** Where each service's gRPC server listens, on 127.0.0.1. */
  ports: { users: number; tweets: number; graph: number; timeline: number };
  /** The in-process bus, when NATS_URL is not set. */
  bus: EventBus | undefined;
  /** The users service's operator handle for roles: how the demo data makes its admin. */
  roles: UsersApp["roles"];
  stop(): Promise<void>;
}

/**
 * Every service and the gateway in one process, each through its own composition root and its own
 * gRPC server on a loopback port, exactly as in production. Storage and events follow the
 * environment: MongoDB and JetStream when MONGODB_URI and NATS_URL are set, otherwise memory and
 * one in-process bus shared by all services. Services get ephemeral ports; the gateway keeps its
 * configured ones. `extraUpstreams` are more services for the gateway to forward (the benchmark's
 * do-nothing backend).
 */
export async function startMesh(env: Env = process.env, log: Logger = createLogger("mesh", "info"), extraUpstreams: UpstreamService[] = []): Promise<Mesh> {
  const child = (service: string) => createLogger(service, log.level as LevelWithSilent);
  const bus = env.NATS_URL ? undefined : new InProcessEventBus(child("bus"));
  // One signing key for the whole mesh: the configured one, or a throwaway for development.
  const signingKey = env.AUTH_SIGNING_KEY_FILE ? readFileSync(env.AUTH_SIGNING_KEY_FILE, "utf8") : (env.AUTH_SIGNING_KEY ?? generateSigningKeyPair().privateKeyPem);
  const publicKey = createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString();
  const internal: Env = { ...env, GRPC_HOST: "127.0.0.1", GRPC_PORT: "0", AUTH_SIGNING_KEY: signingKey, AUTH_SIGNING_KEY_FILE: undefined };
  // Each service owns its database, as in production: <prefix>_users, <prefix>_tweets, …
  const prefix = env.MONGODB_DATABASE_PREFIX ?? "chirp";
  const own = (service: string): Env => ({ ...internal, MONGODB_DATABASE: `${prefix}_${service}` });
  const stops: Array<() => Promise<void>> = [];
  try {
    const users = await startUsers(usersConfig(own("users")), { log: child("users"), bus });
    stops.push(users.stop);
    // Tweets and graph ask users, before every write, whether the caller's account is live.
    const usersAddress = { USERS_ADDRESS: `127.0.0.1:${users.port}` };
    const tweets = await startTweets(tweetsConfig({ ...own("tweets"), ...usersAddress }), { log: child("tweets"), bus });
    stops.push(tweets.stop);
    const graph = await startGraph(graphConfig({ ...own("graph"), ...usersAddress }), { log: child("graph"), bus });
    stops.push(graph.stop);
    const addresses = {
      ...usersAddress,
      TWEETS_ADDRESS: `127.0.0.1:${tweets.port}`,
      GRAPH_ADDRESS: `127.0.0.1:${graph.port}`,
    };
    const timeline = await startTimeline(timelineConfig({ ...own("timeline"), ...addresses }), { log: child("timeline"), bus });
    stops.push(timeline.stop);
    const gateway = await startGateway(
      gatewayConfig({ ...env, ...addresses, TIMELINE_ADDRESS: `127.0.0.1:${timeline.port}`, AUTH_PUBLIC_KEY: publicKey, AUTH_PUBLIC_KEY_FILE: undefined }),
      { log: child("gateway"), extraUpstreams },
    );
    stops.push(gateway.stop);
    return {
      gateway,
      ports: { users: users.port, tweets: tweets.port, graph: graph.port, timeline: timeline.port },
      bus,
      roles: users.roles,
      stop: async () => {
        for (const stop of stops.reverse()) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop();
    throw error;
  }
}
