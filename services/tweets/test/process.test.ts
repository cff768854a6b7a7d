import { join } from "node:path";
import { accessToken, holdUnaryCall, serviceProcessSuite } from "@chirp/kit/testing";
import { CreateTweetRequest, CreateTweetResponse } from "@chirp/proto/grpc/chirp/tweets/v1/tweets";
import { newUserId } from "./fixtures.js";

serviceProcessSuite({
  service: "tweets",
  grpcService: "chirp.tweets.v1.TweetsService",
  dir: join(__dirname, ".."),
  // Asked before each post whether its author's account is live.
  usersStandIn: true,
  invalid: { settings: { OUTBOX_POLL_MS: "0" } },
  drains: [
    {
      title: "finishes a call in flight at SIGTERM, then exits cleanly",
      method: "/chirp.tweets.v1.TweetsService/CreateTweet",
      finishedBeforeStopped: true,
      async run(service, { users }) {
        const author = newUserId();
        const call = await holdUnaryCall(service.address, "/chirp.tweets.v1.TweetsService/CreateTweet", { authorization: `Bearer ${accessToken(author)}` });
        service.terminate();
        await call.goaway;
        const { status, response } = await call.finish(CreateTweetRequest.encode({ text: "posted while draining", replyToId: "", tags: [], idempotencyKey: "" }).finish());
        expect(status).toBe("0");
        expect(CreateTweetResponse.decode(response).tweet).toMatchObject({ authorId: author, text: "posted while draining" });
        call.close();
        // The post asked the users service about its author while the server was draining.
        expect(users!.calls).toBe(1);
      },
    },
  ],
});
