/**
 * A secondary index for in-memory stores: each key to the set of ids filed under it (a user's
 * posts, a tweet's likes). A key whose set empties leaves, so the index never outgrows the data.
 */
export class SetIndex {
  private readonly sets = new Map<string, Set<string>>();

  add(key: string, id: string): void {
    let ids = this.sets.get(key);
    if (!ids) this.sets.set(key, (ids = new Set()));
    ids.add(id);
  }

  delete(key: string, id: string): void {
    const ids = this.sets.get(key);
    if (!ids) return;
    ids.delete(id);
    if (ids.size === 0) this.sets.delete(key);
  }

  /** Forgets the key with everything filed under it. */
  deleteKey(key: string): void {
    this.sets.delete(key);
  }

  get(key: string): ReadonlySet<string> | undefined {
    return this.sets.get(key);
  }
}
