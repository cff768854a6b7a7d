// The OpenAPI 3.1 document of the contracts, for Connect JSON clients: written by
// scripts/generate.mjs into packages/proto/src/openapi.json from the descriptor set that `buf build`
// makes of proto/ (with its source info, for the comments). No ready generator writes Connect paths
// here, so this one is small and follows two specifications only:
//
// - the Connect protocol's unary calls: `POST /<package>.<Service>/<Method>` with the request
//   message as JSON, the response message as JSON with status 200, and errors as a JSON body
//   `{code, message, details}` with the HTTP status the protocol maps each code to;
// - protobuf's canonical JSON mapping (https://protobuf.dev/programming-guides/json/), what
//   @bufbuild/protobuf's toJson writes: lowerCamelCase names, 64-bit integers as decimal strings,
//   enums by name, Timestamp as RFC 3339, FieldMask as one comma-separated string, wrappers as
//   their value, and every field holding its default (zero, empty, false, the first enum value, an
//   empty list or map) left out.
//
// It covers every service and message of proto/: which RPCs the gateway serves, and to whom, is
// the gateway's access table's to say (gateway/src/openapi.ts derives the served document from this
// one and gateway/src/access.ts). Round-trip tests hold the schemas to toJson and fromJson
// (packages/proto/test/openapi.test.ts).
import { createFileRegistry, fromBinary, ScalarType } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

export const CONNECT_PROTOCOL = "https://connectrpc.com/docs/protocol/";
const JSON_MAPPING = "https://protobuf.dev/programming-guides/json/";

/**
 * Connect error codes and the HTTP status each is answered with in the Connect protocol
 * (https://connectrpc.com/docs/protocol/#error-codes).
 */
export const CONNECT_CODES = {
  canceled: 499,
  unknown: 500,
  invalid_argument: 400,
  deadline_exceeded: 504,
  not_found: 404,
  already_exists: 409,
  permission_denied: 403,
  resource_exhausted: 429,
  failed_precondition: 400,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  data_loss: 500,
  unauthenticated: 401,
};

/** A ref to a component schema, named by the message's or enum's full proto name. */
const ref = (typeName) => ({ $ref: `#/components/schemas/${typeName}` });

const INT64 = "^-?(0|[1-9][0-9]{0,18})$";
const UINT64 = "^(0|[1-9][0-9]{0,19})$";

/** The JSON Schema of one scalar value in canonical proto3 JSON. */
function scalarSchema(type) {
  switch (type) {
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.BYTES:
      return { type: "string", contentEncoding: "base64", pattern: "^[A-Za-z0-9+/]*={0,2}$" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32", minimum: -2147483648, maximum: 2147483647 };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0, maximum: 4294967295 };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64", pattern: INT64, description: "A 64-bit integer, as a decimal string." };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64", pattern: UINT64, description: "An unsigned 64-bit integer, as a decimal string." };
    case ScalarType.FLOAT:
    case ScalarType.DOUBLE:
      return {
        oneOf: [{ type: "number" }, { type: "string", enum: ["NaN", "Infinity", "-Infinity"] }],
        format: type === ScalarType.FLOAT ? "float" : "double",
      };
    default:
      throw new Error(`scalar type ${type} has no JSON mapping here`);
  }
}

/** The default a scalar field holds when its key is left out, as it would be written. */
function scalarDefault(type) {
  switch (type) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return "";
    case ScalarType.BOOL:
      return false;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return "0";
    default:
      return 0;
  }
}

/**
 * Well-known types with a JSON form of their own. Their schemas replace the message's fields; the
 * wrappers are the JSON of the value they wrap.
 */
