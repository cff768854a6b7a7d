/**
 * A bounded map whose entries expire: for copies of another service's data that may be a little
 * stale (public profiles, say), so a hot read path need not ask for them every time. When full,
 * the entry stored longest ago is dropped first.
 */
export class ExpiringCache<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly clock: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > this.clock()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { value, expiresAt: this.clock() + this.ttlMs });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /**
   * The values for `keys`: those still fresh from here, the rest from `load` (called once, with
   * only the missing keys), which are then kept. Keys `load` does not return are not kept.
   */
  async getMany(keys: string[], load: (missing: string[]) => Promise<V[]>, keyOf: (value: V) => string): Promise<V[]> {
    const found: V[] = [];
    const missing: string[] = [];
    for (const key of new Set(keys)) {
      const value = this.get(key);
      if (value === undefined) missing.push(key);
      else found.push(value);
    }
    if (missing.length === 0) return found;
    const loaded = await load(missing);
    for (const value of loaded) this.set(keyOf(value), value);
    return [...found, ...loaded];
  }

  get size(): number {
    return this.entries.size;
  }
}
