#!/usr/bin/env node
// Explains every MongoDB query of the hot paths, as the code issues them. Nothing here spells out
// a query: the real adapters (services/*/dist/storage/mongo.js) run under the real domain classes,
// wired the way each app.ts wires them, and the script records the commands the driver sends
// (`monitorCommands`). Each distinct query shape is then given to the server's `explain`.
//
//   1. opens the four adapters on fresh databases `explain_<random>_<service>` of MONGODB_URI;
//   2. seeds a small social graph through the domain: users, follows, posts, replies, retweets,
//      likes, a deleted tweet; events go from each service's outbox (the real OutboxRelay) to the
//      real consumers of the other services through a bus that delivers them at once;
//   3. records the hot paths: a home-timeline read (first page, next page, updates), a user's
//      tweets (two pages), and compose + fan-out (posts, a celebrity's post, a reply);
//   4. explains each distinct shape (verbosity queryPlanner) and prints one row per shape.
//
// FerretDB answers `explain` with the PostgreSQL plan of the SQL it generates, plus whether it
// pushed the filter, sort and limit down into that SQL: the script prints those as they are and
// judges nothing by them. On a real MongoDB it exits 1 when a hot query scans its collection.
//
// Usage: npm run build && MONGODB_URI=mongodb://127.0.0.1:27017/ node bench/explain.mjs [--keep]
// Exit status: 0 fine; 1 a collection scan on MongoDB, an explain that failed, or a hot method the
// run did not reach (the check would be incomplete); 2 bad usage.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";
import { progress } from "./common.mjs";

const require = createRequire(import.meta.url);
const { Long, MongoClient } = require("mongodb");
const { createLogger, OutboxRelay, subjectMatches } = require("@chirp/kit");
const dist = (service, file) => require(`../services/${service}/dist/${file}`);
const { MongoUserRepository } = dist("users", "storage/mongo.js");
const { Users } = dist("users", "domain/users.js");
const { ScryptPasswordHasher } = dist("users", "domain/passwords.js");
const { userEvents } = dist("users", "events.js");
const { MongoTweetRepository } = dist("tweets", "storage/mongo.js");
const { Tweets } = dist("tweets", "domain/tweets.js");
const { tweetEvents, consumeEvents: consumeTweetsEvents } = dist("tweets", "events.js");
const { MongoGraphRepository } = dist("graph", "storage/mongo.js");
const { Graph } = dist("graph", "domain/graph.js");
const { graphEvents, consumeUserEvents } = dist("graph", "events.js");
const { openMongoStores } = dist("timeline", "storage/mongo.js");
const { FanOut } = dist("timeline", "domain/fan-out.js");
const { HomeTimelines } = dist("timeline", "domain/home.js");
const { Hydration } = dist("timeline", "domain/hydration.js");
const { TweetCards } = dist("timeline", "domain/tweet-cards.js");
const { Profiles } = dist("timeline", "domain/profiles.js");
const { consumeTimelineEvents } = dist("timeline", "events.js");
const { renderedOf, userProfile } = dist("timeline", "messages.js");

const { values: options } = parseArgs({ options: { keep: { type: "boolean", default: false } } });
const { MONGODB_URI } = process.env;
if (!MONGODB_URI) {
  console.error("MONGODB_URI must name the MongoDB (or FerretDB) server to explain against");
  process.exit(2);
}

// Small on purpose: the plan of a query does not depend on these numbers, and a small timeline
// length makes the seeding cross the thresholds (entry trims, post trims, a celebrity) that put
// their queries on the hot paths. 20 is the smallest TIMELINE_LENGTH the timeline's config takes.
const TIMELINE_LENGTH = 20;
const CELEBRITY_FOLLOWERS = 8;
/** Followers per ListFollowerIds batch, as the timeline asks for them (services/timeline/src/upstream.ts). */
const FOLLOWER_BATCH_SIZE = 1_000;

