import { createPrivateKey } from "node:crypto";
import { generateSigningKeyPair, parseVerificationKey, TokenSigner, TokenVerifier } from "@chirp/kit";
import { eventMessage } from "@chirp/kit/events";
import { testConfigFrom } from "@chirp/kit/testing";
import { schema, type UsersConfig } from "../src/config.js";
import { ScryptPasswordHasher } from "../src/domain/passwords.js";
import { Users, type UsersDependencies } from "../src/domain/users.js";
import { userEvents } from "../src/events.js";
import { InMemoryUserRepository } from "../src/storage/memory.js";

/** The cheapest scrypt cost the config accepts outside production: tests hash many passwords. */
export const TEST_HASH_COST = 4;

/** As the test tokens of @chirp/kit/testing (asCaller) say, so that the service verifies those too. */
export const tokenSettings = { issuer: "chirp", audience: "chirp", ttlSeconds: 900 };

export function testKeys() {
  const pair = generateSigningKeyPair();
  const signer = new TokenSigner(createPrivateKey(pair.privateKeyPem), tokenSettings);
  const verifier = new TokenVerifier([parseVerificationKey(pair.publicKeyPem)], tokenSettings);
  return { ...pair, signer, verifier };
}

export async function domainWithMemory(overrides: Partial<UsersDependencies> = {}) {
  const repository = new InMemoryUserRepository();
  const keys = testKeys();
  const passwords = new ScryptPasswordHasher(TEST_HASH_COST);
  const users = await Users.create({ repository, events: userEvents, passwords, tokens: keys.signer, ...overrides });
  return { users, repository, keys, passwords };
}

let counter = 0;
/** A valid, unique registration. */
export function newUser(overrides: Partial<{ username: string; email: string; password: string; displayName: string }> = {}) {
  counter += 1;
  const tag = `${Date.now().toString(36).slice(-5)}${counter}`;
  return { username: `u_${tag}`, email: `u_${tag}@example.com`, password: "correct horse battery", displayName: "", ...overrides };
}

export const testConfig = (overrides: Partial<UsersConfig> = {}): UsersConfig => ({
  ...testConfigFrom(schema, {
    AUTH_ISSUER: tokenSettings.issuer,
    AUTH_AUDIENCE: tokenSettings.audience,
    AUTH_TOKEN_TTL_SECONDS: String(tokenSettings.ttlSeconds),
    PASSWORD_HASH_COST: String(TEST_HASH_COST),
  }),
  ...overrides,
});

export { eventMessage };