const WELL_KNOWN = {
  "google.protobuf.Timestamp": {
    type: "string",
    format: "date-time",
    description:
      "A point in time as RFC 3339 in UTC (`Z`), with 0, 3, 6 or 9 fractional digits, " +
      "from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z; offsets are accepted in requests.",
    examples: ["2026-01-02T15:04:05.123Z"],
  },
  "google.protobuf.Duration": {
    type: "string",
    pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
    description: "A duration in seconds with the suffix `s`, such as `1.5s`.",
  },
  "google.protobuf.FieldMask": {
    type: "string",
    pattern: "^([a-z][a-zA-Z0-9]*(\\.[a-z][a-zA-Z0-9]*)*(,[a-z][a-zA-Z0-9]*(\\.[a-z][a-zA-Z0-9]*)*)*)?$",
    description: "Field paths in lowerCamelCase, joined by commas in one string, such as `displayName,bio`.",
    examples: ["displayName,bio"],
  },
  "google.protobuf.Empty": { type: "object", additionalProperties: false },
  "google.protobuf.Struct": { type: "object", description: "Any JSON object." },
  "google.protobuf.Value": { description: "Any JSON value." },
  "google.protobuf.ListValue": { type: "array", description: "Any JSON array." },
  "google.protobuf.Any": {
    type: "object",
    required: ["@type"],
    properties: { "@type": { type: "string", description: "The type URL of the packed message." } },
    description: "A packed message: its fields beside `@type`, or, for a well-known type with its own JSON form, `value`.",
  },
  "google.protobuf.DoubleValue": scalarSchema(ScalarType.DOUBLE),
  "google.protobuf.FloatValue": scalarSchema(ScalarType.FLOAT),
  "google.protobuf.Int64Value": scalarSchema(ScalarType.INT64),
  "google.protobuf.UInt64Value": scalarSchema(ScalarType.UINT64),
  "google.protobuf.Int32Value": scalarSchema(ScalarType.INT32),
  "google.protobuf.UInt32Value": scalarSchema(ScalarType.UINT32),
  "google.protobuf.BoolValue": scalarSchema(ScalarType.BOOL),
  "google.protobuf.StringValue": scalarSchema(ScalarType.STRING),
  "google.protobuf.BytesValue": scalarSchema(ScalarType.BYTES),
};

/**
 * Leading comments by element, from each file's source info: source-info paths name an element by
 * field numbers and indexes of FileDescriptorProto (4 message_type, 5 enum_type, 6 service; in a
 * message 2 field, 3 nested_type, 4 enum_type; in an enum or service 2 value or method).
 */
function commentsOf(file) {
  const byPath = new Map();
  for (const location of file.proto.sourceCodeInfo?.location ?? []) {
    if (location.leadingComments) byPath.set(location.path.join("."), location.leadingComments);
  }
  const comments = new Map();
  const put = (key, path) => {
    const text = byPath.get(path.join("."));
    if (text) comments.set(key, tidy(text));
  };
  const walkEnum = (e, name, path) => {
    put(name, path);
    e.value.forEach((v, i) => put(`${name}.${v.name}`, [...path, 2, i]));
  };
  const walkMessage = (m, name, path) => {
    put(name, path);
    m.field.forEach((f, i) => put(`${name}.${f.name}`, [...path, 2, i]));
    m.nestedType.forEach((n, i) => walkMessage(n, `${name}.${n.name}`, [...path, 3, i]));
    m.enumType.forEach((e, i) => walkEnum(e, `${name}.${e.name}`, [...path, 4, i]));
  };
  const prefix = file.proto.package ? `${file.proto.package}.` : "";
  file.proto.messageType.forEach((m, i) => walkMessage(m, prefix + m.name, [4, i]));
  file.proto.enumType.forEach((e, i) => walkEnum(e, prefix + e.name, [5, i]));
  file.proto.service.forEach((s, i) => {
    put(prefix + s.name, [6, i]);
    s.method.forEach((m, j) => put(`${prefix}${s.name}.${m.name}`, [6, i, 2, j]));
  });
  return comments;
}

/** A comment as markdown: the comment marker's space and the trailing newline removed. */
const tidy = (text) =>
  text
    .split("\n")
    .map((line) => line.replace(/^ /, ""))
    .join("\n")
    .trim();

/** The schema of one field's value (one element of a list, one value of a map). */
function valueSchema(kind, field) {
  if (kind === "scalar") return scalarSchema(field.scalar);
  if (kind === "enum") return ref(field.enum.typeName);
  return ref(field.message.typeName);
}

/** How a field's absence reads, and its `default` keyword where it has one. */
function defaultOf(field) {
  if (field.fieldKind === "list") return { default: [], note: "Left out when empty." };
  if (field.fieldKind === "map") return { default: {}, note: "Left out when empty." };
  // Fields with explicit presence (messages, proto3 `optional`, oneof members) are written when set,
  // even to a zero value, and left out when unset.
  if (field.fieldKind === "message") return { note: "Left out when not set." };
  if (field.oneof || field.presence === 1 /* EXPLICIT */) return { note: "Left out when not set; written when set, even to its zero value." };
  if (field.fieldKind === "enum") {
    const zero = field.enum.values.find((v) => v.number === 0);
    return { default: zero.name, note: `Left out when ${zero.name}.` };
  }
  const value = scalarDefault(field.scalar);
  return { default: value, note: `Left out when ${JSON.stringify(value)}.` };
}