/** What each hot path must have reached, by service and adapter method: if not, the seed data no longer covers it. */
const HOT_PATHS = {
  home: {
    title: "home-timeline read (GetHomeTimeline, a next page, GetHomeTimelineUpdates)",
    expect: [
      "timeline.entries", "timeline.followees", "timeline.celebritiesAmong", "timeline.postsBy", "timeline.cards", "timeline.retweetAndReplyCounts", "timeline.likeCounts",
      "timeline.likedBy", "timeline.retweetedBy", "timeline.profiles",
    ],
  },
  profile: {
    title: "a user's tweets (ListUserTweets, two pages)",
    expect: ["tweets.listByAuthor", "tweets.counts"],
  },
  compose: {
    title: "compose + fan-out (CreateTweet, its TweetCreated handled by the timeline)",
    expect: [
      "tweets.create", "timeline.saveCard", "timeline.savePost", "timeline.addEntries", "timeline.findTombstones", "timeline.celebrity", "timeline.fanOutProgress",
      "timeline.saveFanOutProgress", "timeline.trimPosts", "graph.listFollowers", "graph.countFollowers",
    ],
  },
};
const PATH_CODES = { home: "H", profile: "U", compose: "C" };

const log = createLogger("explain", "silent");
const client = new MongoClient(MONGODB_URI, { monitorCommands: true, appName: "chirp-explain", serverSelectionTimeoutMS: 10_000 });
await client.connect();
const buildInfo = await client.db("admin").command({ buildInfo: 1 });
// FerretDB announces itself in buildInfo; MongoDB has no such field.
const ferretdb = buildInfo.ferretdbVersion !== undefined;
const serverName = ferretdb
  ? `FerretDB${buildInfo.ferretdbVersion === "unknown" ? " (version not reported)" : ` ${buildInfo.ferretdbVersion}`}, claiming MongoDB ${buildInfo.version}`
  : `MongoDB ${buildInfo.version}`;
const run = `explain_${randomBytes(3).toString("hex")}`;
const SERVICES = ["users", "tweets", "graph", "timeline"];
const databases = Object.fromEntries(SERVICES.map((service) => [service, client.db(`${run}_${service}`)]));

// --- recording: which adapter method sent which command, on which hot path
/** The adapter call in progress on this async path: { service, method }. Concurrent calls (Promise.all) keep theirs apart. */
const caller = new AsyncLocalStorage();
/** The hot path being recorded; undefined while seeding. Steps run one at a time, so one variable does. */
let phase;
const RECORDED = new Set(["find", "aggregate", "count", "distinct", "update", "delete", "findAndModify", "insert"]);
const recorded = [];
client.on("commandStarted", (event) => {
  const call = caller.getStore();
  // Only commands an adapter method sent on a hot path: not index creation, not getMore, not our explains.
  if (!phase || !call || !RECORDED.has(event.commandName)) return;
  recorded.push({ phase, ...call, commandName: event.commandName, database: event.databaseName, command: { ...event.command } });
});

/**
 * The adapter (or outbox store) with every method call labelled with its service and name. Calls
 * inside the adapter go through the proxy too, so a helper shows under its caller: addEntries›count›trim.
 */
function traced(service, target, prefix = "") {
  return new Proxy(target, {
    get(object, key, receiver) {
      const value = Reflect.get(object, key, receiver);
      if (typeof value !== "function" || key === "constructor") return value;
      return function (...args) {
        const outer = caller.getStore();
        const name = `${prefix}${String(key)}`;
        const method = outer?.service === service ? `${outer.method}›${name}` : name;
        return caller.run({ service, method }, () => value.apply(receiver, args));
      };
    },
  });
}

/**
 * Delivers each event to the subscribed consumers at once and waits for them, so no work is left
 * in the background: every command belongs to the step that caused it. Consumers are the
 * services' own (consumeTimelineEvents and the like); redelivery and dead letters are not needed.
 */
