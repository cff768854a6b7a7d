import { randomBytes } from "node:crypto";
import { describe, expect, it } from "@jest/globals";
import { DomainError } from "../errors.js";
import { createLogger, type LevelWithSilent } from "../logger.js";

/**
 * Integration suites take their servers from the environment, as the services do. In CI
 * (CI=true) a missing server fails the run; elsewhere the suite is reported as skipped, never
 * as passed.
 */
export type ServerVariable = "MONGODB_URI" | "NATS_URL";

export function serverFromEnv(name: ServerVariable): string | undefined {
  const value = process.env[name]?.trim();
  if (value) return value;
  if (process.env.CI === "true") {
    throw new Error(`${name} is not set: CI must run the integration suites against a real server (see README, "Tests")`);
  }
  return undefined;
}

/** `describe` when every server the suite needs is configured, `describe.skip` otherwise. */
export function describeWith(servers: ServerVariable[], name: string, body: (env: Record<ServerVariable, string>) => void): void {
  const values = Object.fromEntries(servers.map((s) => [s, serverFromEnv(s)])) as Record<ServerVariable, string | undefined>;
  const missing = servers.filter((s) => !values[s]);
  const label = `${name} [${servers.map((s) => (s === "MONGODB_URI" ? "MongoDB" : "NATS JetStream")).join(" + ")}]`;
  if (missing.length > 0) {
    describe.skip(`${label} (skipped: ${missing.join(", ")} not set)`, () => {
      it("needs a server", () => undefined);
    });
    return;
  }
  describe(label, () => body(values as Record<ServerVariable, string>));
}

/** A name no other test run uses: databases, streams and consumers are per test file. */
export const uniqueName = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString("hex")}`;

export const testLogger = () => createLogger("test", (process.env.TEST_LOG_LEVEL as LevelWithSilent | undefined) ?? "silent");

/** Polls until the check passes or the time is up; the last failure is rethrown. */
export async function eventually<T>(check: () => Promise<T> | T, timeoutMs = 5_000, intervalMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** The DomainError a promise rejects with; fails the test if it resolves or rejects otherwise. */
export async function domainFailure(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error("expected the call to fail with a DomainError");
}

/** The DomainError a synchronous check throws: INVALID_ARGUMENT, its message starting with "<field>: ". */
export function invalidArgument(check: () => unknown, field: string): DomainError {
  try {
    check();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    expect((error as DomainError).code).toBe("INVALID_ARGUMENT");
    expect((error as DomainError).message.startsWith(`${field}: `)).toBe(true);
    return error as DomainError;
  }
  throw new Error(`expected ${field} to be rejected`);
}
