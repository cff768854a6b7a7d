import { createPrivateKey, type KeyObject } from "node:crypto";
import {
  createLogger,
  generateSigningKeyPair,
  Lifecycle,
  OutboxRelay,
  parseSigningKey,
  TokenSigner,
  type EventBus,
  type Logger,
  type OutboxStore,
} from "@chirp/kit";
import { InProcessEventBus, STREAMS } from "@chirp/kit/events";
import { bindService, GrpcServer } from "@chirp/kit/grpc";
import { connectMongo } from "@chirp/kit/mongo";
import { JetStreamBus } from "@chirp/kit/nats";
import { warnAboutFallbacks, type UsersConfig } from "./config.js";
import { ScryptPasswordHasher } from "./domain/passwords.js";
import type { UserRepository } from "./domain/ports.js";
import { RoleAdministration } from "./domain/roles.js";
import { Users } from "./domain/users.js";
import { userEvents } from "./events.js";
import { UsersService, usersHandlers } from "./grpc/handlers.js";
import { InMemoryUserRepository } from "./storage/memory.js";
import { MongoUserRepository } from "./storage/mongo.js";

/** What the embedded mesh or a test may supply instead of the configured parts. */
export interface UsersOverrides {
  log?: Logger;
  /** A bus shared with other services in the same process. */
  bus?: EventBus;
  /** A key shared with the gateway in the same process. */
  signingKey?: KeyObject;
}

export interface UsersApp {
  port: number;
  /** The public half of the token signing key, for verifiers. */
  publicKey: KeyObject;
  relay: OutboxRelay;
  bus: EventBus;
  /** The operator's way to grant roles, for the process that embeds the service (the mesh's demo data). */
  roles: RoleAdministration;
  stop(): Promise<void>;
}

/**
 * The composition root: connects storage and the event bus, wires the domain to them and serves
 * it over gRPC. The server listens first (health NOT_SERVING) and serves once everything is up.
 */
export async function startUsers(config: UsersConfig, overrides: UsersOverrides = {}): Promise<UsersApp> {
  const log = overrides.log ?? createLogger(config.serviceName, config.logLevel);
  warnAboutFallbacks(config, log);
  const lifecycle = new Lifecycle(log);
  const server = await GrpcServer.start({ host: config.host, port: config.port, services: [UsersService], log });
  try {
    let repository: UserRepository;
    let outbox: OutboxStore;
    if (config.mongo) {
      const mongo = await connectMongo(config.mongo.uri, config.mongo.database, log);
      lifecycle.onStop("MongoDB", () => mongo.close());
      const store = await MongoUserRepository.open(mongo.db);
      repository = store;
      outbox = store.outbox;
    } else {
      const store = new InMemoryUserRepository();
      repository = store;
      outbox = store;
    }

    let bus: EventBus;
    if (overrides.bus) {
      bus = overrides.bus;
    } else if (config.natsUrl) {
      const jetstream = await JetStreamBus.connect(config.natsUrl, `chirp-${config.serviceName}`, log);
      lifecycle.onStop("NATS", () => jetstream.close());
      await jetstream.ensureStreams([STREAMS.users, STREAMS.deadLetters]);
      bus = jetstream;
    } else {
      bus = new InProcessEventBus(log);
    }

    const relay = new OutboxRelay(outbox, bus, log, { pollIntervalMs: config.outboxPollMs });
    relay.start();
    lifecycle.onStop("outbox relay", () => relay.stop());

    const signingKey =
      overrides.signingKey ??
      (config.auth.signingKeyPem
        ? parseSigningKey(config.auth.signingKeyPem)
        : createPrivateKey(generateSigningKeyPair().privateKeyPem));
    const tokens = new TokenSigner(signingKey, {
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      ttlSeconds: config.auth.tokenTtlSeconds,
    });

    const users = await Users.create({
      repository,
      events: userEvents,
      passwords: new ScryptPasswordHasher(config.passwordHashCost),
      tokens,
      onEventsRecorded: () => relay.notify(),
    });
    // Registered last so it stops first: calls drain while storage and the bus are still there.
    lifecycle.onStop("gRPC server", () => server.shutdown());
    server.activate(UsersService, bindService(UsersService, usersHandlers(users), log));
    log.info({ port: server.port }, "users service ready");

    return { port: server.port, publicKey: tokens.publicKey, relay, bus, roles: new RoleAdministration(repository), stop: () => lifecycle.stop() };
  } catch (error) {
    await server.shutdown();
    await lifecycle.stop();
    throw error;
  }
}
