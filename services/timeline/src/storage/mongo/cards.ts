import { countBy, ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { unique, type TweetCard } from "../../domain/model.js";
import type { CardStore } from "../../domain/ports.js";

interface CardDocument {
  /** The tweet id. */
  _id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  tags?: string[];
  mentions?: string[];
  /** Only on replies and retweet entries, so the sparse indexes hold those alone. */
  replyToId?: string;
  retweetOfId?: string;
}

const toCard = (doc: CardDocument): TweetCard => ({
  tweetId: doc._id,
  authorId: doc.authorId,
  text: doc.text,
  createdAt: doc.createdAt,
  // FerretDB drops an empty array from an upsert's $setOnInsert.
  tags: doc.tags ?? [],
  mentions: doc.mentions ?? [],
  ...(doc.replyToId ? { replyToId: doc.replyToId } : {}),
  ...(doc.retweetOfId ? { retweetOfId: doc.retweetOfId } : {}),
});

/**
 * The tweets projection's cards, in `cards`: read by `_id` (a page's tweets), the sparse
 * `retweetOfId, authorId` (retweet counts, "did I retweet it") and the sparse `replyToId` (reply
 * counts).
 */
export class MongoCardStore implements CardStore {
  private constructor(private readonly cardsCollection: Collection<CardDocument>) {}

  static async open(db: Db): Promise<MongoCardStore> {
    const store = new MongoCardStore(db.collection("cards"));
    await ensureIndexes(store.cardsCollection, [
      { key: { retweetOfId: 1, authorId: 1 }, name: "cards_by_original", sparse: true },
      { key: { replyToId: 1 }, name: "cards_by_parent", sparse: true },
    ]);
    return store;
  }

  async saveCard(card: TweetCard): Promise<void> {
    const { tweetId, replyToId, retweetOfId, ...content } = card;
    const fields = { ...content, ...(replyToId ? { replyToId } : {}), ...(retweetOfId ? { retweetOfId } : {}) };
    await this.cardsCollection.updateOne({ _id: tweetId }, { $setOnInsert: fields }, { upsert: true });
  }

  async cards(tweetIds: string[]): Promise<TweetCard[]> {
    if (tweetIds.length === 0) return [];
    return (await this.cardsCollection.find({ _id: { $in: unique(tweetIds) } }).toArray()).map(toCard);
  }

  async removeCards(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.cardsCollection.deleteMany({ _id: { $in: unique(tweetIds) } });
  }

  /** Two grouped counts for the whole batch, each answered from its index. */
  async retweetAndReplyCounts(tweetIds: string[]): Promise<Map<string, { retweetCount: number; replyCount: number }>> {
    const ids = unique(tweetIds);
    const [retweets, replies] = await Promise.all([countBy(this.cardsCollection, "retweetOfId", ids), countBy(this.cardsCollection, "replyToId", ids)]);
    return new Map(ids.map((id) => [id, { retweetCount: retweets.get(id) ?? 0, replyCount: replies.get(id) ?? 0 }]));
  }

  async retweetedBy(userId: string, tweetIds: string[]): Promise<Set<string>> {
    const ids = unique(tweetIds);
    if (ids.length === 0) return new Set();
    const retweets = await this.cardsCollection.find({ retweetOfId: { $in: ids }, authorId: userId }, { projection: { retweetOfId: 1 } }).toArray();
    return new Set(retweets.map((d) => d.retweetOfId!));
  }
}
