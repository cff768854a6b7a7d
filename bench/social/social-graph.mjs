// The synthetic social network, loaded through the public gateway like any client would.
//
// N users, each with a number of followers drawn from a power law (Pareto, minimum 10, shape 1.8:
// the median user has about 15 followers, a few of 10,000 have over a thousand), capped at half
// the celebrity threshold so that only the celebrity is one. Then the probe authors the fan-out
// lag is measured on, with exactly 100, 1,000 and 10,000 followers (those that fit in N), and the
// celebrity, followed by everyone: over the threshold, so its posts are merged in at read time.
import { performance } from "node:perf_hooks";
import { Code, ConnectError } from "@connectrpc/connect";
import { inParallel, sleep } from "../common.mjs";

const PASSWORD = "bench password 1";
const CONCURRENCY = 64;


/**
 * Retries what fails only because an event has not reached a service yet (the graph learns of
 * users from UserCreated), for up to five minutes: on a slow database the backlog takes a while.
 */
async function eventually(call) {
  const deadline = performance.now() + 5 * 60_000;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const transient = error instanceof ConnectError && [Code.NotFound, Code.Unavailable].includes(error.code);
      if (!transient || performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** `count` distinct indexes below `n`, none equal to `except`. */
function sample(n, count, except, rng) {
  const chosen = new Set();
  while (chosen.size < count) {
    const i = Math.floor(rng() * n);
    if (i !== except) chosen.add(i);
  }
  return [...chosen];
}

export async function loadSocialGraph(clients, { users, postsPerUser, celebrityThreshold, tag, rng, say }) {
  const started = performance.now();
  const register = async (username) => {
    const { user } = await clients.users.createUser({ username, email: `${username}@bench.example`, password: PASSWORD, displayName: username });
    const { accessToken } = await clients.users.login({ usernameOrEmail: username, password: PASSWORD });
    return { id: user.id, username, token: accessToken };
  };
  const as = (person) => ({ headers: { authorization: `Bearer ${person.token}` } });

  const people = new Array(users);
  await inParallel([...people.keys()], CONCURRENCY, async (i) => {
    people[i] = await register(`${tag}_${i}`);
  });
  const probeSizes = [100, 1_000, 10_000].filter((n) => n <= users);
  const probes = [];
  for (const size of probeSizes) probes.push({ label: `${size.toLocaleString("en")}-follower author`, author: await register(`${tag}_p${size}`), followers: size });
  const celebrity = { label: "celebrity (merged at read time)", author: await register(`${tag}_star`), followers: users + probes.length };
  say(`${users + probes.length + 1} users registered and logged in`);

  // Who follows whom: [follower, followee] as people.
  const maxFollowers = Math.max(10, Math.floor(celebrityThreshold / 2));
  const followerCounts = people.map(() => Math.min(maxFollowers, users - 1, Math.floor(10 / Math.pow(1 - rng(), 1 / 1.8))));
  const edges = [];
  people.forEach((followee, i) => {
    for (const f of sample(users, followerCounts[i], i, rng)) edges.push([people[f], followee]);
  });
  for (const probe of probes) for (const f of sample(users, probe.followers, -1, rng)) edges.push([people[f], probe.author]);
  for (const person of [...people, ...probes.map((p) => p.author)]) edges.push([person, celebrity.author]);
  for (let i = edges.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [edges[i], edges[j]] = [edges[j], edges[i]];
  }
  // The graph lists followers newest first and the fan-out writes in that order, so the oldest
  // follower is written last: each probe's first follow is made before all others.
  for (const probe of [...probes, celebrity]) {
    const index = edges.findIndex(([, followee]) => followee === probe.author);
    const [follower] = edges.splice(index, 1)[0];
    await eventually(() => clients.graph.follow({ followeeId: probe.author.id }, as(follower)));
    probe.lastFollower = follower;
  }
  await inParallel(edges, CONCURRENCY, ([follower, followee]) => eventually(() => clients.graph.follow({ followeeId: followee.id }, as(follower))));
  const follows = edges.length + probes.length + 1;
  say(`${follows} follows made`);

  let posts = 0;
  await inParallel([...people.keys()], CONCURRENCY, async (i) => {
    for (let k = 0; k < postsPerUser; k++) {
      await clients.tweets.createTweet({ text: `post ${k} by ${people[i].username} #bench` }, as(people[i]));
      posts++;
    }
  });
  say(`${posts} posts made; waiting for the fan-out to catch up`);

  // A warm-up post by each probe, seen by its last follower: the timeline has applied every follow
  // and fanned out every earlier post (its consumers take events in order).
  for (const probe of [...probes, celebrity]) {
    const { tweet } = await clients.tweets.createTweet({ text: "warm-up" }, as(probe.author));
    const deadline = performance.now() + 30 * 60_000;
    while ((await clients.timeline.getHomeTimeline({ pageSize: 1 }, as(probe.lastFollower))).items[0]?.id !== tweet.id) {
      if (performance.now() > deadline) throw new Error(`${probe.label}: the warm-up post never reached its last follower`);
      await sleep(50);
    }
    posts++;
  }
  const sorted = [...followerCounts].sort((a, b) => a - b);
  say(`graph loaded in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return {
    people,
    probes: [...probes, celebrity],
    follows,
    posts,
    followerMedian: sorted[Math.floor(sorted.length / 2)],
    followerMax: sorted.at(-1),
    seconds: (performance.now() - started) / 1000,
  };
}
