import { peopleViewOf } from "@chirp/kit";
import { profileMessage, singleCopyResponses, type ServiceHandlers } from "@chirp/kit/grpc";
import {
  GraphServiceService,
  ListFollowerIdsResponse,
  ListFollowersResponse,
  ListFollowingResponse,
  type FollowEdge,
} from "@chirp/proto/grpc/chirp/graph/v1/graph";
import type { Graph } from "../domain/graph.js";
import type { FollowListEntry } from "../domain/model.js";

const toEdge = (entry: FollowListEntry): FollowEdge => ({
  userId: entry.userId,
  followedAt: entry.followedAt,
  user: entry.profile && profileMessage(entry.profile),
});

/** The service as served: the responses that carry lists are encoded in a single copy. */
export const GraphService = singleCopyResponses(GraphServiceService, {
  listFollowers: ListFollowersResponse,
  listFollowing: ListFollowingResponse,
  listFollowerIds: ListFollowerIdsResponse,
});

/** `chirp.graph.v1.GraphService` over the domain: translation only, no rules. */
export function graphHandlers(graph: Graph): ServiceHandlers<typeof GraphServiceService> {
  return {
    async follow(req, ctx) {
      await graph.follow(ctx.requireCaller(), req.followeeId);
      return {};
    },
    async unfollow(req, ctx) {
      await graph.unfollow(ctx.requireCaller(), req.followeeId);
      return {};
    },
    async listFollowers(req) {
      const page = await graph.listFollowers({ ...req, view: peopleViewOf(req.view) });
      return { followers: page.entries.map(toEdge), nextPageToken: page.nextPageToken };
    },
    async listFollowing(req) {
      const page = await graph.listFollowing({ ...req, view: peopleViewOf(req.view) });
      return { following: page.entries.map(toEdge), nextPageToken: page.nextPageToken };
    },
    async getRelationship(req) {
      return graph.getRelationship(req.userId, req.otherId);
    },
    async getCounts(req) {
      const counts = await graph.getCounts(req.userId);
      // int64 travels as a decimal string in the generated types.
      return { followersCount: String(counts.followers), followingCount: String(counts.following) };
    },
    async listFollowerIds(req, ctx, send) {
      for await (const batch of graph.followerIdBatches(req)) await send(batch);
    },
  };
}
