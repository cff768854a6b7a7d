import { SetIndex } from "@chirp/kit";
import { inRange, newestFirst, unique, type IdRange, type Post } from "../../domain/model.js";
import type { PostStore } from "../../domain/ports.js";

/** The posts projection in process memory. */
export class InMemoryPostStore implements PostStore {
  private readonly posts = new Map<string, Post>();
  /** Post ids by author and by the original they retweet, so neither reads every post. */
  private readonly postsByAuthor = new SetIndex();
  private readonly retweetsByOriginal = new SetIndex();

  async savePost(post: Post): Promise<void> {
    if (this.posts.has(post.tweetId)) return;
    this.posts.set(post.tweetId, { ...post });
    this.postsByAuthor.add(post.authorId, post.tweetId);
    if (post.retweetOfId !== undefined) this.retweetsByOriginal.add(post.retweetOfId, post.tweetId);
  }

  async postsBy(authorIds: string[], range: IdRange, limit: number): Promise<Post[]> {
    return unique(authorIds)
      .flatMap((authorId) => [...(this.postsByAuthor.get(authorId) ?? [])])
      .filter((id) => inRange(id, range))
      .map((id) => this.posts.get(id)!)
      .sort(newestFirst)
      .slice(0, limit)
      .map((post) => ({ ...post }));
  }

  async retweetsOf(tweetIds: string[]): Promise<string[]> {
    return unique(tweetIds).flatMap((id) => [...(this.retweetsByOriginal.get(id) ?? [])]);
  }

  async removePosts(tweetIds: string[]): Promise<void> {
    for (const id of tweetIds) {
      const post = this.posts.get(id);
      if (!post) continue;
      this.posts.delete(id);
      this.postsByAuthor.delete(post.authorId, id);
      if (post.retweetOfId !== undefined) this.retweetsByOriginal.delete(post.retweetOfId, id);
    }
  }

  async removePostsBy(authorId: string): Promise<string[]> {
    const ids = [...(this.postsByAuthor.get(authorId) ?? [])];
    await this.removePosts(ids);
    return ids;
  }

  async trimPosts(authorId: string, keep: number): Promise<void> {
    const all = await this.postsBy([authorId], {}, Number.MAX_SAFE_INTEGER);
    await this.removePosts(all.slice(keep).map((p) => p.tweetId));
  }
}
