import { connect } from "node:http2";
import { GrpcServer } from "@chirp/kit/grpc";
import { UsersServiceService } from "@chirp/proto/grpc/chirp/users/v1/users";
import { testLogger } from "@chirp/kit/testing";

describe("GrpcServer keep-alive", () => {
  it("PINGs every connection, so a caller that vanished without closing is found and its streams end", async () => {
    const server = await GrpcServer.start({ host: "127.0.0.1", port: 0, services: [UsersServiceService], log: testLogger(), keepaliveMs: 200 });
    const session = connect(`http://127.0.0.1:${server.port}`);
    try {
      let pings = 0;
      session.on("ping", () => (pings += 1));
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(pings).toBeGreaterThanOrEqual(2);
    } finally {
      session.close();
      await server.shutdown();
    }
  });
});
