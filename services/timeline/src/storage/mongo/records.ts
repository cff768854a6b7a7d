import { duplicateKeyIndex } from "@chirp/kit/mongo";
import type { Collection, Filter, UpdateFilter } from "mongodb";
import type { IdRange, Post } from "../../domain/model.js";

// What more than one of the timeline's MongoDB stores needs.

/** The range as a condition on an id field; nothing when it is open both ways. */
export function rangeOn<F extends string>(field: F, range: IdRange): Partial<Record<F, { $gt?: string; $lt?: string }>> {
  if (range.before === undefined && range.after === undefined) return {};
  const bounds = { ...(range.after !== undefined ? { $gt: range.after } : {}), ...(range.before !== undefined ? { $lt: range.before } : {}) };
  return { [field]: bounds } as Partial<Record<F, { $gt?: string; $lt?: string }>>;
}

/** A post as a document names it: by its own `_id` (posts) or by a `tweetId` field (timeline entries). */
export const toPost = (doc: { _id: string; tweetId?: string; authorId: string; retweetOfId?: string }): Post => ({
  tweetId: doc.tweetId ?? doc._id,
  authorId: doc.authorId,
  ...(doc.retweetOfId ? { retweetOfId: doc.retweetOfId } : {}),
});

/**
 * Records a change (of a pair's follow or like, of a user's profile) unless a newer one is
 * recorded: a conditional upsert that matches the document only if its recorded version is not
 * newer. When nothing matches, the upsert's insert collides with the existing `_id`. That alone
 * does not say "stale": two changes of a new pair applied at once (by two consumers) both find no
 * document and both insert, and the older may win the insert. So a collision is followed by the
 * same conditional update without the insert, which now finds the document: it applies the
 * change if it is newer, and matching nothing is the answer "stale" (false).
 * `firstKept` fields are written only by the change that creates the document.
 */
export async function recordUnlessNewer<D extends { _id: string; version: string | Date }, K extends keyof D = never>(
  collection: Collection<D>,
  _id: string,
  fields: Omit<D, "_id" | "version" | K>,
  version: D["version"],
  firstKept?: Pick<D, K>,
): Promise<boolean> {
  const unlessNewer = { _id, version: { $lte: version } } as Filter<D>;
  const update = { $set: { ...fields, version }, ...(firstKept && { $setOnInsert: firstKept }) } as UpdateFilter<D>;
  try {
    await collection.updateOne(unlessNewer, update, { upsert: true });
    return true;
  } catch (error) {
    if (duplicateKeyIndex(error) === undefined) throw error;
  }
  return (await collection.updateOne(unlessNewer, update)).matchedCount === 1;
}
