/**
 * Runs tasks that share a key one at a time, in the order they were asked for; tasks with other
 * keys run freely. A key is forgotten as soon as its last task settles, so the map holds only
 * keys with work in hand. One task's failure is its caller's alone: the next task still runs.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key);
    const result = previous ? previous.then(task) : task();
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task running or waiting. */
  get size(): number {
    return this.tails.size;
  }
}
