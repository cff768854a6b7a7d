/** The one record of a (tweet, user) pair, live like or tombstone: ids are ULIDs, which never contain ":". */
export const likeKey = (tweetId: string, userId: string) => `${tweetId}:${userId}`;

/** Whether an outbox owner is a like, named by its key, rather than a tweet, named by its bare id. */
export const isLikeKey = (ownerId: string) => ownerId.includes(":");
