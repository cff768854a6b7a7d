import { unique, type LikeChange, type RenderedTweet, type TweetCard } from "./model.js";
import type { TimelineStores } from "./ports.js";

/** What the tweets projection keeps, and the tombstones that let deletions win over late events. */
export type TweetCardStores = Pick<TimelineStores, "cards" | "likes" | "tombstones">;

export interface RenderedTweets {
  /** In the order asked for. */
  rendered: RenderedTweet[];
  /**
   * Ids the projection cannot render and does not know to be deleted: tweets older than the
   * events it was built from, or whose events have not arrived yet. Only the tweets service knows them.
   */
  unknown: string[];
}

/**
 * The tweets projection: every tweet's content, likes, retweets and replies, kept from the tweets
 * service's events so that a page renders from the timeline's own store instead of asking the
 * tweets service on every read. Counts are counted from what is kept, so a redelivered, duplicate
 * or late event changes nothing: cards and likes are keyed by tweet (and user), likes are applied
 * by event time, and deletions (tombstones, recorded by the fan-out first) win over late events.
 */
export class TweetCards {
  constructor(private readonly stores: TweetCardStores) {}

  async tweetCreated(card: TweetCard): Promise<void> {
    const involved = { tweetIds: [card.tweetId, ...(card.retweetOfId ? [card.retweetOfId] : [])], userIds: [card.authorId] };
    if (await this.anyDeleted(involved)) return;
    await this.stores.cards.saveCard(card);
    // A deletion recorded while the card was being written wins over it.
    if (await this.anyDeleted(involved)) await this.forget([card.tweetId]);
  }

  /** Call after the tweet's tombstone is recorded. */
  async tweetDeleted(tweetId: string): Promise<void> {
    await this.forget([tweetId]);
  }

  async likeChanged(change: LikeChange): Promise<void> {
    const involved = { tweetIds: [change.tweetId], userIds: [change.userId] };
    if (await this.anyDeleted(involved)) return;
    await this.stores.likes.applyLike(change);
    const late = await this.stores.tombstones.findTombstones(involved);
    if (late.tweetIds.length > 0) await this.forget(late.tweetIds);
    if (late.userIds.length > 0) await this.stores.likes.removeLikesBy(change.userId);
  }

  /**
   * Call after the user's tombstone is recorded. Their tweets and retweet entries go with the
   * TweetDeleted the tweets service announces for each; their likes are never announced one by one.
   */
  async userDeleted(userId: string): Promise<void> {
    await this.stores.likes.removeLikesBy(userId);
  }

  /**
   * The tweets as `viewerId` sees them (without one, as nobody in particular: nothing liked or
   * retweeted), with each retweet entry's original; deleted ones are left out.
   */
  async render(ids: string[], viewerId?: string): Promise<RenderedTweets> {
    const cards = new Map((await this.stores.cards.cards(unique(ids))).map((card) => [card.tweetId, card]));
    const originalIds = unique([...cards.values()].flatMap((card) => (card.retweetOfId && !cards.has(card.retweetOfId) ? [card.retweetOfId] : [])));
    if (originalIds.length > 0) for (const card of await this.stores.cards.cards(originalIds)) cards.set(card.tweetId, card);

    const renderable = (id: string) => {
      const card = cards.get(id);
      return card !== undefined && (card.retweetOfId === undefined || cards.has(card.retweetOfId));
    };
    const shown = ids.filter(renderable);
    const unknown = await this.notDeleted(ids.filter((id) => !renderable(id)), cards);
    if (shown.length === 0) return { rendered: [], unknown };

    const counted = unique(shown.flatMap((id) => [id, cards.get(id)!.retweetOfId ?? []].flat()));
    const none = new Set<string>();
    const [echoes, likes, liked, retweeted] = await Promise.all([
      this.stores.cards.retweetAndReplyCounts(counted),
      this.stores.likes.likeCounts(counted),
      viewerId ? this.stores.likes.likedBy(viewerId, counted) : none,
      viewerId ? this.stores.cards.retweetedBy(viewerId, counted) : none,
    ]);
    // Every rendered tweet has the same fields in the same order (one object shape), as the
    // upstream adapter builds them too.
    const render = (card: TweetCard): RenderedTweet => {
      const counts = echoes.get(card.tweetId);
      return {
        card,
        likeCount: likes.get(card.tweetId) ?? 0,
        retweetCount: counts?.retweetCount ?? 0,
        replyCount: counts?.replyCount ?? 0,
        likedByMe: liked.has(card.tweetId),
        retweetedByMe: retweeted.has(card.tweetId),
        retweetedTweet: card.retweetOfId === undefined ? undefined : render(cards.get(card.retweetOfId)!),
      };
    };
    return { rendered: shown.map((id) => render(cards.get(id)!)), unknown };
  }

  /** Removes the cards and every like of those tweets. */
  private async forget(tweetIds: string[]): Promise<void> {
    await this.stores.cards.removeCards(tweetIds);
    await this.stores.likes.removeLikesOf(tweetIds);
  }

  /** Those of the unrenderable ids that neither are deleted nor are retweet entries of a deleted original. */
  private async notDeleted(ids: string[], cards: Map<string, TweetCard>): Promise<string[]> {
    if (ids.length === 0) return [];
    const originals = ids.flatMap((id) => cards.get(id)?.retweetOfId ?? []);
    const deleted = new Set((await this.stores.tombstones.findTombstones({ tweetIds: unique([...ids, ...originals]), userIds: [] })).tweetIds);
    return ids.filter((id) => !deleted.has(id) && !deleted.has(cards.get(id)?.retweetOfId ?? ""));
  }

  private async anyDeleted(ids: { tweetIds: string[]; userIds: string[] }): Promise<boolean> {
    const found = await this.stores.tombstones.findTombstones(ids);
    return found.tweetIds.length > 0 || found.userIds.length > 0;
  }
}