class DirectBus {
  consumers = [];
  errors = [];
  async consume(spec, handler) {
    this.consumers.push({ spec, handler });
    return { stop: async () => {} };
  }
  async publish(message) {
    for (const { spec, handler } of this.consumers) {
      if (!spec.subjects.some((filter) => subjectMatches(filter, message.subject))) continue;
      try {
        await handler({ ...message, attempt: 1 });
      } catch (error) {
        // The relay would only log it and retry later: keep it to fail the run instead.
        this.errors.push(error);
        throw error;
      }
    }
  }
}

let exitCode = 0;
try {
  // --- the services, wired as their app.ts wires them, minus gRPC and NATS
  const bus = new DirectBus();
  const usersRepository = await MongoUserRepository.open(databases.users);
  const tweetsRepository = await MongoTweetRepository.open(databases.tweets);
  const graphRepository = await MongoGraphRepository.open(databases.graph);
  const timelineStores = await openMongoStores(databases.timeline, TIMELINE_LENGTH);
  // Never started: no polling timer, passes run only when a write notifies the relay, as it does after every write.
  const relay = (service, repository) => new OutboxRelay(traced(service, repository.outbox, "outbox."), bus, log);
  const relays = [relay("users", usersRepository), relay("tweets", tweetsRepository), relay("graph", graphRepository)];
  const [usersRelay, tweetsRelay, graphRelay] = relays;

  const users = await Users.create({
    repository: traced("users", usersRepository),
    events: userEvents,
    passwords: new ScryptPasswordHasher(4),
    tokens: { sign: () => { throw new Error("nobody logs in here"); } },
    onEventsRecorded: () => usersRelay.notify(),
  });
  // The seed deletes no account: every writer is live (the services ask the users service over gRPC).
  const accounts = { isLive: async () => true };
  const tweets = new Tweets({ repository: traced("tweets", tweetsRepository), events: tweetEvents, accounts, onEventsRecorded: () => tweetsRelay.notify() });
  const graph = new Graph({ repository: traced("graph", graphRepository), events: graphEvents, accounts, onEventsRecorded: () => graphRelay.notify() });
  const stores = Object.fromEntries(Object.entries(timelineStores).map(([name, store]) => [name, traced("timeline", store)]));
  const fanOut = new FanOut(stores, { celebrityFollowers: CELEBRITY_FOLLOWERS, timelineLength: TIMELINE_LENGTH });

  // What the timeline's upstream clients ask over gRPC (services/timeline/src/upstream.ts), asked of the domain directly.
  const followerDirectory = {
    followerCount: async (userId) => (await graph.getCounts(userId)).followers,
    async *followers(userId, resumeToken) {
      yield* graph.followerIdBatches({ userId, batchSize: FOLLOWER_BATCH_SIZE, resumeToken: resumeToken ?? "" });
    },
  };
  const cards = new TweetCards(stores);
  const profiles = new Profiles(stores);
  // Pages render from the timeline's tweets and profiles projections; the tweets and users services
  // are asked only for what they cannot render. Their answers (named as their messages are) are
  // read as the timeline's Upstream reads their messages.
  const home = new HomeTimelines(stores, new Hydration(cards, profiles));
  const upstream = (viewerId) => ({
    tweets: async (ids) => (await tweets.batchGetTweets(ids, viewerId)).tweets.map(renderedOf),
    profiles: async (ids) => (await users.batchGetUsers(ids, viewerId)).users.map(userProfile),
  });
  await consumeUserEvents(bus, "graph", graph);
  await consumeTweetsEvents(bus, tweets, "tweets");
  await consumeTimelineEvents(bus, "timeline", fanOut, cards, profiles, () => followerDirectory);

  /**
   * Waits until every relay pass the services started is over, events handled downstream included.
   * It waits on the pass in progress (`running`, private to OutboxRelay) rather than calling
   * flush(): flush asks for one more pass, an outbox query the service would not have made.
   */
  async function settle() {
    for (let busy = true; busy; ) {
      busy = false;
      for (const r of relays) {
        while (r.running) {
          busy = true;
          await r.running;
        }
      }
    }
    if (bus.errors.length > 0) throw bus.errors[0];
  }

  // --- 2. seed: 12 people and a celebrity everyone follows
  const say = progress();
  const NAMES = ["ada", "grace", "linus", "margaret", "dennis", "barbara", "ken", "frances", "alan", "edsger", "radia", "guido"];
  const people = {};
  for (const name of [...NAMES, "nasa"]) {
    people[name] = (await users.createUser({ username: name, email: `${name}@explain.example`, password: "correct horse battery", displayName: name })).id;
    await settle();
  }
  const post = async (name, text, extra = {}) => {
    const tweet = await tweets.createTweet(people[name], { text, replyToId: "", tags: [], idempotencyKey: "", ...extra });
    await settle();
    return tweet;
  };
  const posted = {};
  const keep = (name, tweet) => (posted[name] ??= []).push(tweet.id);
  for (const name of [...NAMES, "nasa"]) for (let i = 0; i < 2; i++) keep(name, await post(name, `early post ${i} by ${name} #hello`));
  say(`${NAMES.length + 1} users, ${2 * (NAMES.length + 1)} early posts`);

  // Each person follows the next four (four followers each: fanned out) and the celebrity (12: merged at read time).
  for (const [i, name] of NAMES.entries()) {
    for (const followee of [...[1, 2, 3, 4].map((k) => NAMES[(i + k) % NAMES.length]), "nasa"]) {
      await graph.follow(people[name], people[followee]);
      await settle();
    }
  }
  say(`${NAMES.length * 5} follows, each backfilled into its follower's timeline`);

  for (const [i, name] of NAMES.entries()) {
    for (let k = 0; k < 3; k++) keep(name, await post(name, `post ${k} by ${name}: #chirp news for @${NAMES[(i + 1) % NAMES.length]}`));
  }
  // grace outgrows the posts the timeline keeps per author (trimPosts then deletes); nasa becomes a celebrity.
  for (let k = 0; k < TIMELINE_LENGTH; k++) keep("grace", await post("grace", `grace, backlog ${k}`));
  for (let k = 0; k < 3; k++) keep("nasa", await post("nasa", `launch update ${k} #space`));
  for (const [i, name] of NAMES.entries()) {
    const friend = NAMES[(i + 1) % NAMES.length];
    await post(name, `replying to ${friend}`, { replyToId: posted[friend].at(-1) });
    for (const liked of [posted.nasa.at(-1), posted.grace.at(-1), posted[friend].at(-1), posted[friend].at(-2)]) await tweets.likeTweet(people[name], liked);
    if (i % 3 === 0) await tweets.retweet(people[name], posted.nasa.at(-2));
    if (i % 3 === 1) await tweets.retweet(people[name], posted.grace.at(-3));
    await settle();
  }
  await tweets.deleteTweet(people.ken, posted.ken.at(-1));
  await settle();
  say("posts, replies, likes, retweets and a deletion seeded");

  // --- 3. the hot paths, recorded
  const reader = people.ada;
  const record = async (name, step) => {
    phase = name;
    try {
      await step();
      await settle();
    } finally {
      phase = undefined;
    }
  };
  await record("home", async () => {
    const first = await home.page(reader, { pageSize: 0, pageToken: "" }, upstream(reader));
    if (first.items.length === 0 || first.nextPageToken === "") throw new Error("the seed data should fill more than a home page");
    await home.page(reader, { pageSize: 0, pageToken: first.nextPageToken }, upstream(reader));
    await home.updates(reader, { sinceToken: first.sinceToken, pageSize: 0 }, upstream(reader));
  });
  await record("profile", async () => {
    const first = await tweets.listUserTweets({ userId: people.grace, pageSize: 0, pageToken: "" }, reader);
    await tweets.listUserTweets({ userId: people.grace, pageSize: 0, pageToken: first.nextPageToken }, reader);
  });
  await record("compose", async () => {
    // timelineSlack(20) + 1 posts: every follower's timeline (trimmed to 20 or a little more while
    // seeding) passes length plus slack, so entries are trimmed. With idempotency keys, as retrying
    // clients send them: CreateTweet then looks the key up first.
    for (let k = 0; k < 3; k++) {
      await tweets.createTweet(people.grace, { text: `fresh from grace ${k} #chirp`, replyToId: "", tags: [], idempotencyKey: `compose-${run}-${k}` });
      await settle();
    }
    // A celebrity's post is marked, not fanned out; a reply looks up its parent and is not fanned out.
    await tweets.createTweet(people.nasa, { text: "we have liftoff #space", replyToId: "", tags: [], idempotencyKey: "" });
    await settle();
    await tweets.createTweet(people.linus, { text: "nice one @grace", replyToId: posted.grace.at(-1), tags: [], idempotencyKey: "" });
  });
  say(`${recorded.length} commands recorded on the hot paths`);

  // --- 4. one explain per distinct shape
  const rows = new Map();
  for (const command of recorded) {
    for (const query of queriesOf(command)) {
      const key = [command.service, command.method, query.op, query.collection, query.shape].join("\u0000");
      let row = rows.get(key);
      if (!row) {
        row = { service: command.service, method: command.method, database: command.database, ...query, paths: new Set(), calls: 0 };
        rows.set(key, row);
      }
      row.paths.add(command.phase);
      row.calls += 1;
    }
  }
  for (const row of rows.values()) {
    if (!row.explain) continue;
    try {
      // FerretDB's explain refuses an int32 `skip` (it wants a long) where its find takes one; MongoDB takes either.
      const command = ferretdb && typeof row.explain.skip === "number" ? { ...row.explain, skip: Long.fromNumber(row.explain.skip) } : row.explain;
      const explained = await client.db(row.database).command({ explain: command, verbosity: "queryPlanner" });
      Object.assign(row, ferretdb ? ferretdbPlan(explained) : mongodbPlan(explained));
    } catch (error) {
      Object.assign(row, { plan: `explain failed: ${error.message}`, verdict: "EXPLAIN FAILED", failed: true });
    }
  }

  // --- report
  const ordered = [...rows.values()].sort((a, b) => SERVICES.indexOf(a.service) - SERVICES.indexOf(b.service) || a.method.localeCompare(b.method) || a.shape.localeCompare(b.shape));
  const explained = ordered.filter((row) => row.explain);
  const inserts = ordered.filter((row) => !row.explain);
  console.log(`\nexplain of the hot queries: ${serverName}, ${MONGODB_URI}, databases ${run}_*`);
  for (const [name, path] of Object.entries(HOT_PATHS)) console.log(`  ${PATH_CODES[name]} = ${path.title}`);
  if (ferretdb) {
    console.log(
      "  FerretDB: its explain shows the PostgreSQL plan of the SQL FerretDB generates and which parts of the query it\n" +
        "  pushed down into that SQL (filter, sort, limit); these are PostgreSQL's plans, not MongoDB's, and say nothing\n" +
        "  about which MongoDB indexes a real MongoDB would use. Rerun against a real MongoDB to check the indexes.",
    );
  }
  console.log("  writes (update, delete, findAndModify) are explained as the server explains the write: it plans, does not run it.\n");
  const columns = [
    ["paths", (r) => ["home", "profile", "compose"].filter((p) => r.paths.has(p)).map((p) => PATH_CODES[p]).join("")],
    ["service", (r) => r.service],
    ["adapter method", (r) => r.method],
    ["command", (r) => r.op],
    ["collection", (r) => r.collection],
    ["calls", (r) => String(r.calls)],
    ["plan", (r) => r.plan],
    ["verdict", (r) => r.verdict],
    ["query shape", (r) => r.shape],
  ];
  const widths = columns.map(([title, cell], i) => (i === columns.length - 1 ? 0 : Math.max(title.length, ...explained.map((r) => cell(r).length))));
  const line = (cells) => cells.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(columns.map(([title]) => title)));
  console.log(line(widths.map((w, i) => "-".repeat(w || columns[i][0].length))));
  for (const row of explained) console.log(line(columns.map(([, cell]) => cell(row))));
  if (inserts.length > 0) {
    console.log(`\ninserts (no query to explain): ${inserts.map((r) => `${r.service}.${r.method} → ${r.collection} ×${r.calls}`).join(", ")}`);
  }

  const reached = new Set(recorded.map((c) => `${c.phase}:${c.service}.${c.method.split("›")[0]}`));
  const missing = Object.entries(HOT_PATHS).flatMap(([name, path]) => path.expect.filter((m) => !reached.has(`${name}:${m}`)).map((m) => `${PATH_CODES[name]} ${m}`));
  if (missing.length > 0) {
    console.log(`\nNOT REACHED by this run (the seed data no longer covers them, so they went unchecked): ${missing.join(", ")}`);
    exitCode = 1;
  }
  const failed = explained.filter((r) => r.failed);
  if (failed.length > 0) {
    console.log(`\n${failed.length} explain(s) failed`);
    exitCode = 1;
  }
  if (ferretdb) {
    const counts = {};
    for (const row of explained) counts[row.verdict] = (counts[row.verdict] ?? 0) + 1;
    console.log(`\n${explained.length} query shapes: ${Object.entries(counts).map(([v, n]) => `${n} ${v}`).join(", ")}. No index verdict on FerretDB: exit status ignores plans.`);
  } else {
    const scans = explained.filter((r) => r.collscan);
    const sorts = explained.filter((r) => r.blockingSort);
    console.log(`\n${explained.length} query shapes; ${scans.length} collection scan(s); ${sorts.length} in-memory sort(s).`);
    if (sorts.length > 0) console.log(`in-memory sorts (no index gives the order): ${sorts.map((r) => `${r.service}.${r.method} on ${r.collection}`).join(", ")}`);
    if (scans.length > 0) {
      console.log(`COLLECTION SCANS on hot paths: ${scans.map((r) => `${r.service}.${r.method} ${r.op} on ${r.collection}`).join(", ")}`);
      exitCode = 1;
    }
  }
} finally {
  phase = undefined;
  if (!options.keep) for (const db of Object.values(databases)) await db.dropDatabase().catch(() => {});
  await client.close();
}
process.exitCode = exitCode;

