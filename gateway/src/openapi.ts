import type { DescService } from "@bufbuild/protobuf";
import { openApiDocument } from "@chirp/proto/openapi";
import { ruleOf, type ServedRule, isServed } from "./access.js";

/**
 * The served OpenAPI document: the contracts' document (generated from proto/ by `npm run generate`
 * into packages/proto/src/openapi.json, every RPC of every service) cut down to what this gateway serves,
 * as its access table (access.ts) says: the RPCs of the services it forwards that have a rule and
 * are not internal. The table is the one place that says who may call what, so the document is
 * derived from it here, at start, instead of repeating it in proto/ or in the generator; an RPC
 * added to proto/ appears as soon as it has a rule.
 *
 * Per operation it states who may call it (`security`: none for the public ones, the bearer token
 * otherwise), and the HTTP statuses it can answer with the Connect error body.
 */

const contract = (): OpenApiDocument => openApiDocument as OpenApiDocument;

type Json = Record<string, unknown>;

interface RpcNote {
  service: string;
  method: string;
  kind: string;
  idempotency: string;
  description?: string;
  request?: string;
  response?: string;
}

interface Operation extends Json {
  description?: string;
  responses: Record<string, unknown>;
  security?: unknown[];
  "x-chirp-rpc": RpcNote;
}

interface Tag extends Json {
  name: string;
  description?: string;
  "x-chirp-streaming"?: RpcNote[];
}

export interface OpenApiDocument extends Json {
  info: Json & { description?: string };
  tags: Tag[];
  paths: Record<string, { post: Operation }>;
  components: Json & { schemas: Record<string, unknown>; responses?: Json; headers?: Json };
}

const CONNECT_PROTOCOL = "https://connectrpc.com/docs/protocol/";

/** HTTP statuses a served call can answer, with the Connect codes behind each. */
const ERRORS: Record<string, { codes: string[]; why: string }> = {
  "400": { codes: ["invalid_argument", "failed_precondition", "out_of_range"], why: "The request is not valid: the message names the field at fault." },
  "401": { codes: ["unauthenticated"], why: "No valid access token (or, for Login, wrong credentials)." },
  "403": { codes: ["permission_denied"], why: "The caller may not do this (another user's data, a deleted account, or a role it lacks)." },
  "404": { codes: ["not_found"], why: "Something the request names does not exist." },
  "409": { codes: ["already_exists", "aborted"], why: "A conflict: the thing exists already, or a concurrent change won; retry." },
  "429": { codes: ["resource_exhausted"], why: "Over the caller's rate budget (see `Retry-After`), or a request body over the size limit." },
  "500": { codes: ["internal", "unknown", "data_loss"], why: "Unexpected: the message holds only the request id, the details are in the gateway's log." },
  "503": { codes: ["unavailable"], why: "A service behind the gateway is not reachable; retry." },
  "504": { codes: ["deadline_exceeded"], why: "The call's deadline passed." },
};

/** Which of ERRORS a call with `rule` can answer. */
function statusesOf(rule: ServedRule): string[] {
  // Public calls read no token and touch no existing data by id, but Login answers 401 for wrong
  // credentials and registering can conflict.
  if (rule.who === "public") return ["400", "401", "409", "429", "500", "503", "504"];
  return Object.keys(ERRORS);
}

const REQUEST_ID_HEADER = { $ref: "#/components/headers/X-Request-Id" };

