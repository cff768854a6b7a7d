import { EVENT_SUBJECTS, STREAMS, type EventType, type StreamSpec } from "../events/catalog.js";
import { GATEWAY_FOLLOWS, GATEWAY_SHARED_VALUES, SERVICES, type ConsumingServiceName } from "../services.js";

/**
 * Who may do what on NATS, derived from the service catalogue (services.ts) and the events'
 * catalogue (events/catalog.ts): each process of the mesh connects as its own user, and may
 * publish only its own events and use only the JetStream streams and consumers that are its own.
 * The NATS server's `authorization` block is rendered from this (`natsAuthorization`), so a service
 * added to the catalogue gets its user and permissions with it.
 *
 * What JetStream is asked, and so what is allowed (its API is request/reply on `$JS.API.…`
 * subjects that name the stream and the consumer):
 * - `$JS.API.INFO` (the manager's first request) and `$JS.API.STREAM.NAMES` (which stream a
 *   subject falls in);
 * - `STREAM.INFO` and `STREAM.CREATE` of every stream the process touches (each declares them at
 *   start, so processes start in any order; a create never changes an existing stream), and
 *   `STREAM.UPDATE` only of the streams it owns: the one it publishes its events to, the
 *   dead-letter stream for a consumer (it publishes there too), the gateway's shared values;
 * - its durable consumer, by its name only: create or update, info, fetch (`MSG.NEXT`) and the
 *   acknowledgements (`$JS.ACK.<stream>.<durable>.>`);
 * - live subscriptions are ordered consumers whose names are random (`oc_<nuid>_<n>`), so on the
 *   streams it follows live a process may create, fetch from and delete any consumer, except the
 *   durable consumers of the others, which are denied by name;
 * - replies come to the process's own inbox prefix (`_INBOX_<process>`), the only subjects it may
 *   subscribe to: JetStream delivers consumed messages there too, so no process subscribes to an
 *   event subject directly, and none can read another's replies.
 *
 * Read permission is per stream, not per event: a consumer's filter subjects travel in the body
 * of its create request, which permissions do not see. A service that reads one event of a
 * stream could read the stream's other events; it can never publish them.
 */

/** Every process that connects to NATS: the catalogue's services and the gateway. */
export type NatsProcess = (typeof SERVICES)[number]["name"] | "gateway";

export const NATS_PROCESSES: readonly NatsProcess[] = [...SERVICES.map((s) => s.name), "gateway"];

export interface NatsPermissions {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[] };
}

export interface NatsAuthorizationOptions {
  /**
   * The durable consumers' names where they are not the catalogue's (`consumer.durable`): a test
   * or benchmark run names its own.
   */
  durables?: Partial<Record<ConsumingServiceName, string>>;
}

/** Where a process's replies come: set as the connection's inbox prefix, the one subject space it may subscribe to. */
export const inboxPrefix = (process: string) => `_INBOX_${process}`;

/** The dead-letter subject of a durable consumer (bus.ts's `deadLetterSubject`). */
const deadLetters = (durable: string) => `chirp.deadletter.${durable}`;

/** The stream an event subject is kept in. */
function streamOf(subject: string): StreamSpec {
  const stream = Object.values(STREAMS).find((s) => s.subjects.some((pattern) => matches(pattern, subject)));
  if (!stream) throw new Error(`no stream keeps ${subject}`);
  return stream;
}

