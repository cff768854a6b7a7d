import { getDefaultHighWaterMark, setDefaultHighWaterMark } from "node:stream";
import { join } from "node:path";
import { newId } from "@chirp/kit";
import { STREAMS } from "@chirp/kit/events";
import { unary } from "@chirp/kit/grpc";
import { JetStreamBus } from "@chirp/kit/nats";
import { asCaller, eventually, serviceProcessSuite, testChannel, testLogger, uniqueName, waitFor } from "@chirp/kit/testing";
import { GraphServiceClient, type ListFollowerIdsResponse } from "@chirp/proto/grpc/chirp/graph/v1/graph";
import { newUserIds, userCreated } from "./fixtures.js";

const consumer = uniqueName("graph_process_test");

serviceProcessSuite({
  service: "graph",
  grpcService: "chirp.graph.v1.GraphService",
  dir: join(__dirname, ".."),
  // Asked before each follow whether the follower's account is live.
  usersStandIn: true,
  invalid: { settings: { USER_EVENTS_CONSUMER: "no.dots" } },
  drains: [
    {
      title: "stops cleanly on SIGTERM when idle",
      async run(service) {
        service.terminate();
      },
    },
    {
      title: "finishes a follower-id stream in flight on SIGTERM, then exits cleanly",
      servers: ["NATS_URL"],
      env: ({ servers }) => ({ NATS_URL: servers.NATS_URL!, USER_EVENTS_CONSUMER: consumer }),
      method: "/chirp.graph.v1.GraphService/ListFollowerIds",
      async run(service, { servers }) {
        // Users are announced on JetStream: the graph learns of the one to follow from UserCreated.
        const bus = await JetStreamBus.connect(servers.NATS_URL!, "graph-process-test", testLogger());
        // A tiny HTTP/2 window: a paused reader then holds the stream open with few followers.
        // Follows come from the gateway; the listing is the timeline's alone to ask for.
        const bufferWas = getDefaultHighWaterMark(false);
        setDefaultHighWaterMark(false, 16 * 1024);
        const client = new GraphServiceClient(service.address, testChannel("timeline"), { "grpc-node.flow_control_window": 1_024 });
        const gateway = new GraphServiceClient(service.address, testChannel());
        try {
          const follow = (follower: string, followeeId: string) => unary(gateway, gateway.follow, { followeeId }, asCaller(follower));

          // The stream must outlast every buffer between the handler and the paused reader, or the
          // handler ends before SIGTERM. Node 22 raised streams' default buffer from 16 KiB to
          // 64 KiB, and 600 ids (about 20 KB) then fitted on Node 24: this reader's buffer is
          // held at Node 20's 16 KiB (set for this test's stream, and put back after).
          const star = newId();
          await bus.publish(userCreated(star));
          const fans = newUserIds(600);
          await eventually(() => follow(fans[0]!, star), 15_000);
          await Promise.all(fans.slice(1).map((fan) => follow(fan, star)));

          const stream = client.listFollowerIds({ userId: star, batchSize: 1, resumeToken: "" });
          const received: string[] = [];
          const ended = new Promise<void>((resolve, reject) => stream.on("end", resolve).on("error", reject));
          stream.on("data", (batch: ListFollowerIdsResponse) => received.push(...batch.followerIds));
          await waitFor("the first batch", () => (received.length > 0 ? true : undefined));
          stream.pause();
          service.terminate();
          await waitFor("shutting down", () => service.process.logged("shutting down"));
          await new Promise((resolve) => setTimeout(resolve, 300));
          expect(service.process.running()).toBe(true);

          stream.resume();
          await ended;
          expect(await service.process.exited).toBe(0);
          expect(received).toEqual([...fans].reverse());
        } finally {
          setDefaultHighWaterMark(false, bufferWas);
          client.close();
          gateway.close();
          await bus.manager.consumers.delete(STREAMS.users.name, consumer).catch(() => false);
          await bus.close();
        }
      },
    },
  ],
});