// --- helpers

/** Fields of a recorded command that belong to the session or connection, not to the query. */
function withoutSession(command) {
  const { lsid, $db, $clusterTime, txnNumber, autocommit, startTransaction, $readPreference, readConcern, writeConcern, apiVersion, apiStrict, apiDeprecationErrors, ...rest } = command;
  return rest;
}

/**
 * The queries in one recorded command, each with its shape and the command to explain. A bulk
 * write holds one query per statement (an unordered bulk upsert is one `update` of many), and
 * explain takes one statement at a time.
 */
function queriesOf({ commandName, command }) {
  const base = withoutSession(command);
  const collection = String(command[commandName]);
  switch (commandName) {
    case "find":
      return [{ op: "find", collection, explain: base, shape: describe(command.filter, { sort: command.sort, skip: command.skip, limit: command.limit }) }];
    case "aggregate":
      return [{ op: "aggregate", collection, explain: base, shape: command.pipeline.map((stage) => Object.entries(stage).map(([name, arg]) => `${name} ${show(shapeOf(arg))}`).join("")).join(" | ") }];
    case "count":
      return [{ op: "count", collection, explain: base, shape: describe(command.query, { skip: command.skip, limit: command.limit }) }];
    case "distinct":
      return [{ op: "distinct", collection, explain: base, shape: `${command.key} of ${describe(command.query, {})}` }];
    case "update":
      return command.updates.map((statement) => ({
        op: statement.upsert ? "upsert" : statement.multi ? "updateMany" : "updateOne",
        collection,
        explain: { ...base, updates: [statement] },
        shape: describe(statement.q, {}),
      }));
    case "delete":
      return command.deletes.map((statement) => ({
        op: statement.limit === 1 ? "deleteOne" : "deleteMany",
        collection,
        explain: { ...base, deletes: [statement] },
        shape: describe(statement.q, {}),
      }));
    case "findAndModify":
      return [{ op: "findAndModify", collection, explain: base, shape: describe(command.query, { sort: command.sort }) }];
    case "insert":
      return [{ op: "insert", collection, shape: "" }];
    default:
      return [];
  }
}

