import type { ProfileCard, RenderedTweet } from "./model.js";
import type { Upstream } from "./ports.js";
import type { Profiles } from "./profiles.js";
import type { TweetCards } from "./tweet-cards.js";

/**
 * Tweets and people rendered from the timeline's own projections, so a page costs no call to the
 * tweets or users service. Only what the projections do not know (tweets and users older than the
 * events they were built from, or whose events are still on their way) is asked upstream, in one
 * call each.
 */
export class Hydration {
  constructor(
    private readonly cards: TweetCards,
    private readonly people: Profiles,
  ) {}

  /**
   * The tweets that exist among the ids, as `viewerId` sees them (without one, as nobody in
   * particular), in any order; deleted and unknown ones are left out.
   */
  async tweets(ids: string[], viewerId: string | undefined, upstream: Upstream): Promise<RenderedTweet[]> {
    const { rendered, unknown } = await this.cards.render(ids, viewerId);
    return unknown.length > 0 ? [...rendered, ...(await upstream.tweets(unknown))] : rendered;
  }

  /** The public profiles of the users that exist among the ids, in any order. */
  async profiles(ids: string[], upstream: Upstream): Promise<ProfileCard[]> {
    const { found, unknown } = await this.people.find(ids);
    return unknown.length > 0 ? [...found, ...(await upstream.profiles(unknown))] : found;
  }
}
