import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { User, UsersServiceService, type GetUserRequest, type GetUserResponse } from "@chirp/proto/grpc/chirp/users/v1/users";

/**
 * A stand-in for the users service for tests of the tweets and graph services, which ask it
 * whether a caller's account is live before every write. It answers GetUser only (any other call
 * is UNIMPLEMENTED): every id is a live account except those added to `deleted`, which get
 * NOT_FOUND as a deleted account does from the real service. `calls` counts the GetUser calls, and
 * `delayMs` holds each answer back that long.
 */
export async function startFakeUsers() {
  const deleted = new Set<string>();
  const state = { calls: 0, delayMs: 0 };
  const server = new Server();
  const getUser = (call: ServerUnaryCall<GetUserRequest, GetUserResponse>, callback: sendUnaryData<GetUserResponse>) => {
    state.calls += 1;
    const { id } = call.request;
    const answer = () =>
      deleted.has(id)
        ? callback({ code: status.NOT_FOUND, details: `id: no user has id "${id}"` })
        : callback(null, { user: User.fromPartial({ id, username: `u_${id.slice(-8).toLowerCase()}` }) });
    if (state.delayMs > 0) setTimeout(answer, state.delayMs);
    else answer();
  };
  server.addService(UsersServiceService, { getUser } as unknown as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    deleted,
    get calls() {
      return state.calls;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

export type FakeUsers = Awaited<ReturnType<typeof startFakeUsers>>;