function fieldSchema(field, comment) {
  let schema;
  if (field.fieldKind === "list") schema = { type: "array", items: valueSchema(field.listKind, field) };
  else if (field.fieldKind === "map") {
    const keyPattern = {
      [ScalarType.BOOL]: "^(true|false)$",
      [ScalarType.STRING]: undefined,
    }[field.mapKey];
    const integerKey = field.mapKey !== ScalarType.STRING && field.mapKey !== ScalarType.BOOL;
    schema = {
      type: "object",
      additionalProperties: valueSchema(field.mapKind, field),
      ...(keyPattern || integerKey ? { propertyNames: { pattern: keyPattern ?? "^-?[0-9]+$" } } : {}),
    };
  } else schema = valueSchema(field.fieldKind, field);

  const { default: value, note } = defaultOf(field);
  const description = [comment, note].filter(Boolean).join("\n\n");
  // A $ref keeps its siblings in OpenAPI 3.1 (JSON Schema 2020-12), so the description and default
  // sit beside it.
  const { description: typeNote, ...rest } = schema;
  return {
    ...rest,
    ...(value !== undefined ? { default: value } : {}),
    description: [description, typeNote].filter(Boolean).join(" "),
  };
}

function messageSchema(message, comments) {
  const properties = {};
  for (const field of message.fields) {
    properties[field.jsonName] = fieldSchema(field, comments.get(`${message.typeName}.${field.name}`));
  }
  const schema = {
    type: "object",
    ...(comments.get(message.typeName) ? { description: comments.get(message.typeName) } : {}),
    properties,
    additionalProperties: false,
  };
  // A oneof holds at most one of its members: each member, when present, rules out the others.
  const exclusive = {};
  for (const oneof of message.oneofs) {
    if (oneof.fields.length < 2) continue;
    for (const member of oneof.fields) {
      const others = oneof.fields.filter((f) => f !== member).map((f) => ({ required: [f.jsonName] }));
      exclusive[member.jsonName] = { not: { anyOf: others } };
    }
  }
  if (Object.keys(exclusive).length > 0) schema.dependentSchemas = exclusive;
  return schema;
}

function enumSchema(enumeration, comments) {
  const values = enumeration.values.map((v) => {
    const comment = comments.get(`${enumeration.typeName}.${v.name}`);
    return `- \`${v.name}\`${comment ? `: ${comment.replace(/\n/g, " ")}` : ""}`;
  });
  return {
    type: "string",
    enum: enumeration.values.map((v) => v.name),
    description: [comments.get(enumeration.typeName), "Written by name:", ...values].filter(Boolean).join("\n"),
  };
}

const CONNECT_ERROR = {
  type: "object",
  description: `The body of every error answer of a unary call in the Connect protocol (${CONNECT_PROTOCOL}#error-end-stream).`,
  required: ["code"],
  properties: {
    code: { type: "string", enum: Object.keys(CONNECT_CODES), description: "The status code, in snake_case." },
    message: {
      type: "string",
      description: "What went wrong, for developers; Chirp's messages start with the field at fault, such as `username: ...`.",
    },
    details: {
      type: "array",
      description: "Error details: protobuf messages, packed.",
      items: {
        type: "object",
        required: ["type", "value"],
        properties: {
          type: { type: "string", description: "The detail's full message name." },
          value: { type: "string", description: "The message in binary protobuf, base64 without padding." },
          debug: { description: "The message as JSON, when the server adds it." },
        },
      },
    },
  },
};

