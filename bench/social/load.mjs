// The open-loop load generator and its statistics.
//
// Requests are issued on a fixed schedule (constant arrival rate), whether or not earlier ones have
// answered, and each latency is measured from the moment the request was due, not from when it
// was sent: a stalled server makes every request scheduled behind the stall late, as it would for
// real users (what wrk2 calls correcting for coordinated omission).
import { performance } from "node:perf_hooks";

/** A small seeded generator (mulberry32), so every run draws the same users and operations. */
export function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Latencies and errors of one operation over one run. */
export class OperationStats {
  latencies = [];
  errors = new Map();

  ok(ms) {
    this.latencies.push(ms);
  }

  failed(error) {
    const code = error?.code ?? error?.name ?? "unknown";
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  get errorCount() {
    let count = 0;
    for (const n of this.errors.values()) count += n;
    return count;
  }

  summary(seconds) {
    const sorted = Float64Array.from(this.latencies).sort();
    const at = (q) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
    return {
      ok: sorted.length,
      errors: this.errorCount,
      errorCodes: Object.fromEntries(this.errors),
      throughput: sorted.length / seconds,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: sorted.length === 0 ? NaN : sorted[sorted.length - 1],
    };
  }
}

/**
 * Offers `rate` requests per second for `seconds`, each one `pick()`ed from the operations, and
 * waits for the last answer. At most `maxInFlight` requests are outstanding: past that the
 * generator counts the request as an error ("overloaded") instead of queueing without bound.
 * Returns each operation's summary, and how late the generator itself sent requests (when that
 * grows, the generator, not the server, is the limit).
 */
export async function openLoop({ rate, seconds, pick, maxInFlight = 4_000 }) {
  const interval = 1000 / rate;
  const total = Math.max(1, Math.round(rate * seconds));
  const stats = new Map();
  const statsOf = (name) => stats.get(name) ?? stats.set(name, new OperationStats()).get(name);
  const sendDelays = new OperationStats();
  let inFlight = 0;
  let issued = 0;
  let lastAnswer = 0;
  const start = performance.now();

  await new Promise((resolve) => {
    const finishIfDone = () => {
      if (issued === total && inFlight === 0) resolve();
    };
    const tick = () => {
      const now = performance.now();
      while (issued < total && start + issued * interval <= now) {
        const due = start + issued * interval;
        issued++;
        const { name, call } = pick();
        const operation = statsOf(name);
        sendDelays.ok(now - due);
        if (inFlight >= maxInFlight) {
          operation.failed({ code: "overloaded" });
          continue;
        }
        inFlight++;
        call().then(
          () => {
            lastAnswer = performance.now();
            operation.ok(lastAnswer - due);
          },
          (error) => {
            lastAnswer = performance.now();
            operation.failed(error);
          },
        ).finally(() => {
          inFlight--;
          finishIfDone();
        });
      }
      if (issued < total) setTimeout(tick, Math.max(0, start + issued * interval - performance.now()));
      else finishIfDone();
    };
    tick();
  });

  const elapsed = (lastAnswer - start) / 1000;
  const operations = Object.fromEntries([...stats].map(([name, s]) => [name, s.summary(elapsed)]));
  const all = new OperationStats();
  for (const s of stats.values()) {
    all.latencies.push(...s.latencies);
    for (const [code, n] of s.errors) all.errors.set(code, (all.errors.get(code) ?? 0) + n);
  }
  return { offered: rate, seconds: elapsed, operations, all: all.summary(elapsed), sendDelayP99: sendDelays.summary(elapsed).p99 };
}

/**
 * The highest offered rate whose run keeps p99 under `p99Ms` with no more than 0.1% errors:
 * doubles from `startRate` until a run fails (or halves until one holds, down to `minRate`), then
 * bisects `refinements` times between the last rate that held and the first that did not.
 * Returns the best run (undefined when even `minRate` missed) and every step.
 *
 * A run that kept up with the offered rate (at least 95% of it achieved) but missed on its tail
 * is run `retries` more times, and the rate holds if one of them holds: on a shared machine one
 * pause of the host can push a short run's p99 past the limit at a rate the system sustains,
 * whereas a rate past capacity falls behind and is not retried.
 */
export async function sweep({ startRate, maxRate, minRate = 5, refinements, retries = 0, run, p99Ms = 100, onStep }) {
  const holds = (result) => result.all.p99 < p99Ms && result.all.errors <= result.all.ok * 0.001;
  const keptUp = (result) => result.all.throughput >= 0.95 * result.offered;
  const steps = [];
  const step = async (rate) => {
    for (let attempt = 0; ; attempt++) {
      const result = await run(Math.round(rate));
      const held = holds(result);
      steps.push({ rate: Math.round(rate), held, result, retry: attempt > 0 });
      onStep?.(steps.at(-1));
      if (held) return result;
      if (attempt >= retries || !keptUp(result)) return undefined;
    }
  };
  let best;
  let good;
  let bad;
  for (let rate = startRate; rate <= maxRate; rate *= 2) {
    const result = await step(rate);
    if (!result) {
      bad = rate;
      break;
    }
    best = result;
    good = rate;
  }
  for (let rate = startRate / 2; good === undefined && rate >= minRate; rate /= 2) {
    best = await step(rate);
    if (best) good = rate;
    else bad = rate;
  }
  for (let i = 0; good !== undefined && bad !== undefined && i < refinements; i++) {
    const rate = (good + bad) / 2;
    const result = await step(rate);
    if (result) {
      best = result;
      good = rate;
    } else {
      bad = rate;
    }
  }
  return { best, steps };
}
