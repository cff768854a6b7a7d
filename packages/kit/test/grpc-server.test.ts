import { Metadata, makeGenericClientConstructor, status, type ServiceDefinition, type ServiceError } from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { invalidArgument } from "@chirp/kit";
import { GrpcServer, REQUEST_ID_KEY, bindService, serviceName, unary, type ServiceHandlers } from "@chirp/kit/grpc";
import { User, UsersServiceClient, UsersServiceService, type GetUserResponse } from "@chirp/proto/grpc/chirp/users/v1/users";
import { asCaller, testCallGuard, testChannel, testLogger, testTls } from "@chirp/kit/testing";

const USERS = "chirp.users.v1.UsersService";

type HealthStatus = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
interface HealthClient {
  Check(request: { service: string }, callback: (error: ServiceError | null, response: { status: HealthStatus }) => void): void;
  Watch(request: { service: string }): NodeJS.EventEmitter & { cancel(): void };
  close(): void;
}
const HealthClientConstructor = makeGenericClientConstructor(healthService as unknown as ServiceDefinition, "Health");

function healthOf(client: HealthClient, service: string): Promise<HealthStatus> {
  return new Promise((resolve, reject) => client.Check({ service }, (error, response) => (error ? reject(error) : resolve(response.status))));
}

async function rejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error("expected the call to fail");
}

const notUsed = async (): Promise<never> => {
  throw new Error("not used by this test");
};

const handlers: ServiceHandlers<typeof UsersServiceService> = {
  // (a) a plain answer, (d) echoing what the call context saw
  getUser: async (request, ctx) => ({
    user: User.fromPartial({ id: request.id, username: "alice", displayName: ctx.callerId ?? "", bio: ctx.requestId, email: ctx.callerRoles.join("|") }),
  }),
  // (b) a domain error
  getUserByUsername: async () => {
    throw invalidArgument("username", "bad");
  },
  // (c) an unexpected error
  batchGetUsers: async () => {
    throw new Error("secret internals");
  },
  deleteUser: async (_request, ctx) => {
    ctx.requireCaller();
    return {};
  },
  createUser: notUsed,
  login: notUsed,
  searchUsers: notUsed,
  updateUser: notUsed,
  setUserRoles: notUsed,
  refreshSession: notUsed,
  listSessions: notUsed,
  revokeSession: notUsed,
  logout: notUsed,
  changePassword: notUsed,
  revokeUserSessions: notUsed,
};

