import { SetIndex } from "@chirp/kit";
import { unique, type TweetCard } from "../../domain/model.js";
import type { CardStore } from "../../domain/ports.js";

const copyCard = (card: TweetCard): TweetCard => ({ ...card, tags: [...card.tags], mentions: [...card.mentions] });

/** The tweets projection's cards in process memory. */
export class InMemoryCardStore implements CardStore {
  private readonly cardsById = new Map<string, TweetCard>();
  /** Card ids by the tweet they retweet or reply to, and retweet entries by author and original. */
  private readonly retweetEntries = new SetIndex();
  private readonly replies = new SetIndex();
  private readonly retweetsByAuthor = new SetIndex();

  async saveCard(card: TweetCard): Promise<void> {
    if (this.cardsById.has(card.tweetId)) return;
    this.cardsById.set(card.tweetId, copyCard(card));
    if (card.retweetOfId) {
      this.retweetEntries.add(card.retweetOfId, card.tweetId);
      this.retweetsByAuthor.add(card.authorId, card.retweetOfId);
    }
    if (card.replyToId) this.replies.add(card.replyToId, card.tweetId);
  }

  async cards(tweetIds: string[]): Promise<TweetCard[]> {
    return unique(tweetIds).flatMap((id) => {
      const card = this.cardsById.get(id);
      return card ? [copyCard(card)] : [];
    });
  }

  async removeCards(tweetIds: string[]): Promise<void> {
    for (const id of unique(tweetIds)) {
      const card = this.cardsById.get(id);
      if (!card) continue;
      this.cardsById.delete(id);
      if (card.retweetOfId) {
        this.retweetEntries.delete(card.retweetOfId, id);
        this.retweetsByAuthor.delete(card.authorId, card.retweetOfId);
      }
      if (card.replyToId) this.replies.delete(card.replyToId, id);
    }
  }

  // Read on every page: one pass each, the Map and Set taking care of repeated ids.
  async retweetAndReplyCounts(tweetIds: string[]): Promise<Map<string, { retweetCount: number; replyCount: number }>> {
    const counts = new Map<string, { retweetCount: number; replyCount: number }>();
    for (const id of tweetIds) counts.set(id, { retweetCount: this.retweetEntries.get(id)?.size ?? 0, replyCount: this.replies.get(id)?.size ?? 0 });
    return counts;
  }

  async retweetedBy(userId: string, tweetIds: string[]): Promise<Set<string>> {
    const retweeted = new Set<string>();
    const entries = this.retweetsByAuthor.get(userId);
    if (entries) for (const id of tweetIds) if (entries.has(id)) retweeted.add(id);
    return retweeted;
  }
}
