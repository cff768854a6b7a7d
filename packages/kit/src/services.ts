import type { EventType, STREAMS } from "./events/catalog.js";

/**
 * One service of the mesh, as everything outside its folder needs to know it. The rest follows
 * from its name, by convention:
 *
 * - its folder is `services/<name>`, its npm package `@chirp/<name>`, whose `.` export (src/app.ts)
 *   has `start<Name>(config, overrides)` and whose `./config` export (src/config.ts) has `schema`
 *   and `loadConfig`;
 * - its image is `chirp-<name>`, built from the Dockerfile with SERVICE=services/<name>;
 * - its Kubernetes ServiceAccount, Service, Deployment and PodDisruptionBudget are `<name>`
 *   (services/<name>/k8s), its database `chirp_<name>`;
 * - other processes find it at `<NAME>_ADDRESS` (host:port).
 */
export interface ServiceEntry {
  /** Lower case letters, digits and "-". */
  name: string;
  /** What it owns, in a few words, for the services page (services/README.md). */
  summary: string;
  /** The gRPC service it serves, by its full proto name. */
  grpcService: string;
  /** Its gRPC port: GRPC_PORT's default, its Kubernetes Service's port, where local runs find it. */
  port: number;
  /** Whether the gateway forwards it; the rules of its RPCs are then in gateway/src/access.ts. */
  gateway: boolean;
  /** The stream its outbox relay publishes its events to. */
  publishes?: Exclude<keyof typeof STREAMS, "deadLetters">;
  /**
   * Its durable JetStream consumer: the events it reads (as its events.ts subscribes to them), the
   * consumer's name in production (`durable`: the default of its setting), and the setting that
   * names the consumer. Without `setting`, the name is the `consumerName` its start takes among its
   * overrides. The NATS permissions (nats/authorization.ts) let only this service use the consumer.
   */
  consumer?: { events: readonly EventType[]; durable: string; setting?: string };
  /**
   * The events it follows live (ordered, ephemeral consumers, as its events.ts subscribes to them
   * with `bus.subscribe`), for its NATS permissions.
   */
  live?: readonly EventType[];
}

/**
 * Every service of the mesh, in the order the embedded mesh starts them: a service comes after
 * the ones it calls (whose `<NAME>_ADDRESS` it reads). The embedded mesh, the gateway's upstreams,
 * the test fixtures and the checks of the Kubernetes manifests and skaffold.yaml read this list;
 * docs/adding-a-service.md says what else a new service needs.
 */
export const SERVICES = [
  {
    name: "users",
    summary: "accounts, login, profiles, roles",
    grpcService: "chirp.users.v1.UsersService",
    port: 50051,
    gateway: true,
    publishes: "users",
  },
  {
    name: "tweets",
    summary: "posts, likes, retweets, tags",
    grpcService: "chirp.tweets.v1.TweetsService",
    port: 50052,
    gateway: true,
    publishes: "tweets",
    consumer: { events: ["userDeleted", "tweetDeleted"], durable: "tweets" },
  },
  {
    name: "graph",
    summary: "follow edges, counts",
    grpcService: "chirp.graph.v1.GraphService",
    port: 50053,
    gateway: true,
    publishes: "graph",
    consumer: { events: ["userCreated", "userDeleted"], durable: "graph_user_events", setting: "USER_EVENTS_CONSUMER" },
  },
  {
    name: "timeline",
    summary: "home timelines, fan-out on write",
    grpcService: "chirp.timeline.v1.TimelineService",
    port: 50054,
    gateway: true,
    consumer: {
      events: ["tweetCreated", "tweetDeleted", "tweetLiked", "tweetUnliked", "userFollowed", "userUnfollowed", "userCreated", "userProfileChanged", "userDeleted"],
      durable: "timeline",
      setting: "CONSUMER_NAME",
    },
    live: ["tweetCreated"],
  },
  {
    name: "notifications",
    summary: "mentions, replies, likes, retweets and follows, per user",
    grpcService: "chirp.notifications.v1.NotificationsService",
    port: 50055,
    gateway: true,
    consumer: {
      events: ["tweetCreated", "tweetDeleted", "tweetLiked", "tweetUnliked", "userFollowed", "userUnfollowed", "userDeleted"],
      durable: "notifications",
      setting: "CONSUMER_NAME",
    },
    live: ["tweetCreated", "tweetLiked", "userFollowed"],
  },
] as const satisfies readonly ServiceEntry[];

export type CatalogedService = (typeof SERVICES)[number];
export type ServiceName = CatalogedService["name"];
/** The services that keep a durable consumer. */
export type ConsumingServiceName = Extract<CatalogedService, { consumer: object }>["name"];
/** The services that publish events through an outbox. */
export type PublishingServiceName = Extract<CatalogedService, { publishes: string }>["name"];
export type GatewayServiceName = Extract<CatalogedService, { gateway: true }>["name"];

/**
 * The events every gateway process follows live (not a durable consumer): the users service's
 * session revocations and account deletions, whose access tokens it then refuses.
 */
export const GATEWAY_FOLLOWS = ["sessionsRevoked", "userDeleted"] as const satisfies readonly EventType[];

/**
 * Where every gateway replica keeps the rate limits and stream counts they share
 * (gateway/src/shared-limits.ts): a stream of its own, which only the gateway reads and writes.
 */
export const GATEWAY_SHARED_VALUES = { stream: "CHIRP_LIMITS", prefix: "chirp.limits" } as const;

/** The services the gateway forwards, in the catalogue's order. */
export const GATEWAY_SERVICES = SERVICES.filter((s): s is Extract<CatalogedService, { gateway: true }> => s.gateway);

/** The variable other processes read a service's host:port from: USERS_ADDRESS, USER_SEARCH_ADDRESS. */
export const addressVariable = (name: string) => `${name.toUpperCase().replace(/-/g, "_")}_ADDRESS`;
