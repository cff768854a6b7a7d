/** The one record of a (follower, followee) pair: ids are ULIDs, which never contain ":". */
export const edgeKey = (followerId: string, followeeId: string) => `${followerId}:${followeeId}`;