/** Whether a NATS subject pattern (`*`, `>`) matches a literal subject. */
export function matches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || (p[i] !== "*" && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

const unique = <T>(items: T[]) => [...new Set(items)];
const streamsOf = (events: readonly EventType[]) => unique(events.map((event) => streamOf(EVENT_SUBJECTS[event]).name));

/** What a process does on NATS, as the catalogue says it. */
interface Uses {
  publishes: string[];
  /** Streams it declares at start (info, create). */
  declares: string[];
  /** Streams it may also update. */
  owns: string[];
  durable?: { name: string; streams: string[] };
  /** Streams it follows live (ordered consumers). */
  live: string[];
  /** The gateway's shared values: direct reads of one stream. */
  directReads: string[];
}

function usesOf(process: NatsProcess, durables: Record<ConsumingServiceName, string>): Uses {
  if (process === "gateway") {
    return {
      publishes: [`${GATEWAY_SHARED_VALUES.prefix}.>`],
      declares: unique([...streamsOf(GATEWAY_FOLLOWS), GATEWAY_SHARED_VALUES.stream]),
      owns: [GATEWAY_SHARED_VALUES.stream],
      live: streamsOf(GATEWAY_FOLLOWS),
      directReads: [GATEWAY_SHARED_VALUES.stream],
    };
  }
  const service = SERVICES.find((s) => s.name === process)!;
  const own = "publishes" in service ? STREAMS[service.publishes] : undefined;
  const consumer = "consumer" in service ? service.consumer : undefined;
  const live = "live" in service ? service.live : [];
  const durable = consumer ? { name: durables[process as ConsumingServiceName], streams: streamsOf(consumer.events) } : undefined;
  const publishes = [
    ...(own ? Object.values(EVENT_SUBJECTS).filter((subject) => streamOf(subject).name === own.name) : []),
    ...(durable ? [deadLetters(durable.name)] : []),
  ];
  return {
    publishes,
    // Every service declares the dead-letter stream at start (kit/src/service/start.ts).
    declares: unique([...(own ? [own.name] : []), ...(durable?.streams ?? []), ...streamsOf(live), STREAMS.deadLetters.name]),
    owns: [...(own ? [own.name] : []), ...(durable ? [STREAMS.deadLetters.name] : [])],
    ...(durable ? { durable } : {}),
    live: streamsOf(live),
    directReads: [],
  };
}

/** The durable consumers' names: the catalogue's, or the given ones. */
export function durableNames(options: NatsAuthorizationOptions = {}): Record<ConsumingServiceName, string> {
  return Object.fromEntries(
    SERVICES.flatMap((s) => ("consumer" in s ? [[s.name, options.durables?.[s.name as ConsumingServiceName] ?? s.consumer.durable]] : [])),
  ) as Record<ConsumingServiceName, string>;
}

/** The streams a process may change (`STREAM.UPDATE`); it only creates the others when missing. */
export function ownedStreams(process: NatsProcess): string[] {
  return usesOf(process, durableNames()).owns;
}

/** Each process's publish and subscribe permissions. */
export function natsPermissions(options: NatsAuthorizationOptions = {}): Record<NatsProcess, NatsPermissions> {
  const durables = durableNames(options);
  const result = {} as Record<NatsProcess, NatsPermissions>;
  for (const process of NATS_PROCESSES) {
    const uses = usesOf(process, durables);
    const api = "$JS.API";
    const allow = [
      ...uses.publishes,
      `${api}.INFO`,
      `${api}.STREAM.NAMES`,
      ...uses.declares.flatMap((s) => [`${api}.STREAM.INFO.${s}`, `${api}.STREAM.CREATE.${s}`]),
      ...uses.owns.map((s) => `${api}.STREAM.UPDATE.${s}`),
      ...(uses.durable
        ? uses.durable.streams.flatMap((s) => {
            const d = uses.durable!.name;
            // Several filter subjects make the client use the older create subject, `DURABLE.CREATE`.
            return [
              `${api}.CONSUMER.CREATE.${s}.${d}`,
              `${api}.CONSUMER.CREATE.${s}.${d}.>`,
              `${api}.CONSUMER.DURABLE.CREATE.${s}.${d}`,
              `${api}.CONSUMER.INFO.${s}.${d}`,
              `${api}.CONSUMER.MSG.NEXT.${s}.${d}`,
              `$JS.ACK.${s}.${d}.>`,
            ];
          })
        : []),
      // An ordered consumer with several filter subjects is created on `CONSUMER.CREATE.<stream>`,
      // whose request the server only takes for an ephemeral consumer (no durable name).
      ...uses.live.flatMap((s) => [`${api}.CONSUMER.CREATE.${s}`, `${api}.CONSUMER.CREATE.${s}.*`, `${api}.CONSUMER.CREATE.${s}.*.>`, `${api}.CONSUMER.MSG.NEXT.${s}.*`, `${api}.CONSUMER.DELETE.${s}.*`]),
      ...uses.directReads.flatMap((s) => [`${api}.DIRECT.GET.${s}`, `${api}.DIRECT.GET.${s}.>`]),
    ];
    // The wildcards of live subscriptions would also reach the others' durable consumers.
    const others = Object.entries(durables).filter(([name]) => name !== process).map(([, durable]) => durable);
    const deny = uses.live.flatMap((s) =>
      others.flatMap((d) => [`${api}.CONSUMER.CREATE.${s}.${d}`, `${api}.CONSUMER.CREATE.${s}.${d}.>`, `${api}.CONSUMER.MSG.NEXT.${s}.${d}`, `${api}.CONSUMER.DELETE.${s}.${d}`]),
    );
    result[process] = { publish: { allow: unique(allow), deny: unique(deny) }, subscribe: { allow: [`${inboxPrefix(process)}.>`] } };
  }
  return result;
}

/** The environment variable the NATS server reads a process's public nkey from (`$CHIRP_NKEY_USERS`). */
export const nkeyVariable = (process: string) => `CHIRP_NKEY_${process.toUpperCase().replace(/-/g, "_")}`;

export interface NatsUser {
  /** A line of comment above the user. */
  comment?: string;
  /** The public nkey (`U…`) or a `$VARIABLE` the server resolves from its environment. */
  nkey: string;
  /** Without: every permission (an operator's user in a test). */
  permissions?: NatsPermissions;
}

const list = (items: string[], indent: string) => (items.length === 0 ? "[]" : `[\n${items.map((i) => `${indent}  ${JSON.stringify(i)}`).join("\n")}\n${indent}]`);

/** An `authorization { users = [...] }` block of nats-server's configuration. */
export function renderAuthorization(users: NatsUser[]): string {
  const lines = ["authorization {", "  users = ["];
  for (const user of users) {
    if (user.comment) lines.push(`    # ${user.comment}`);
    lines.push("    {");
    lines.push(`      nkey: ${user.nkey}`);
    if (user.permissions) {
      const { publish, subscribe } = user.permissions;
      lines.push("      permissions: {");
      lines.push("        publish: {");
      lines.push(`          allow: ${list(publish.allow, "          ")}`);
      if (publish.deny.length > 0) lines.push(`          deny: ${list(publish.deny, "          ")}`);
      lines.push("        }");
      lines.push(`        subscribe: { allow: ${list(subscribe.allow, "        ")} }`);
      lines.push("      }");
    }
    lines.push("    }");
  }
  lines.push("  ]", "}");
  return lines.join("\n") + "\n";
}

/**
 * The NATS server's authorization for the mesh: one nkey user per process with its permissions.
 * `nkey` gives each process's public key, by default the variable `$CHIRP_NKEY_<PROCESS>` the
 * server reads from its environment (the Kubernetes manifests fill it from a Secret).
 */
export function natsAuthorization(options: NatsAuthorizationOptions & { nkey?: (process: NatsProcess) => string; extraUsers?: NatsUser[] } = {}): string {
  const permissions = natsPermissions(options);
  const nkey = options.nkey ?? ((process) => `$${nkeyVariable(process)}`);
  return renderAuthorization([
    ...NATS_PROCESSES.map((process) => ({ comment: `${process}: its own events and JetStream objects only`, nkey: nkey(process), permissions: permissions[process] })),
    ...(options.extraUsers ?? []),
  ]);
}