/** A filter's shape (values replaced by ?), with the sort as written and whether skip and limit are set. */
function describe(filter, { sort, skip, limit }) {
  // The driver sends a sort as a Map (key order matters), which JSON does not show.
  const order = sort instanceof Map ? Object.fromEntries(sort) : sort;
  return [
    show(shapeOf(filter ?? {})),
    order && Object.keys(order).length > 0 ? `sort ${show(order)}` : "",
    skip ? "skip ?" : "",
    limit ? "limit ?" : "",
  ].filter(Boolean).join(" ");
}

/**
 * Values become "?", so calls with different ids share a shape; field paths ("$tweetId"), booleans
 * and null stay, being part of the query as written. Arrays keep one of each element shape, so an
 * `$in` of 3 ids and one of 40 are one shape.
 */
function shapeOf(value) {
  if (Array.isArray(value)) {
    const seen = new Map();
    for (const element of value.map(shapeOf)) seen.set(JSON.stringify(element), element);
    return [...seen.values()];
  }
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "string") return value.startsWith("$") ? value : "?";
  if (typeof value !== "object" || value instanceof Date || value._bsontype) return "?";
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shapeOf(inner)]));
}

/** Compact JSON: keys unquoted, placeholders bare. */
function show(value) {
  return JSON.stringify(value).replace(/"([$\w.]+)":/g, "$1:").replaceAll('"?"', "?");
}

