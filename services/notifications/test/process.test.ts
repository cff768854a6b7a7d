import { join } from "node:path";
import { type StatusObject } from "@grpc/grpc-js";
import { asCaller, serviceProcessSuite, testChannel } from "@chirp/kit/testing";
import { NotificationsServiceClient } from "@chirp/proto/grpc/chirp/notifications/v1/notifications";

serviceProcessSuite({
  service: "notifications",
  grpcService: "chirp.notifications.v1.NotificationsService",
  dir: join(__dirname, ".."),
  invalid: { settings: { CONSUMER_NAME: "no.dots" } },
  drains: [
    {
      title: "ends open streams on SIGTERM instead of waiting out the drain, then exits cleanly",
      async run(service) {
        const client = new NotificationsServiceClient(service.address, testChannel());
        const metadata = asCaller("01M83VMQVV99P26KZM1TRZB034");
        const stream = client.streamNotifications({}, metadata);
        stream.on("data", () => undefined);
        const finished = new Promise<StatusObject>((resolve) => stream.on("status", resolve));
        await new Promise((resolve) => stream.once("metadata", resolve));

        const stopping = Date.now();
        service.terminate();
        expect((await finished).code).toBe(0);
        expect(await service.process.exited).toBe(0);
        // Well inside the server's 10 s drain: the open stream did not hold the shutdown up.
        expect(Date.now() - stopping).toBeLessThan(5_000);
        client.close();
      },
    },
  ],
});
