import type { DescMethod, DescService, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { Code, ConnectError } from "@connectrpc/connect";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { LoadTestService } from "@chirp/proto/es/chirp/loadtest/v1/loadtest_pb";
import { NotificationsService } from "@chirp/proto/es/chirp/notifications/v1/notifications_pb";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";

/**
 * The rule of one RPC: who may call it through the gateway, and the budget a call spends.
 *
 * Who:
 * - `public`: anyone; no token is read (registering and logging in come before having one);
 * - `signed-in`: a caller with a valid access token;
 * - `admin`: a caller whose valid access token carries the admin role;
 * - `internal`: nobody; the RPC is for the mesh's own services and is never served here.
 *
 * Budget, and whose:
 * - `read`: the caller's read budget (READS_PER_MINUTE, READ_BURST);
 * - `write`: the caller's write budget (WRITES_PER_MINUTE, WRITE_BURST);
 * - `entry`: the write budget of the client's address, for registering and logging in, which
 *   come before there is a caller to count against.
 *
 * `Request` is the RPC's request message, for rules that read it.
 */
export type Rule<Request = never> =
  | { who: "public"; budget: "entry" }
  | {
      who: "signed-in";
      budget: "read" | "write";
      /** Requests that need the admin role all the same, and the refusal a caller without it gets. */
      adminFor?: { asks: (request: Request) => boolean; refusal: string };
    }
  /**
   * `refusal` is the service's own, word for word, where the service checks too: the caller gets
   * one answer whichever refuses first.
   */
  | { who: "admin"; budget: "read" | "write"; refusal: string }
  | { who: "internal" };

/** A rule of an RPC the gateway serves. */
export type ServedRule = Exclude<Rule, { who: "internal" }>;

export const ADMIN_ROLE = "admin";

const PUBLIC = { who: "public", budget: "entry" } as const;
const READ = { who: "signed-in", budget: "read" } as const;
const WRITE = { who: "signed-in", budget: "write" } as const;
const INTERNAL = { who: "internal" } as const;

/** The services the rules are for, by full name: the ones the gateway can forward (see ruledService). */
const RULED_SERVICES = new Map<string, DescService>();

/**
 * Every RPC's rule, by service and method, and the only place the gateway decides access. The
 * types ask for a rule for every RPC of a listed service, so a new RPC does not compile without
 * one; a service not listed here is refused whole (see ruleOf).
 *
 * Reads are what the contract marks NO_SIDE_EFFECTS, and only those (a test holds the two
 * together): StreamHomeTimeline declares no idempotency level, so opening a stream spends a write.
 */
const RULES = new Map<string, ReadonlyMap<string, Rule>>([
  rulesOf(UsersService, {
    createUser: PUBLIC,
    login: PUBLIC,
    getUser: READ,
    getUserByUsername: READ,
    batchGetUsers: READ,
    searchUsers: READ,
    updateUser: WRITE,
    deleteUser: WRITE,
    // The users service refuses it too, in the same words; the gateway's refusal spares it the call.
    setUserRoles: { who: "admin", budget: "write", refusal: "user_id: changing a user's roles needs the admin role" },
    // The refresh token is the credential: like login, it comes before having a valid access token.
    refreshSession: PUBLIC,
    listSessions: READ,
    revokeSession: WRITE,
    logout: WRITE,
    changePassword: WRITE,
    revokeUserSessions: { who: "admin", budget: "write", refusal: "user_id: ending a user's sessions needs the admin role" },
  }),
  rulesOf(TweetsService, {
    createTweet: WRITE,
    getTweet: READ,
    batchGetTweets: READ,
    deleteTweet: WRITE,
    listUserTweets: READ,
    listReplies: READ,
    likeTweet: WRITE,
    unlikeTweet: WRITE,
    listLikers: READ,
    retweet: WRITE,
    unretweet: WRITE,
    searchTweets: READ,
    countTweets: {
      ...READ,
      adminFor: { asks: (request) => request.authorId === "", refusal: "author_id: counting every user's tweets needs the admin role" },
    },
  }),
  rulesOf(GraphService, {
    follow: WRITE,
    unfollow: WRITE,
    listFollowers: READ,
    listFollowing: READ,
    getRelationship: READ,
    getCounts: READ,
    // Every follower of anyone, for timeline's fan-out.
    listFollowerIds: INTERNAL,
  }),
  rulesOf(TimelineService, {
    getHomeTimeline: READ,
    getHomeTimelineUpdates: READ,
    // No idempotency level in the contract: a write, as said above.
    streamHomeTimeline: WRITE,
  }),
  // Every RPC reads or marks the caller's own notifications only: there is no user id to ask for.
  rulesOf(NotificationsService, {
    listNotifications: READ,
    getUnreadCount: READ,
    markRead: WRITE,
    // No idempotency level in the contract: a write, as StreamHomeTimeline.
    streamNotifications: WRITE,
  }),
  // The benchmark's do-nothing backend, served only when the gateway is given it.
  rulesOf(LoadTestService, { noop: READ }),
]);

/**
 * The rule of `method`, or undefined when it has none: such a method is not served. Two Map
 * lookups by names the descriptor holds, so the hot path builds no string.
 */
export function ruleOf(method: Pick<DescMethod, "parent" | "localName">): Rule | undefined {
  return RULES.get(method.parent.typeName)?.get(method.localName);
}

/** The descriptor of a service with rules here, by its full name; undefined when it has none. */
export const ruledService = (typeName: string): DescService | undefined => RULED_SERVICES.get(typeName);

/** Whether the gateway serves a method with this rule: not when it is internal or has none. */
export const isServed = (rule: Rule | undefined): rule is ServedRule => rule !== undefined && rule.who !== "internal";

/** The refusal of a method the gateway does not serve: internal to the mesh, or without a rule. */
export function notServed(method: Pick<DescMethod, "parent" | "name">, rule: Rule | undefined): ConnectError {
  const why = rule?.who === "internal" ? "is internal to the mesh and" : "has no access rule and is";
  return new ConnectError(`${method.parent.typeName}/${method.name} ${why} not served here`, Code.PermissionDenied);
}

/**
 * The refusal `request` gets when its caller lacks the admin role, or undefined when any caller
 * `rule` admits may make it.
 */
export function adminRefusal(rule: ServedRule, request: unknown): string | undefined {
  if (rule.who === "admin") return rule.refusal;
  if (rule.who === "signed-in" && rule.adminFor?.asks(request as never)) return rule.adminFor.refusal;
  return undefined;
}

type RulesFor<S extends GenServiceMethods> = { [K in keyof S]: Rule<MessageShape<S[K]["input"]>> };

/** One service's rules, keyed as RULES reads them; each rule typed with its own request message. */
function rulesOf<S extends GenServiceMethods>(service: GenService<S>, rules: RulesFor<S>): [string, ReadonlyMap<string, Rule>] {
  RULED_SERVICES.set(service.typeName, service);
  return [service.typeName, new Map(Object.entries(rules) as [string, Rule][])];
}
