import { ensureIndexes } from "@chirp/kit/mongo";
import type { Collection, Db } from "mongodb";
import { unique, type IdRange, type Post } from "../../domain/model.js";
import type { PostStore } from "../../domain/ports.js";
import { rangeOn, toPost } from "./records.js";

interface PostDocument {
  /** The tweet id. */
  _id: string;
  authorId: string;
  /** Only on retweets, so the sparse index holds retweets alone. */
  retweetOfId?: string;
}

/**
 * Recent posts per author, in `posts`: read by `authorId, _id` (backfill, celebrity merge) and by
 * the sparse `retweetOfId` (retweets of a deleted tweet).
 */
export class MongoPostStore implements PostStore {
  private constructor(private readonly posts: Collection<PostDocument>) {}

  static async open(db: Db): Promise<MongoPostStore> {
    const store = new MongoPostStore(db.collection("posts"));
    await ensureIndexes(store.posts, [
      { key: { authorId: 1, _id: -1 }, name: "posts_by_author" },
      { key: { retweetOfId: 1 }, name: "posts_by_original", sparse: true },
    ]);
    return store;
  }

  async savePost(post: Post): Promise<void> {
    const fields = { authorId: post.authorId, ...(post.retweetOfId ? { retweetOfId: post.retweetOfId } : {}) };
    await this.posts.updateOne({ _id: post.tweetId }, { $setOnInsert: fields }, { upsert: true });
  }

  async postsBy(authorIds: string[], range: IdRange, limit: number): Promise<Post[]> {
    if (authorIds.length === 0) return [];
    const docs = await this.posts
      .find({ authorId: { $in: unique(authorIds) }, ...rangeOn("_id", range) })
      .sort({ _id: -1 })
      .limit(limit)
      .toArray();
    return docs.map(toPost);
  }

  async retweetsOf(tweetIds: string[]): Promise<string[]> {
    if (tweetIds.length === 0) return [];
    const docs = await this.posts.find({ retweetOfId: { $in: unique(tweetIds) } }, { projection: { _id: 1 } }).toArray();
    return docs.map((d) => d._id);
  }

  async removePosts(tweetIds: string[]): Promise<void> {
    if (tweetIds.length > 0) await this.posts.deleteMany({ _id: { $in: unique(tweetIds) } });
  }

  async removePostsBy(authorId: string): Promise<string[]> {
    const ids = (await this.posts.find({ authorId }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
    await this.removePosts(ids);
    return ids;
  }

  async trimPosts(authorId: string, keep: number): Promise<void> {
    const oldestKept = await this.posts.find({ authorId }, { projection: { _id: 1 } }).sort({ _id: -1 }).skip(keep - 1).limit(1).next();
    if (oldestKept) await this.posts.deleteMany({ authorId, _id: { $lt: oldestKept._id } });
  }
}
