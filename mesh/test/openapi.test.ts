import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import { createLogger, GATEWAY_SERVICES } from "@chirp/kit";
import { isServed, ruledService, ruleOf } from "../../gateway/src/access";
import { startMesh, type Mesh } from "../src/mesh.js";

const ROOT = join(__dirname, "../..");
const OUTPUT = join(ROOT, "test-output");
/** Where ajv keeps the served document; its refs are made absolute to it. */
const DOCUMENT_ID = "https://chirp.invalid/openapi.json";

/**
 * The document the gateway serves at /openapi.json, against the embedded mesh: what it lists, that
 * it is valid OpenAPI 3.1 (@redocly/cli lint), and that real answers, good and bad, match it.
 */
describe("the gateway's /openapi.json", () => {
  let mesh: Mesh;
  let base: string;
  let document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  let token: string;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const format of ["uint32", "uint64"]) ajv.addFormat(format, true);

  beforeAll(async () => {
    mesh = await startMesh({ env: { PASSWORD_HASH_COST: "10" }, log: createLogger("mesh", "silent"), loopback: true });
    base = `http://127.0.0.1:${mesh.gateway.httpPort}`;
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json");
    document = await response.json();
    ajv.addSchema({ $id: DOCUMENT_ID, components: document.components });
    await post("chirp.users.v1.UsersService/CreateUser", { username: "doc_ann", email: "doc_ann@example.org", password: "correct horse" });
    token = (await post("chirp.users.v1.UsersService/Login", { usernameOrEmail: "doc_ann", password: "correct horse" })).body.accessToken;
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
  });

  async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(`${base}/${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
  }

  /** The validator of the schema the document gives for `path`'s answer with `status`. */
  function answerSchema(path: string, status: number): ValidateFunction {
    const responses = document.paths[`/${path}`].post.responses;
    expect(Object.keys(responses)).toContain(String(status));
    const response = status === 200 ? responses["200"] : document.components.responses[String(status)];
    // The document's refs are local to it: point them at the copy added to ajv.
    const schema = JSON.parse(JSON.stringify(response.content["application/json"].schema).replaceAll('"#/components/', `"${DOCUMENT_ID}#/components/`));
    const id = `https://chirp.invalid/answers/${encodeURIComponent(path)}/${status}`;
    return ajv.getSchema(id) ?? (ajv.addSchema({ ...schema, $id: id }), ajv.getSchema(id)!);
  }

  /** Calls `path` and checks the answer against the document: status listed, body valid. */
  async function callAsDocumented(path: string, body: unknown, expected: number, headers: Record<string, string> = {}) {
    const answer = await post(path, body, headers);
    expect({ path, status: answer.status, body: answer.body }).toMatchObject({ status: expected });
    const validate = answerSchema(path, expected);
    if (!validate(answer.body)) throw new Error(`${path} ${expected}: ${JSON.stringify(answer.body)}: ${ajv.errorsText(validate.errors)}`);
    return answer;
  }

  it("lists every unary RPC the gateway serves, and no other", () => {
    const served = GATEWAY_SERVICES.flatMap(({ grpcService }) =>
      ruledService(grpcService)!.methods.filter((m) => m.methodKind === "unary" && isServed(ruleOf(m))).map((m) => `/${m.parent.typeName}/${m.name}`),
    );
    expect(Object.keys(document.paths).sort()).toEqual(served.sort());
    expect(document.paths["/chirp.graph.v1.GraphService/ListFollowerIds"]).toBeUndefined();
    expect(JSON.stringify(document)).not.toContain("ListFollowerIds");
    expect(JSON.stringify(document)).not.toContain("chirp.events.v1");
    expect(JSON.stringify(document)).not.toContain("LoadTestService");
  });

  it("says who may call each operation: public ones need no token, the others the bearer token", () => {
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(document.security).toEqual([{ bearer: [] }]);
    for (const path of ["/chirp.users.v1.UsersService/CreateUser", "/chirp.users.v1.UsersService/Login"]) {
      expect(document.paths[path].post.security).toEqual([]);
      expect(document.paths[path].post.responses["404"]).toBeUndefined();
    }
    const roles = document.paths["/chirp.users.v1.UsersService/SetUserRoles"].post;
    expect(roles.security).toBeUndefined();
    expect(roles.description).toMatch(/admin role/);
    expect(Object.keys(roles.responses)).toEqual(expect.arrayContaining(["200", "400", "401", "403", "415", "429", "500", "503"]));
  });

  it("describes the stream in prose, with a link to the Connect protocol", () => {
    const timeline = document.tags.find((t: { name: string }) => t.name === "chirp.timeline.v1.TimelineService");
    expect(timeline.description).toMatch(/\*\*StreamHomeTimeline\*\* \(server streaming/);
    expect(timeline.description).toContain("https://connectrpc.com/docs/protocol/#streaming-rpcs");
    expect(timeline.description).toContain("answers 415");
    expect(document.paths["/chirp.timeline.v1.TimelineService/StreamHomeTimeline"]).toBeUndefined();
  });

  it("is valid OpenAPI 3.1 to @redocly/cli lint, without a warning", async () => {
    mkdirSync(OUTPUT, { recursive: true });
    const file = join(OUTPUT, "openapi.json");
    writeFileSync(file, JSON.stringify(document, null, 2));
    const redocly = join(ROOT, "node_modules/.bin/redocly");
    const { stdout, stderr } = await promisify(execFile)(redocly, ["lint", "--config", join(ROOT, "gateway/redocly.yaml"), file], {
      env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" },
    });
    const output = `${stdout}\n${stderr}`;
    expect(output).toContain("Your API description is valid");
    expect(output).not.toMatch(/You have \d+ warning/);
  }, 60_000);

  it("matches real answers: 64-bit counts as strings, defaults left out, errors as Connect error bodies", async () => {
    const me = await callAsDocumented("chirp.users.v1.UsersService/GetUserByUsername", { username: "doc_ann" }, 200);
    const { body: created } = await callAsDocumented("chirp.tweets.v1.TweetsService/CreateTweet", { text: "documented #openapi" }, 200);
    // Nobody liked it yet: the counts are 0, so they are left out.
    expect(created.tweet.likeCount).toBeUndefined();
    const { body: liked } = await callAsDocumented("chirp.tweets.v1.TweetsService/LikeTweet", { tweetId: created.tweet.id }, 200);
    expect(liked.tweet.likeCount).toBe("1");
    await callAsDocumented("chirp.tweets.v1.TweetsService/ListLikers", { tweetId: created.tweet.id }, 200);
    await callAsDocumented("chirp.graph.v1.GraphService/GetCounts", { userId: me.body.user.id }, 200);
    await callAsDocumented("chirp.timeline.v1.TimelineService/GetHomeTimeline", { pageSize: 5 }, 200);
    await callAsDocumented("chirp.users.v1.UsersService/UpdateUser", { user: { id: me.body.user.id, bio: "hi" }, updateMask: "bio" }, 200);

    const { body: invalid } = await callAsDocumented("chirp.users.v1.UsersService/GetUser", { id: "not an id" }, 400);
    expect(invalid.code).toBe("invalid_argument");
    await callAsDocumented("chirp.graph.v1.GraphService/GetCounts", { userId: me.body.user.id }, 401, { authorization: "Bearer nonsense" });
    await callAsDocumented("chirp.users.v1.UsersService/SetUserRoles", { userId: me.body.user.id, roles: ["admin"] }, 403);
    await callAsDocumented("chirp.tweets.v1.TweetsService/GetTweet", { id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" }, 404);
    await callAsDocumented("chirp.users.v1.UsersService/CreateUser", { username: "doc_ann", email: "other@example.org", password: "correct horse" }, 409);
  });

  it("lists followers, following and likers with the people themselves when asked (view PEOPLE_VIEW_PROFILES)", async () => {
    const ann = (await callAsDocumented("chirp.users.v1.UsersService/GetUserByUsername", { username: "doc_ann" }, 200)).body.user;
    await post("chirp.users.v1.UsersService/CreateUser", { username: "doc_bob", email: "doc_bob@example.org", password: "correct horse" });
    const bob = (await post("chirp.users.v1.UsersService/Login", { usernameOrEmail: "doc_bob", password: "correct horse" })).body;
    const asBob = { authorization: `Bearer ${bob.accessToken}` };
    await callAsDocumented("chirp.graph.v1.GraphService/Follow", { followeeId: ann.id }, 200, asBob);
    const { body: posted } = await callAsDocumented("chirp.tweets.v1.TweetsService/CreateTweet", { text: "like me" }, 200);
    await callAsDocumented("chirp.tweets.v1.TweetsService/LikeTweet", { tweetId: posted.tweet.id }, 200, asBob);

    const bobProfile = { id: bob.user.id, username: "doc_bob", displayName: "doc_bob" };
    const { body: followers } = await callAsDocumented("chirp.graph.v1.GraphService/ListFollowers", { userId: ann.id, view: "PEOPLE_VIEW_PROFILES" }, 200);
    expect(followers.followers).toEqual([{ userId: bob.user.id, followedAt: expect.any(String), user: expect.objectContaining(bobProfile) }]);
    // Public profiles only: bob's email stays out, even of his own list.
    expect(followers.followers[0].user.email).toBeUndefined();
    const { body: following } = await callAsDocumented("chirp.graph.v1.GraphService/ListFollowing", { userId: bob.user.id, view: "PEOPLE_VIEW_PROFILES" }, 200, asBob);
    expect(following.following[0].user).toMatchObject({ id: ann.id, username: "doc_ann", bio: "hi" });
    const { body: likers } = await callAsDocumented("chirp.tweets.v1.TweetsService/ListLikers", { tweetId: posted.tweet.id, view: "PEOPLE_VIEW_PROFILES" }, 200);
    expect(likers.likers).toEqual([{ userId: bob.user.id, likedAt: expect.any(String), user: expect.objectContaining(bobProfile) }]);
    // Without a view, as before: ids and times only.
    const { body: plain } = await callAsDocumented("chirp.tweets.v1.TweetsService/ListLikers", { tweetId: posted.tweet.id }, 200);
    expect(plain.likers).toEqual([{ userId: bob.user.id, likedAt: expect.any(String) }]);
    expect(document.components.schemas["chirp.graph.v1.PeopleView"].enum).toEqual(["PEOPLE_VIEW_UNSPECIFIED", "PEOPLE_VIEW_IDS", "PEOPLE_VIEW_PROFILES"]);
  });

  // Found by schemathesis (scripts/fuzz.mjs): connect-node dropped unknown keys by default.
  it("refuses a key the request message does not have, naming it, as the document's additionalProperties: false says", async () => {
    const schema = document.components.schemas["chirp.graph.v1.ListFollowersRequest"];
    expect(schema.additionalProperties).toBe(false);
    const { body } = await callAsDocumented("chirp.graph.v1.GraphService/ListFollowers", { userId: "01ARZ3NDEKTSV4RRFFQ69G5FAV", pagesize: 5 }, 400);
    expect(body).toEqual({ code: "invalid_argument", message: expect.stringContaining('key "pagesize" is unknown') });
    // The .proto names stay accepted, as the mapping asks.
    expect((await post("chirp.graph.v1.GraphService/ListFollowers", { user_id: "01ARZ3NDEKTSV4RRFFQ69G5FAV", page_size: 5 })).status).toBe(200);
  });

  // Found by schemathesis: a body without a content type answers 415, which the document now lists.
  it("lists the 415 a call without a JSON content type gets", async () => {
    const response = await fetch(`${base}/chirp.users.v1.UsersService/Login`, { method: "POST" });
    expect(response.status).toBe(415);
    expect(await response.text()).toBe("");
    expect(document.paths["/chirp.users.v1.UsersService/Login"].post.responses["415"]).toEqual({ $ref: "#/components/responses/415" });
    expect(document.components.responses["415"].content).toBeUndefined();
  });
});
