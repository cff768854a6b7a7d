// Demo data for the dev cluster: the people, follows and posts of `npm start -- --demo`
// (mesh/src/demo.ts), created through the gateway's public Connect API (JSON over HTTP/1.1) as
// any client would. Waits until GET /healthz says every service is serving. Safe to run again:
// people who exist already are logged in, not created, and their posts are not repeated.
// Needs nothing but Node (global fetch), so it runs on the official node image.
const GATEWAY_URL = process.env.GATEWAY_URL ?? "http://gateway:8081";
const PASSWORD = "chirp-demo";
const PEOPLE = [
  { username: "ada", displayName: "Ada", posts: ["Analytical engines run on #gRPC now", "Notes on a new #chirp"] },
  { username: "grace", displayName: "Grace", posts: ["Found a bug in the relay. A real one. #debugging"] },
  { username: "linus", displayName: "Linus", posts: ["Talk is cheap. Show me the #protobuf"] },
];
const FOLLOWS = [
  ["ada", "grace"],
  ["grace", "ada"],
  ["linus", "ada"],
  ["linus", "grace"],
];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class RpcError extends Error {
  constructor(method, code, message) {
    super(`${method}: ${code}: ${message}`);
    this.code = code;
  }
}

/** One unary Connect call with a JSON body; a Connect error becomes an RpcError with its code. */
async function call(method, body, token) {
  const response = await fetch(`${GATEWAY_URL}/${method}`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "connect-protocol-version": "1",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  const payload = text ? JSON.parse(text) : {};
  if (!response.ok) throw new RpcError(method, payload.code ?? `http ${response.status}`, payload.message ?? text);
  return payload;
}

async function waitForMesh() {
  for (let attempt = 1; ; attempt++) {
    const status = await fetch(`${GATEWAY_URL}/healthz`, { signal: AbortSignal.timeout(5_000) }).then(
      async (r) => (r.ok ? "ok" : `${r.status} ${await r.text()}`),
      (error) => error.cause?.code ?? error.message,
    );
    if (status === "ok") return;
    if (attempt === 1 || attempt % 15 === 0) console.log(`waiting for the mesh: ${status}`);
    await sleep(2_000);
  }
}

/** The graph service learns of new users from events: a brand-new user may need a moment. */
async function followWhenKnown(follower, followee) {
  for (let attempt = 1; ; attempt++) {
    try {
      await call("chirp.graph.v1.GraphService/Follow", { followeeId: followee.id }, follower.token);
      return;
    } catch (error) {
      if (error instanceof RpcError && error.code === "already_exists") return;
      if (!(error instanceof RpcError) || error.code !== "not_found" || attempt >= 60) throw error;
      await sleep(500);
    }
  }
}

await waitForMesh();
const accounts = new Map();
for (const person of PEOPLE) {
  const created = await call("chirp.users.v1.UsersService/CreateUser", {
    username: person.username,
    email: `${person.username}@demo.chirp`,
    password: PASSWORD,
    displayName: person.displayName,
  }).then(
    () => true,
    (error) => (error instanceof RpcError && error.code === "already_exists" ? false : Promise.reject(error)),
  );
  const login = await call("chirp.users.v1.UsersService/Login", { usernameOrEmail: person.username, password: PASSWORD });
  accounts.set(person.username, { id: login.user.id, token: login.accessToken });
  if (created) {
    for (const text of person.posts) await call("chirp.tweets.v1.TweetsService/CreateTweet", { text }, login.accessToken);
  }
}
for (const [follower, followee] of FOLLOWS) await followWhenKnown(accounts.get(follower), accounts.get(followee));
console.log(`demo data ready: ${PEOPLE.map((p) => p.username).join(", ")} (password "${PASSWORD}")`);
// Roles are the operator's to grant, by account id: this Job only says how.
console.log(`to make ada an admin: kubectl exec deploy/users -c users -- node dist/admin.js grant ${accounts.get("ada").id} admin`);