describe("GrpcServer", () => {
  const log = testLogger();
  let server: GrpcServer;
  let users: UsersServiceClient;
  let health: HealthClient;
  let shutdown: Promise<void> | undefined;

  beforeAll(async () => {
    server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [UsersServiceService], log, drainMs: 2_000, tls: testTls("users") });
    const address = `127.0.0.1:${server.port}`;
    users = new UsersServiceClient(address, testChannel());
    health = new HealthClientConstructor(address, testChannel()) as unknown as HealthClient;
  });

  afterAll(async () => {
    users.close();
    health.close();
    await (shutdown ?? server.shutdown());
  });

  it("names a service by its fully-qualified name", () => {
    expect(serviceName(UsersServiceService)).toBe(USERS);
  });

  it("listens on a free port", () => {
    expect(server.port).toBeGreaterThan(0);
  });

  describe("before activate", () => {
    it("reports NOT_SERVING for the server and for each service", async () => {
      expect(await healthOf(health, "")).toBe("NOT_SERVING");
      expect(await healthOf(health, USERS)).toBe("NOT_SERVING");
    });

    it("does not know other services", async () => {
      const error = await rejection(healthOf(health, "chirp.nothing.v1.Nothing"));
      expect(error.code).toBe(status.NOT_FOUND);
    });

    it("answers service calls with UNAVAILABLE", async () => {
      const error = await rejection(unary(users, users.getUser, { id: "u1" }));
      expect(error.code).toBe(status.UNAVAILABLE);
      expect(error.details).toMatch(/starting/);
    });
  });

  describe("after activate", () => {
    beforeAll(() => {
      server.activate(UsersServiceService, bindService(UsersServiceService, handlers, log, undefined, testCallGuard(UsersServiceService)));
    });

    it("reports SERVING", async () => {
      expect(await healthOf(health, USERS)).toBe("SERVING");
      expect(await healthOf(health, "")).toBe("SERVING");
    });

    it("answers with the handler's response", async () => {
      const response = await unary(users, users.getUser, { id: "u1" });
      expect(response.user?.id).toBe("u1");
      expect(response.user?.username).toBe("alice");
    });

    it("maps a domain error to its status and keeps its message", async () => {
      const error = await rejection(unary(users, users.getUserByUsername, { username: "x" }));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toBe("username: bad");
    });

    it("hides unexpected errors behind INTERNAL with the request id", async () => {
      const metadata = new Metadata();
      metadata.set(REQUEST_ID_KEY, "req-internal-42");
      const error = await rejection(unary(users, users.batchGetUsers, { ids: ["a"] }, metadata));
      expect(error.code).toBe(status.INTERNAL);
      expect(error.details).not.toContain("secret internals");
      expect(error.details).toContain("req-internal-42");
    });

    it("names a generated request id in INTERNAL errors when the client sent none", async () => {
      let echoed: string | undefined;
      const error = await new Promise<ServiceError>((resolve, reject) => {
        const call = users.batchGetUsers({ ids: ["a"] }, (err) => (err ? resolve(err) : reject(new Error("expected an error"))));
        call.on("metadata", (md: Metadata) => (echoed = md.get(REQUEST_ID_KEY)[0] as string));
      });
      expect(error.code).toBe(status.INTERNAL);
      expect(error.details).not.toContain("secret internals");
      expect(echoed).toMatch(/^[0-9a-f-]{36}$/);
      expect(error.details).toContain(echoed);
    });

    it("passes the caller and request id from metadata to the handler and echoes the request id", async () => {
      const metadata = asCaller("caller-7", { roles: ["admin", "beta"] });
      metadata.set(REQUEST_ID_KEY, "req-echo-1");
      let responseMetadata: Metadata | undefined;
      const response = await new Promise<GetUserResponse>((resolve, reject) => {
        const call = users.getUser({ id: "u2" }, metadata, (error, res) => (error ? reject(error) : resolve(res)));
        call.on("metadata", (md: Metadata) => (responseMetadata = md));
      });
      expect(response.user?.displayName).toBe("caller-7");
      expect(response.user?.bio).toBe("req-echo-1");
      expect(response.user?.email).toBe("admin|beta");
      expect(responseMetadata?.get(REQUEST_ID_KEY)).toEqual(["req-echo-1"]);
    });

    it("makes up a request id when the client sends none or an oversized one", async () => {
      const plain = await unary(users, users.getUser, { id: "u3" });
      expect(plain.user?.displayName).toBe("");
      expect(plain.user?.bio).toMatch(/^[0-9a-f-]{36}$/);

      const metadata = new Metadata();
      metadata.set(REQUEST_ID_KEY, "x".repeat(129));
      const oversized = await unary(users, users.getUser, { id: "u3" }, metadata);
      expect(oversized.user?.bio).toMatch(/^[0-9a-f-]{36}$/);
    });

    it("requireCaller() answers UNAUTHENTICATED without the caller metadata", async () => {
      const error = await rejection(unary(users, users.deleteUser, { id: "u1" }));
      expect(error.code).toBe(status.UNAUTHENTICATED);

      const metadata = asCaller("u1");
      await expect(unary(users, users.deleteUser, { id: "u1" }, metadata)).resolves.toEqual({});
    });

    it("turns NOT_SERVING as soon as shutdown starts", async () => {
      const watches = ["", USERS].map((service) => {
        const statuses: HealthStatus[] = [];
        const call = health.Watch({ service });
        call.on("data", (update: { status: HealthStatus }) => statuses.push(update.status));
        call.on("error", () => undefined); // cancelled below
        return { call, statuses };
      });
      await waitFor(() => watches.every((w) => w.statuses.includes("SERVING")));

      shutdown = server.shutdown();
      await waitFor(() => watches.every((w) => w.statuses.includes("NOT_SERVING")));
      for (const w of watches) expect(w.statuses).toEqual(["SERVING", "NOT_SERVING"]);
      // The open streams would otherwise hold the drain until drainMs.
      for (const w of watches) w.call.cancel();
      const started = Date.now();
      await shutdown;
      expect(Date.now() - started).toBeLessThan(1_500);
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
