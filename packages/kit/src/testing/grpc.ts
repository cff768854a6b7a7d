import { status, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import { afterAll, beforeAll, expect } from "@jest/globals";
import { InProcessEventBus } from "../events/in-process-bus.js";
import type { Logger } from "../logger.js";
import { startFakeUsers, type FakeUsers } from "./fake-users.js";
import { testChannel } from "./identity.js";
import { testLogger } from "./support.js";

const escaped = (text: string) => text.replace(/[[\].]/g, "\\$&");

/**
 * The gRPC error a call fails with; fails the test if the call succeeds or fails with another
 * code. With `field`, the details must start with "<field>: ", as every validation error does.
 */
export async function grpcFailure(promise: Promise<unknown>, code: status, field?: string): Promise<ServiceError> {
  const error = await promise.then(
    () => {
      throw new Error(`expected the call to fail with ${status[code]}`);
    },
    (e: ServiceError) => e,
  );
  expect(status[error.code]).toBe(status[code]);
  if (field) expect(error.details).toMatch(new RegExp(`^${escaped(field)}: `));
  return error;
}

/** What a service's start function returns, as far as these tests need it. */
export interface StartedService {
  port: number;
  stop(): Promise<void>;
}

/** What the service under test is started with. */
export interface ServiceParts {
  bus: InProcessEventBus;
  log: Logger;
  /** A stand-in users service, when `fakeUsers` is set (for services that check accounts). */
  users: FakeUsers;
}

type GrpcClient = { close(): void };

/**
 * Starts a service in this process for a test file (before its tests, stopped after them), on an
 * ephemeral port, on an in-process bus whose messages the tests read, with a generated client
 * connected to it over mutual TLS as the gateway (configure the service with `testConfigFrom`). Read the parts through the returned object's getters inside tests and hooks.
 */
export function serviceUnderTest<App extends StartedService, Client extends GrpcClient>(options: {
  start: (parts: ServiceParts) => Promise<App>;
  client: new (address: string, credentials: ChannelCredentials) => Client;
  fakeUsers?: boolean;
}) {
  let parts: { app: App; client: Client; bus: InProcessEventBus; users: FakeUsers | undefined } | undefined;
  const started = () => {
    if (!parts) throw new Error("the service under test is started in beforeAll: read it inside tests and hooks");
    return parts;
  };
  beforeAll(async () => {
    const bus = new InProcessEventBus(testLogger());
    const users = options.fakeUsers ? await startFakeUsers() : undefined;
    const app = await options.start({ bus, log: testLogger(), users: users as FakeUsers });
    parts = { app, bus, users, client: new options.client(`127.0.0.1:${app.port}`, testChannel()) };
  });
  afterAll(async () => {
    parts?.client.close();
    await parts?.app.stop();
    await parts?.users?.stop();
  });
  return {
    get app() {
      return started().app;
    },
    get client() {
      return started().client;
    },
    get bus() {
      return started().bus;
    },
    get users(): FakeUsers {
      const { users } = started();
      if (!users) throw new Error("start the service under test with fakeUsers: true to have a users service");
      return users;
    },
  };
}
