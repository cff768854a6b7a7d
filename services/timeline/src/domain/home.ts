import { decodePageToken, encodePageToken, invalidArgument, pageSize } from "@chirp/kit";
import type { Hydration } from "./hydration.js";
import { newestFirst, type IdRange, type Post, type TimelineItem } from "./model.js";
import { UNOBSERVED, type TimelineObserver, type TimelineStores, type Upstream } from "./ports.js";

/** What a reader's home timeline is read from: their entries, whom they follow, and the celebrities' posts. */
export type HomeStores = Pick<TimelineStores, "timelines" | "follows" | "celebrities" | "posts">;

export interface HomePage {
  items: TimelineItem[];
  /** Empty on the last page. */
  nextPageToken: string;
  /** Marks the newest entry the reader has seen, for `updates`. */
  sinceToken: string;
}

export interface HomeUpdates {
  items: TimelineItem[];
  sinceToken: string;
  /** More arrived than fit: the reader should reload from the top. */
  hasMore: boolean;
}

/** Where the next page starts, and the newest entry of the first page (every page's since_token). */
interface PageCursor {
  before: string;
  newest: string;
}

const isPageCursor = (value: unknown): value is PageCursor =>
  typeof value === "object" && value !== null && typeof (value as PageCursor).before === "string" && typeof (value as PageCursor).newest === "string";
/** The newest entry seen; "" when the timeline was empty. */
const isSinceCursor = (value: unknown): value is string => typeof value === "string";

/**
 * The read side. A reader's timeline is their materialised entries merged with the recent posts of
 * the celebrities they follow (which are never fanned out), newest first by tweet id. Pages are
 * cut by tweet id, so posts arriving meanwhile (larger ids) never shift a page: no entry repeats
 * or is skipped. Each page is rendered for its reader with one hydration of its tweets and one of
 * its people; `upstream` is asked, on the reader's behalf, only for what the projections cannot render.
 */
export class HomeTimelines {
  constructor(
    private readonly stores: HomeStores,
    private readonly hydration: Hydration,
    private readonly observer: Pick<TimelineObserver, "celebritiesMerged"> = UNOBSERVED,
  ) {}

  async page(readerId: string, request: { pageSize: number; pageToken: string }, upstream: Upstream): Promise<HomePage> {
    const size = pageSize(request.pageSize);
    const query = { home: readerId };
    const cursor = decodePageToken(request.pageToken, isPageCursor, query);
    const { examined, shown, more } = await this.newest(readerId, { before: cursor?.before }, size);
    const newest = cursor ? cursor.newest : (examined[0]?.tweetId ?? "");
    const last = examined.at(-1);
    return {
      items: await this.hydrate(shown, readerId, upstream),
      nextPageToken: more && last ? encodePageToken({ before: last.tweetId, newest } satisfies PageCursor, query) : "",
      sinceToken: this.sinceToken(readerId, newest),
    };
  }

  /** What arrived after the since token's entry, newest first, at most a page. */
  async updates(readerId: string, request: { sinceToken: string; pageSize: number }, upstream: Upstream): Promise<HomeUpdates> {
    if (request.sinceToken === "") throw invalidArgument("since_token", "is required: pass the since_token of GetHomeTimeline");
    const size = pageSize(request.pageSize);
    const since = decodePageToken(request.sinceToken, isSinceCursor, { updates: readerId }, "since_token") ?? "";
    const { examined, shown, more } = await this.newest(readerId, since === "" ? {} : { after: since }, size);
    return {
      items: await this.hydrate(shown, readerId, upstream),
      sinceToken: this.sinceToken(readerId, examined[0]?.tweetId ?? since),
      hasMore: more,
    };
  }

  /**
   * Renders posts as timeline items, in their order, as `viewerId` sees them (without one, as
   * nobody in particular): one hydration of the tweets, one of the people. A post whose tweet,
   * original or people no longer exist is left out: deleted tweets never show.
   */
  async hydrate(posts: Post[], viewerId: string | undefined, upstream: Upstream): Promise<TimelineItem[]> {
    if (posts.length === 0) return [];
    const tweets = new Map((await this.hydration.tweets(posts.map((p) => p.tweetId), viewerId, upstream)).map((t) => [t.card.tweetId, t]));
    const shown = posts.flatMap((post) => {
      const tweet = tweets.get(post.tweetId);
      const original = tweet?.card.retweetOfId ? tweet.retweetedTweet : tweet;
      return tweet && original ? [{ post, tweet, original }] : [];
    });
    if (shown.length === 0) return [];
    const people = new Set(shown.flatMap(({ tweet, original }) => [original.card.authorId, tweet.card.authorId]));
    const profiles = new Map((await this.hydration.profiles([...people], upstream)).map((p) => [p.userId, p]));
    return shown.flatMap(({ post, tweet, original }) => {
      const author = profiles.get(original.card.authorId);
      const retweetedBy = tweet.card.retweetOfId ? profiles.get(tweet.card.authorId) : undefined;
      if (!author || (tweet.card.retweetOfId && !retweetedBy)) return [];
      return [{ id: post.tweetId, tweet: original, author, retweetedBy, createdAt: tweet.card.createdAt }];
    });
  }

  /**
   * The reader's newest posts within the range: their own entries merged with the celebrities'
   * posts, one over the limit fetched from each to tell whether more exist. `examined` is what the
   * page covers (its last id is the next cursor); `shown` leaves out entries of authors the reader
   * no longer follows, which a fan-out racing an unfollow can leave behind.
   */
  private async newest(readerId: string, range: IdRange, limit: number): Promise<{ examined: Post[]; shown: Post[]; more: boolean }> {
    const { timelines, follows, celebrities, posts } = this.stores;
    const [own, followees] = await Promise.all([timelines.entries(readerId, range, limit + 1), follows.followees(readerId)]);
    const stars = await celebrities.celebritiesAmong(followees);
    if (stars.length > 0) this.observer.celebritiesMerged(stars.length);
    const merged = stars.length > 0 ? await posts.postsBy(stars, range, limit + 1) : [];
    // A post fanned out before its author became a celebrity comes from both sources.
    const candidates = [...new Map([...own, ...merged].map((p) => [p.tweetId, p])).values()].sort(newestFirst);
    const examined = candidates.slice(0, limit);
    const visible = new Set([...followees, readerId]);
    return { examined, shown: examined.filter((p) => visible.has(p.authorId)), more: candidates.length > limit };
  }

  private sinceToken(readerId: string, newest: string): string {
    return encodePageToken(newest, { updates: readerId });
  }
}