/**
 * MongoDB: the stages of the winning plan, root first, wherever the explain puts them (find and
 * count under queryPlanner, aggregate under stages[0].$cursor or queryPlan with the slot-based
 * engine, sharded clusters under shards). Rejected plans are left out.
 */
function mongodbPlan(explained) {
  const stages = [];
  const skip = new Set(["rejectedPlans", "slotBasedPlan", "command", "serverInfo", "serverParameters", "executionStats", "allPlansExecution"]);
  (function walk(node) {
    if (!node || typeof node !== "object") return;
    if (typeof node.stage === "string") stages.push(node);
    for (const [key, value] of Object.entries(node)) if (!skip.has(key)) walk(value);
  })(explained);
  const names = stages.map((s) => s.stage);
  const collscan = names.some((name) => name.endsWith("COLLSCAN"));
  const index = names.some((name) => /IXSCAN|IDHACK|COUNT_SCAN|DISTINCT_SCAN|EXPRESS/.test(name));
  const blockingSort = names.some((name) => name === "SORT");
  const verdict = collscan ? "COLLSCAN" : index ? (blockingSort ? "index, in-memory sort" : "index") : names.includes("EOF") ? "EOF (no data to plan on)" : "no index stage";
  return {
    plan: stages.map((s) => (s.indexName ? `${s.stage} ${s.indexName}` : s.stage)).join(" > ") || "(no stages)",
    verdict,
    collscan,
    blockingSort,
  };
}

/** FerretDB: the PostgreSQL plan's nodes, root first, and what FerretDB says it pushed down into SQL. */
function ferretdbPlan(explained) {
  const nodes = [];
  (function walk(node) {
    if (!node || typeof node !== "object") return;
    nodes.push(node);
    for (const child of node.Plans ?? []) walk(child);
  })(explained.queryPlanner?.Plan);
  const pushed = ["filter", "sort", "limit"].filter((part) => explained[`${part}Pushdown`]);
  const types = nodes.map((n) => n["Node Type"]);
  const plan = nodes.map((n) => (n["Index Name"] ? `${n["Node Type"]} ${n["Index Name"]}` : n["Node Type"])).join(" > ") || JSON.stringify(explained.queryPlanner);
  const verdict = types.some((t) => /Index/.test(t)) ? "PG index scan" : types.includes("Seq Scan") ? "PG seq scan" : "PG other";
  return { plan: `${plan}; pushdown: ${pushed.join("+") || "none"}`, verdict };
}
