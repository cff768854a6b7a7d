import { idTime } from "@chirp/kit";
import { inSpan, kitMetrics } from "@chirp/kit/telemetry";
import type { TimelineObserver } from "./domain/ports.js";

/**
 * The timeline's own spans and metrics: each fan-out write is a span in the trace of the event
 * being handled, and the metrics get its size, the lag from a post's creation (its id's time) to
 * its last follower's timeline, and the celebrity merges of home reads.
 */
export function timelineObserver(service: string): TimelineObserver {
  const metrics = kitMetrics();
  const labels = { service };
  return {
    fanOutBatch(entries, write) {
      metrics.fanOutBatch.observe(labels, entries);
      return inSpan("fan-out batch", { "chirp.fanout.entries": entries }, write);
    },
    fannedOut(tweetId) {
      const created = idTime(tweetId).getTime();
      if (Number.isFinite(created)) metrics.fanOutLag.observe(labels, Math.max(0, Date.now() - created) / 1000);
    },
    celebritiesMerged() {
      metrics.celebrityMerges.inc(labels);
    },
  };
}
