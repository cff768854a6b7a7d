import { join } from "node:path";
import { serviceProcessSuite, testChannel } from "@chirp/kit/testing";
import { UsersServiceClient } from "@chirp/proto/grpc/chirp/users/v1/users";

serviceProcessSuite({
  service: "users",
  grpcService: "chirp.users.v1.UsersService",
  dir: join(__dirname, ".."),
  invalid: { settings: {}, required: ["AUTH_SIGNING_KEY"] },
  drains: [
    {
      title: "finishes an in-flight call on SIGTERM, then exits cleanly",
      // The production password cost makes CreateUser slow enough to still be running at SIGTERM.
      env: () => ({ PASSWORD_HASH_COST: "16" }),
      method: "/chirp.users.v1.UsersService/CreateUser",
      async run(service) {
        const client = new UsersServiceClient(service.address, testChannel());
        const started = Date.now();
        const response = new Promise<string>((resolve, reject) => {
          const call = client.createUser(
            { username: "sigterm_user", email: "sigterm@example.org", password: "correct horse", displayName: "" },
            (error, result) => (error ? reject(error) : resolve(result.user!.username)),
          );
          // The server sends headers as soon as it takes the call: stop it while the hash is computed.
          call.on("metadata", () => service.terminate());
        });
        expect(await response).toBe("sigterm_user");
        expect(await service.process.exited).toBe(0);
        client.close();
        expect(Date.now() - started).toBeLessThan(10_000);
      },
    },
  ],
});