const JSON_RULES = `Requests and answers are JSON in protobuf's canonical JSON mapping (${JSON_MAPPING}):

- **Field names** are lowerCamelCase (\`displayName\`); the .proto names (\`display_name\`) are accepted in requests too.
- **Defaults are left out.** A field holding its default — \`0\`, \`""\`, \`false\`, the first enum value, an empty list — is not written: \`{}\` is a count of 0, and a timeline page with no entries has no \`items\`. Each schema states the default a missing field means.
- **64-bit integers are strings** (\`"likeCount": "1"\`), since JSON numbers lose precision past 2^53; 32-bit integers are numbers.
- **Enums** are written by name.
- **Timestamps** are RFC 3339 strings in UTC (\`"2026-01-02T15:04:05.123Z"\`); **field masks** are one comma-separated string of lowerCamelCase paths (\`"displayName,bio"\`).
- **Unknown fields** in a request are refused with \`invalid_argument\`.
- **\`null\`** in a request means the field's default, as if it were left out.

Every call is \`POST /<package>.<Service>/<Method>\` with \`Content-Type: application/json\`; an error answers with the HTTP status of its code and a \`connect.error\` body. Streaming RPCs are not callable as unary JSON (they answer 415); each service's description lists them, to be called with a Connect, gRPC-Web or gRPC client (${CONNECT_PROTOCOL}#streaming-rpcs).`;

/**
 * The OpenAPI 3.1 document of every service and message of the files in `descriptorSet` (a
 * serialized FileDescriptorSet with source info) whose package starts with `packagePrefix`.
 */
export function openApiDocument(descriptorSet, { packagePrefix = "chirp.", title = "Chirp API", version = "v1" } = {}) {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet));
  const files = [...registry.files].filter((f) => f.proto.package.startsWith(packagePrefix)).sort((a, b) => a.name.localeCompare(b.name));
  const comments = new Map(files.flatMap((f) => [...commentsOf(f)]));

  const schemas = {};
  const addMessage = (message) => {
    if (message.typeName in schemas) return;
    if (WELL_KNOWN[message.typeName]) {
      schemas[message.typeName] = WELL_KNOWN[message.typeName];
      return;
    }
    schemas[message.typeName] = messageSchema(message, comments);
    for (const field of message.fields) {
      if (field.message) addMessage(field.message);
      if (field.enum && !(field.enum.typeName in schemas)) schemas[field.enum.typeName] = enumSchema(field.enum, comments);
    }
    message.nestedMessages.forEach(addMessage);
    for (const e of message.nestedEnums) schemas[e.typeName] ??= enumSchema(e, comments);
  };
  for (const file of files) {
    file.messages.forEach(addMessage);
    for (const e of file.enums) schemas[e.typeName] ??= enumSchema(e, comments);
  }

  const paths = {};
  const tags = [];
  for (const file of files) {
    for (const service of file.services) {
      const streaming = [];
      for (const method of service.methods) {
        addMessage(method.input);
        addMessage(method.output);
        const rpc = {
          service: service.typeName,
          method: method.name,
          kind: method.methodKind,
          idempotency: ["IDEMPOTENCY_UNKNOWN", "NO_SIDE_EFFECTS", "IDEMPOTENT"][method.idempotency] ?? "IDEMPOTENCY_UNKNOWN",
        };
        const description = comments.get(`${service.typeName}.${method.name}`);
        if (method.methodKind !== "unary") {
          streaming.push({ ...rpc, description, request: method.input.typeName, response: method.output.typeName });
          continue;
        }
        paths[`/${service.typeName}/${method.name}`] = {
          post: {
            operationId: `${service.typeName}.${method.name}`,
            tags: [service.typeName],
            summary: method.name,
            ...(description ? { description } : {}),
            requestBody: { required: true, content: { "application/json": { schema: ref(method.input.typeName) } } },
            responses: { 200: { description: "OK", content: { "application/json": { schema: ref(method.output.typeName) } } } },
            "x-chirp-rpc": rpc,
          },
        };
      }
      tags.push({
        name: service.typeName,
        ...(comments.get(service.typeName) ? { description: comments.get(service.typeName) } : {}),
        ...(streaming.length > 0 ? { "x-chirp-streaming": streaming } : {}),
      });
    }
  }

  const sorted = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)));
  return {
    openapi: "3.1.0",
    info: { title, version, description: JSON_RULES, license: { name: "Apache-2.0", identifier: "Apache-2.0" } },
    servers: [{ url: "/", description: "The gateway that serves this document" }],
    security: [{ bearer: [] }],
    tags,
    paths,
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "The `accessToken` that `Login` answers, as `Authorization: Bearer <token>`." },
      },
      schemas: { "connect.error": CONNECT_ERROR, ...sorted },
    },
  };
}
