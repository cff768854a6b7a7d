import { createPrivateKey, type KeyObject } from "node:crypto";
import { generateSigningKeyPair, parseSigningKey, TokenSigner } from "@chirp/kit";
import { STREAMS } from "@chirp/kit/events";
import { repositoryWithOutbox, startService, type RepositoryStorage, type ServiceApp, type ServiceOverrides } from "@chirp/kit/service";
import { schema, type UsersConfig } from "./config.js";
import { ScryptPasswordHasher } from "./domain/passwords.js";
import type { SessionStore, UserRepository } from "./domain/ports.js";
import { RoleAdministration } from "./domain/roles.js";
import { Users } from "./domain/users.js";
import { userEvents } from "./events.js";
import { UsersService, usersHandlers } from "./grpc/handlers.js";
import { usersPeers } from "./grpc/peers.js";
import { InMemoryUserRepository } from "./storage/memory.js";
import { MongoUserRepository } from "./storage/mongo.js";

export interface UsersOverrides extends ServiceOverrides {
  /** A key shared with the gateway in the same process. */
  signingKey?: KeyObject;
}

export type UsersApp = ServiceApp<
  RepositoryStorage<UserRepository & SessionStore>,
  {
    /** The public half of the token signing key, for verifiers. */
    publicKey: KeyObject;
    /** The operator's way to grant roles, for the process that embeds the service (the mesh's demo data). */
    roles: RoleAdministration;
  }
>;

/** The composition root: accounts on their repository, announced through its outbox, signing tokens. */
export function startUsers(config: UsersConfig, overrides: UsersOverrides = {}): Promise<UsersApp> {
  const signingKey =
    overrides.signingKey ?? (config.auth.signingKeyPem ? parseSigningKey(config.auth.signingKeyPem) : createPrivateKey(generateSigningKeyPair().privateKeyPem));
  const tokens = new TokenSigner(signingKey, { issuer: config.tokens.issuer, audience: config.tokens.audience, ttlSeconds: config.auth.tokenTtlSeconds });
  return startService({
    config,
    schema,
    overrides,
    service: UsersService,
    peers: usersPeers,
    streams: [STREAMS.users],
    storage: repositoryWithOutbox<UserRepository & SessionStore>(() => new InMemoryUserRepository(), (db) => MongoUserRepository.open(db)),
    callerKeys: [tokens.publicKey],
    async parts({ storage: { repository }, eventsRecorded }) {
      const passwords = new ScryptPasswordHasher(config.passwordHashCost);
      const sessions = { refreshTtlMs: config.auth.refreshTtlSeconds * 1000, accessTtlMs: config.auth.tokenTtlSeconds * 1000 };
      const users = await Users.create({ repository, events: userEvents, passwords, tokens, sessions, onEventsRecorded: eventsRecorded });
      return { handlers: usersHandlers(users), app: { publicKey: tokens.publicKey, roles: new RoleAdministration(repository) } };
    },
  });
}
