// Small helpers every benchmark script uses.
import { performance } from "node:perf_hooks";

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A progress line writer for stderr (the results go to stdout), each line stamped with the time since it was made. */
export function progress() {
  const started = performance.now();
  return (message) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${message}\n`);
}

/** Runs `task` over the items with at most `limit` in flight. */
export async function inParallel(items, limit, task) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await task(items[index], index);
      }
    }),
  );
}
