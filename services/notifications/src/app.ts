import { STREAMS } from "@chirp/kit/events";
import { kitMetrics } from "@chirp/kit/telemetry";
import { startService, type ServiceApp, type ServiceOverrides } from "@chirp/kit/service";
import { schema, type NotificationsConfig } from "./config.js";
import { Activities } from "./domain/activities.js";
import { LiveNotifications } from "./domain/live.js";
import { Notifications } from "./domain/notifications.js";
import type { NotificationStores } from "./domain/ports.js";
import { consumeNotificationEvents, pushNewNotifications } from "./events.js";
import { NotificationsService, notificationsHandlers } from "./grpc/handlers.js";
import { notificationsPeers } from "./grpc/peers.js";
import { memoryStores } from "./storage/memory.js";
import { openMongoStores } from "./storage/mongo.js";
import { UpstreamClients } from "./upstream.js";

export type NotificationsOverrides = ServiceOverrides;

export type NotificationsApp = ServiceApp<NotificationsStorage>;

type NotificationsStorage = NotificationStores;

/**
 * Off rows (undone likes and follows) and deleted tweets guard against late events; they are kept
 * a day longer than JetStream keeps tweet events, after which none they guard against can come.
 */
const GUARD_RETENTION_MS = STREAMS.tweets.maxAgeMs + 24 * 3_600_000;
const FORGET_EVERY_MS = 3_600_000;

/**
 * The composition root: the stores, the durable consumer that records notifications, the live
 * subscription that pushes them to open streams, and the reads, with the actors' profiles asked
 * of the users service.
 */
export function startNotifications(config: NotificationsConfig, overrides: NotificationsOverrides = {}): Promise<NotificationsApp> {
  return startService({
    config,
    schema,
    overrides,
    service: NotificationsService,
    peers: notificationsPeers,
    streams: [STREAMS.users, STREAMS.tweets, STREAMS.graph],
    storage: { memory: memoryStores, mongo: openMongoStores },
    async parts({ storage: stores, bus, log, own, onStop, beforeDrain, tls }) {
      const upstream = own("upstream clients", new UpstreamClients(config.upstreams, log, { profileCacheMs: config.profileCacheMs, tls }));
      const activities = new Activities(stores);
      const notifications = new Notifications(stores);
      const live = new LiveNotifications(stores.activities, notifications, log);
      onStop("live stream metrics", kitMetrics().liveStreams.source({ service: config.serviceName }, () => live.streams));

      own("event consumer", await consumeNotificationEvents(bus, config.consumerName, activities, (eventId) => upstream.forEvent(eventId)));
      own("live subscription", await pushNewNotifications(bus, live, (eventId) => upstream.forEvent(eventId)));

      const forget = setInterval(() => {
        activities.forgetBefore(new Date(Date.now() - GUARD_RETENTION_MS)).catch((error: unknown) => log.warn({ err: error }, "could not forget old guards"));
      }, FORGET_EVERY_MS);
      forget.unref();
      onStop("guard pruning", () => clearInterval(forget));
      // Open streams end at once instead of holding the server's drain until its deadline.
      beforeDrain("live streams", () => live.close());
      return { handlers: notificationsHandlers(notifications, live, upstream), ready: { consumer: config.consumerName } };
    },
  });
}