/** The document this gateway serves, for the services it forwards. */
export function servedOpenApi(services: readonly DescService[], document: OpenApiDocument = contract()): OpenApiDocument {
  const byName = new Map(services.map((s) => [s.typeName, s]));
  const served = (rpc: RpcNote): ServedRule | undefined => {
    const method = byName.get(rpc.service)?.methods.find((m) => m.name === rpc.method);
    const rule = method && ruleOf(method);
    return isServed(rule) ? rule : undefined;
  };

  const paths: OpenApiDocument["paths"] = {};
  for (const [path, { post }] of Object.entries(document.paths)) {
    const rule = served(post["x-chirp-rpc"]);
    if (!rule) continue;
    const responses: Record<string, unknown> = {
      ...post.responses,
      "200": { ...(post.responses["200"] as Json), headers: { "X-Request-Id": REQUEST_ID_HEADER } },
    };
    for (const status of statusesOf(rule)) responses[status] = { $ref: `#/components/responses/${status}` };
    responses["415"] = { $ref: "#/components/responses/415" };
    paths[path] = {
      post: {
        ...post,
        description: [post.description, accessNote(rule)].filter(Boolean).join("\n\n"),
        responses,
        ...(rule.who === "public" ? { security: [] } : {}),
        "x-chirp-access": { who: rule.who, budget: rule.budget },
      },
    };
  }

  const tags: Tag[] = [];
  for (const { "x-chirp-streaming": streams = [], ...tag } of document.tags) {
    const hasUnary = Object.values(paths).some(({ post }) => post["x-chirp-rpc"].service === tag.name);
    const servedStreams = streams.filter((s) => served(s));
    if (!hasUnary && servedStreams.length === 0) continue;
    tags.push({
      ...tag,
      description: [tag.description, ...servedStreams.map(streamNote)].filter(Boolean).join("\n\n"),
      // The streams' messages, for tools: their schemas stay in the document.
      ...(servedStreams.length > 0
        ? {
            "x-connect-streaming": servedStreams.map((s) => ({
              path: `/${s.service}/${s.method}`,
              kind: s.kind,
              request: { $ref: `#/components/schemas/${s.request}` },
              response: { $ref: `#/components/schemas/${s.response}` },
            })),
          }
        : {}),
    });
  }

  return {
    ...document,
    tags,
    paths,
    components: {
      ...document.components,
      schemas: reachable(document.components.schemas, [JSON.stringify(paths), JSON.stringify(tags), "#/components/schemas/connect.error"]),
      responses: {
        ...Object.fromEntries(Object.entries(ERRORS).map(([status, error]) => [status, errorResponse(status, error)])),
        // The Connect protocol's answer to a body it cannot take, before any error body is possible.
        "415": {
          description:
            "The request's `Content-Type` is not one of the Connect protocol's (`application/json` or `application/proto` for unary calls), or is missing; or the RPC is a stream. The body is empty.",
        },
      },
      headers: {
        "X-Request-Id": {
          description: "The call's request id: the client's own `X-Request-Id` when it is 1–64 of `A-Z a-z 0-9 . _ : -`, a new UUID otherwise. Every log line of the call carries it.",
          schema: { type: "string" },
        },
        "Retry-After": { description: "Seconds until the budget allows another call.", schema: { type: "string", pattern: "^[0-9]+$" } },
      },
    },
  };
}

function accessNote(rule: ServedRule): string {
  const budget = { entry: "the write budget of the client's address", read: "the caller's read budget", write: "the caller's write budget" }[rule.budget];
  if (rule.who === "public") return `**Access:** anyone, no token needed. Spends ${budget}.`;
  if (rule.who === "admin") return `**Access:** a caller holding the admin role. Spends ${budget}.`;
  const admin = rule.adminFor ? ` Some requests need the admin role: ${rule.adminFor.refusal}.` : "";
  return `**Access:** a signed-in caller (bearer token).${admin} Spends ${budget}.`;
}

function streamNote(rpc: RpcNote): string {
  const kind = rpc.kind.replace("_", " ");
  const name = (typeName: string) => `\`${typeName}\``;
  return [
    `**${rpc.method}** (${kind}: one ${name(rpc.request!)}, then a stream of ${name(rpc.response!)}). ${rpc.description ?? ""}`,
    `Streams are not unary JSON calls, so this RPC has no operation here: posting JSON to \`/${rpc.service}/${rpc.method}\` answers 415. ` +
      `Call it with a Connect client (the Connect streaming protocol, ${CONNECT_PROTOCOL}#streaming-rpcs, \`application/connect+json\` envelopes), gRPC-Web or gRPC.`,
  ].join("\n\n");
}

function errorResponse(status: string, error: { codes: string[]; why: string }): Json {
  return {
    description: `${error.why} Connect code: ${error.codes.map((c) => `\`${c}\``).join(", ")}.`,
    headers: { "X-Request-Id": REQUEST_ID_HEADER, ...(status === "429" ? { "Retry-After": { $ref: "#/components/headers/Retry-After" } } : {}) },
    content: {
      "application/json": {
        schema: {
          allOf: [{ $ref: "#/components/schemas/connect.error" }],
          properties: { code: { enum: error.codes } },
        },
      },
    },
  };
}

/** The schemas that `roots` (JSON text holding $refs) reach, directly or through other schemas. */
function reachable(schemas: Record<string, unknown>, roots: string[]): Record<string, unknown> {
  const kept: Record<string, unknown> = {};
  const refs = /#\/components\/schemas\/([A-Za-z0-9._-]+)/g;
  const queue = roots.flatMap((text) => [...text.matchAll(refs)].map((m) => m[1]!));
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (name in kept || !(name in schemas)) continue;
    kept[name] = schemas[name];
    queue.push(...[...JSON.stringify(schemas[name]).matchAll(refs)].map((m) => m[1]!));
  }
  return Object.fromEntries(Object.keys(schemas).filter((name) => name in kept).map((name) => [name, kept[name]]));
}
