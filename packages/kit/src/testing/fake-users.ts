import { Server, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from "@grpc/grpc-js";
import {
  User,
  UsersServiceService,
  type BatchGetUsersRequest,
  type BatchGetUsersResponse,
  type GetUserRequest,
  type GetUserResponse,
} from "@chirp/proto/grpc/chirp/users/v1/users";
import { serverCredentials } from "../grpc/tls.js";
import { testTls } from "./identity.js";

/**
 * A stand-in for the users service for tests of the tweets and graph services, which ask it
 * whether a caller's account is live before every write, and for the profiles of the people their
 * lists show. It answers GetUser and BatchGetUsers only (any other call is UNIMPLEMENTED): every id
 * is a live account named `u_<last 8 characters of the id, lower-cased>` except those added to
 * `deleted`, which get NOT_FOUND (GetUser) or are missing (BatchGetUsers) as a deleted account is
 * with the real service. `calls` counts the GetUser calls, `batchCalls` the BatchGetUsers calls,
 * and `delayMs` holds each GetUser answer back that long. It speaks mutual TLS as `users`, with a
 * certificate of the test CA (testTls), as the service under test expects.
 */
export async function startFakeUsers() {
  const deleted = new Set<string>();
  const state = { calls: 0, batchCalls: 0, delayMs: 0 };
  const profile = (id: string) => User.fromPartial({ id, username: `u_${id.slice(-8).toLowerCase()}`, displayName: `User ${id.slice(-4)}` });
  const server = new Server();
  const getUser = (call: ServerUnaryCall<GetUserRequest, GetUserResponse>, callback: sendUnaryData<GetUserResponse>) => {
    state.calls += 1;
    const { id } = call.request;
    const answer = () =>
      deleted.has(id)
        ? callback({ code: status.NOT_FOUND, details: `id: no user has id "${id}"` })
        : callback(null, { user: profile(id) });
    if (state.delayMs > 0) setTimeout(answer, state.delayMs);
    else answer();
  };
  const batchGetUsers = (call: ServerUnaryCall<BatchGetUsersRequest, BatchGetUsersResponse>, callback: sendUnaryData<BatchGetUsersResponse>) => {
    state.batchCalls += 1;
    const ids = [...new Set(call.request.ids)];
    callback(null, { users: ids.filter((id) => !deleted.has(id)).map(profile), missingIds: ids.filter((id) => deleted.has(id)) });
  };
  server.addService(UsersServiceService, { getUser, batchGetUsers } as unknown as UntypedServiceImplementation);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", serverCredentials(testTls("users")), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    deleted,
    get calls() {
      return state.calls;
    },
    get batchCalls() {
      return state.batchCalls;
    },
    set delayMs(value: number) {
      state.delayMs = value;
    },
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
    /** Gone at once, its connections cut, as a killed process's are. */
    kill: () => server.forceShutdown(),
  };
}

export type FakeUsers = Awaited<ReturnType<typeof startFakeUsers>>;
