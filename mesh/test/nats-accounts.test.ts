import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { Writable } from "node:stream";
import { join, resolve } from "node:path";
import { createLogger, SERVICES } from "@chirp/kit";
import { EVENT_SUBJECTS, eventMessage, STREAMS } from "@chirp/kit/events";
import { errors, nkeyAuthenticator, nkeys, type NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { inboxPrefix, JetStreamBus, natsAuthorization, NATS_PROCESSES, ownedStreams, type NatsProcess } from "@chirp/kit/nats";
import { eventually, testLogger, uniqueName } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "../src/mesh.js";
import { publicApi } from "./public-api.js";

/**
 * The mesh on a NATS server of its own whose authorization is the one the Kubernetes manifests
 * carry (natsAuthorization, from the service catalogue): every process connects as its own nkey
 * user and does its normal work, and a process cannot publish another's events or touch another's
 * consumer. The server is this test's own, on a free loopback port, stopped by its PID.
 */

const natsBinary = (): string =>
  process.env.NATS_SERVER ?? execFileSync(resolve(__dirname, "../../../shared/nats/bin"), { encoding: "utf8" }).trim().split("\n").pop()!;

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

interface Key {
  seed: string;
  publicKey: string;
}
const newKey = (): Key => {
  const pair = nkeys.createUser();
  return { seed: new TextDecoder().decode(pair.getSeed()), publicKey: pair.getPublicKey() };
};

/** A connection as one process's user, as JetStreamBus makes it. */
const connectAs = (url: string, process: NatsProcess, key: Key): Promise<NatsConnection> =>
  connect({ servers: url, name: `test-as-${process}`, inboxPrefix: inboxPrefix(process), authenticator: nkeyAuthenticator(new TextEncoder().encode(key.seed)), maxReconnectAttempts: 0 });

/** The permission violations the connection is told of, as they come. */
function violationsOf(connection: NatsConnection): Array<{ operation: string; subject: string }> {
  const seen: Array<{ operation: string; subject: string }> = [];
  void (async () => {
    for await (const status of connection.status()) {
      if (status.type === "error" && status.error instanceof errors.PermissionViolationError) seen.push({ operation: status.error.operation, subject: status.error.subject });
    }
  })();
  return seen;
}

describe("NATS accounts: each process as its own user, with the permissions the catalogue gives it", () => {
  const run = uniqueName("natsauth");
  const durables = Object.fromEntries(SERVICES.flatMap((s) => ("consumer" in s ? [[s.name, `${run}_${s.name}`]] : [])));
  const keys = Object.fromEntries(NATS_PROCESSES.map((p) => [p, newKey()])) as Record<NatsProcess, Key>;
  const admin = newKey();
  let dir: string;
  let server: ChildProcess | undefined;
  let log = "";
  let url: string;
  let mesh: Mesh | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "chirp-nats-auth-"));
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    const authorization = natsAuthorization({
      durables,
      nkey: (p) => keys[p].publicKey,
      // The run's own consumers are made at the streams' end by an operator's user, as a test run's are.
      extraUsers: [{ comment: "the test run's operator", nkey: admin.publicKey }],
    });
    writeFileSync(join(dir, "nats.conf"), `listen: 127.0.0.1:${port}\njetstream { store_dir: ${JSON.stringify(join(dir, "js"))} }\n${authorization}`);
    server = spawn(natsBinary(), ["--config", join(dir, "nats.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    const collect = (chunk: Buffer) => (log += chunk.toString());
    server.stdout!.on("data", collect);
    server.stderr!.on("data", collect);
    await eventually(() => expect(log).toContain("Server is ready"), 10_000, 50);

    mesh = await startMesh({
      env: { NATS_URL: url, NATS_NKEY_SEED: admin.seed, PASSWORD_HASH_COST: "4", OUTBOX_POLL_MS: "200" },
      processEnv: Object.fromEntries(NATS_PROCESSES.map((p) => [p, { NATS_NKEY_SEED: keys[p].seed }])),
      log: createLogger("mesh", "silent"),
      loopback: true,
      run,
    });
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
    if (server && server.exitCode === null) {
      const exited = new Promise((done) => server!.once("exit", done));
      process.kill(server.pid!, "SIGTERM");
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const violations = (since = 0) => log.slice(since).split("\n").filter((line) => /violation/i.test(line));

  it("refuses a connection without a listed key", async () => {
    await expect(connect({ servers: url, maxReconnectAttempts: 0, reconnect: false })).rejects.toThrow(/authorization/i);
    const stranger = newKey();
    await expect(connectAs(url, "graph", stranger)).rejects.toThrow(/authorization/i);
  });

  it("lets every service and the gateway do their work: outbox relays publish, consumers and live streams read, limits are shared", async () => {
    const api = publicApi(`http://127.0.0.1:${mesh!.gateway.httpPort}`);
    const ada = await api.account("ada");
    const grace = await api.account("grace");
    // graph's consumer heard of ada (users' relay published UserCreated)
    await api.follow(grace, ada);
    // tweets' relay publishes TweetCreated; timeline's consumer fans it out to grace
    const post = await api.ok("chirp.tweets.v1.TweetsService/CreateTweet", { text: `hello @${"grace"} from the accounts test` }, ada.token);
    await eventually(async () => {
      const home = await api.ok("chirp.timeline.v1.TimelineService/GetHomeTimeline", {}, grace.token);
      expect((home.items ?? []).map((item: { tweet: { id: string } }) => item.tweet.id)).toContain(post.tweet.id);
    }, 15_000, 100);
    await api.ok("chirp.tweets.v1.TweetsService/LikeTweet", { tweetId: post.tweet.id }, grace.token);
    // notifications' consumer recorded grace's follow and like of ada's post
    await eventually(async () => {
      const listed = await api.ok("chirp.notifications.v1.NotificationsService/ListNotifications", {}, ada.token);
      expect((listed.notifications ?? []).length).toBeGreaterThanOrEqual(2);
    }, 15_000, 100);
    // users publishes UserDeleted: the gateway (live) refuses ada's token, tweets (durable) removes her post
    await api.ok("chirp.users.v1.UsersService/DeleteUser", { id: ada.id }, ada.token);
    await eventually(async () => {
      expect((await api.call("chirp.users.v1.UsersService/GetUser", { id: grace.id }, ada.token)).status).toBe(401);
      expect((await api.call("chirp.tweets.v1.TweetsService/GetTweet", { id: post.tweet.id }, grace.token)).status).toBe(404);
    }, 15_000, 100);
    // Nothing any process did was refused.
    expect(violations()).toEqual([]);
  }, 90_000);


  it("refuses graph's forged UserDeleted on the users subject: a publish permission violation, and nothing is stored", async () => {
    const graph = await connectAs(url, "graph", keys.graph);
    const seen = violationsOf(graph);
    const operator = await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(admin.seed)) });
    try {
      const manager = await jetstreamManager(operator);
      const before = (await manager.streams.info(STREAMS.users.name)).state.last_seq;
      const forged = eventMessage({ $case: "userDeleted", value: { userId: "someone-else" } });
      await expect(jetstream(graph).publish(forged.subject, forged.data, { msgID: forged.id, timeout: 2_000 })).rejects.toThrow();
      await eventually(() => expect(seen).toContainEqual({ operation: "publish", subject: EVENT_SUBJECTS.userDeleted }));
      // The server logs the violation when it refuses it; its log reaches this process a moment later.
      await eventually(() => expect(log).toMatch(new RegExp(`Publish Violation.*${EVENT_SUBJECTS.userDeleted.replace(/\./g, "\\.")}`)));
      expect((await manager.streams.info(STREAMS.users.name)).state.last_seq).toBe(before);
      // Its own events it may publish (a stand-in of its relay's publish, then removed).
      const own = await jetstream(graph).publish(EVENT_SUBJECTS.userFollowed, new Uint8Array([0]), { timeout: 2_000 });
      expect(own.stream).toBe(STREAMS.graph.name);
      await manager.streams.deleteMessage(STREAMS.graph.name, own.seq);
    } finally {
      await graph.close();
      await operator.close();
    }
  });

  it("refuses, through the kit's bus too, a service publishing another's event", async () => {
    const bus = await JetStreamBus.connect(url, "test-timeline", testLogger(), { nkeySeed: keys.timeline.seed, inboxPrefix: inboxPrefix("timeline") });
    try {
      const forged = eventMessage({ $case: "tweetDeleted", value: { tweetId: "t", authorId: "a", retweetOfId: "", replyToId: "" } });
      await expect(bus.publish(forged)).rejects.toThrow();
    } finally {
      await bus.close();
    }
  }, 15_000);

  it("keeps each process off the others' consumers, subjects and inboxes", async () => {
    const gateway = await connectAs(url, "gateway", keys.gateway);
    const seen = violationsOf(gateway);
    try {
      // The gateway's live subscriptions may make consumers on the users stream, but never take
      // graph's durable consumer's messages nor delete it.
      gateway.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAMS.users.name}.${durables.graph}`, JSON.stringify({ batch: 1 }));
      gateway.publish(`$JS.API.CONSUMER.DELETE.${STREAMS.users.name}.${durables.graph}`);
      // Nor change, purge or delete a stream it does not own.
      for (const verb of ["UPDATE", "PURGE", "DELETE"]) gateway.publish(`$JS.API.STREAM.${verb}.${STREAMS.users.name}`, "{}");
      // No event subject directly, nor another process's inbox.
      gateway.subscribe(EVENT_SUBJECTS.userCreated);
      gateway.subscribe(`${inboxPrefix("graph")}.>`);
      await gateway.flush();
      // Nor, on the stream-wide create subject its live subscriptions need, make or change a durable
      // consumer: the server takes only ephemeral ones there.
      const operator = await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(admin.seed)) });
      try {
        const manager = await jetstreamManager(operator);
        const before = await manager.consumers.info(STREAMS.users.name, durables.graph);
        for (const config of [
          { durable_name: durables.graph, filter_subjects: [EVENT_SUBJECTS.sessionsRevoked, EVENT_SUBJECTS.userDeleted], ack_policy: "explicit" },
          { name: durables.graph, filter_subjects: [EVENT_SUBJECTS.sessionsRevoked, EVENT_SUBJECTS.userDeleted], ack_policy: "none" },
          { durable_name: "gateway_own_durable", filter_subjects: [EVENT_SUBJECTS.sessionsRevoked, EVENT_SUBJECTS.userDeleted], ack_policy: "explicit" },
        ]) {
          const answer = (await gateway.request(`$JS.API.CONSUMER.CREATE.${STREAMS.users.name}`, JSON.stringify({ stream_name: STREAMS.users.name, config }), { timeout: 2_000 })).json<{ error?: { description: string } }>();
          expect(answer.error?.description).toBeDefined();
        }
        const after = await manager.consumers.info(STREAMS.users.name, durables.graph);
        expect(after.config).toEqual(before.config);
        expect(after.created).toEqual(before.created);
      } finally {
        await operator.close();
      }
      await eventually(() =>
        expect(seen).toEqual(
          expect.arrayContaining([
            { operation: "publish", subject: `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.users.name}.${durables.graph}` },
            { operation: "publish", subject: `$JS.API.CONSUMER.DELETE.${STREAMS.users.name}.${durables.graph}` },
            ...["UPDATE", "PURGE", "DELETE"].map((verb) => ({ operation: "publish", subject: `$JS.API.STREAM.${verb}.${STREAMS.users.name}` })),
            { operation: "subscription", subject: EVENT_SUBJECTS.userCreated },
            { operation: "subscription", subject: `${inboxPrefix("graph")}.>` },
          ]),
        ),
      );
    } finally {
      await gateway.close();
    }
  });

  it("leaves a stream it does not own as it is when its declaration differs, where its user may not change it", async () => {
    const lines: string[] = [];
    const logger = createLogger("timeline", "warn", new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    const bus = await JetStreamBus.connect(url, "test-timeline-streams", logger, { nkeySeed: keys.timeline.seed, inboxPrefix: inboxPrefix("timeline"), ownedStreams: ownedStreams("timeline") });
    const from = log.length;
    try {
      const before = (await bus.manager.streams.info(STREAMS.users.name)).config;
      await bus.ensureStreams([{ ...STREAMS.users, maxAgeMs: 60_000 }]);
      expect((await bus.manager.streams.info(STREAMS.users.name)).config.max_age).toBe(before.max_age);
      expect(lines.join("")).toContain("its owner updates it");
      expect(violations(from)).toEqual([]);
    } finally {
      await bus.close();
    }
  });

  it("stops every process without a refused request (live subscriptions delete their consumers)", async () => {
    const stopping = mesh!;
    mesh = undefined;
    const from = log.length;
    await stopping.stop();
    expect(violations(from)).toEqual([]);
  }, 30_000);

  it("lets a consumer dead-letter what it cannot handle, on its own dead-letter subject", async () => {
    // The timeline's user, with the run's durable name its permissions name (the mesh has stopped).
    const bus = await JetStreamBus.connect(url, "test-timeline-dead-letters", testLogger(), { nkeySeed: keys.timeline.seed, inboxPrefix: inboxPrefix("timeline") });
    const tweets = await connectAs(url, "tweets", keys.tweets);
    const operator = await connect({ servers: url, authenticator: nkeyAuthenticator(new TextEncoder().encode(admin.seed)) });
    const from = log.length;
    try {
      const consumer = await bus.consume({ durable: durables.timeline!, subjects: [EVENT_SUBJECTS.tweetCreated], maxDeliver: 1, startAt: "new" }, async () => {
        throw new Error("cannot handle this one");
      });
      try {
        const sent = await jetstream(tweets).publish(EVENT_SUBJECTS.tweetCreated, new Uint8Array([1, 2, 3]), { timeout: 2_000 });
        const manager = await jetstreamManager(operator);
        const dead = await eventually(async () => {
          const found = await manager.streams.getMessage(STREAMS.deadLetters.name, { last_by_subj: `chirp.deadletter.${durables.timeline}` });
          expect(found).toBeTruthy();
          return found!;
        }, 10_000, 100);
        expect(dead.header.get("Chirp-Original-Subject")).toBe(EVENT_SUBJECTS.tweetCreated);
        expect(Array.from(dead.data)).toEqual([1, 2, 3]);
        await manager.streams.deleteMessage(STREAMS.tweets.name, sent.seq);
      } finally {
        await consumer.stop();
      }
      expect(violations(from)).toEqual([]);
    } finally {
      await bus.close();
      await tweets.close();
      await operator.close();
    }
  }, 20_000);
});
