import { unique, type ProfileCard } from "./model.js";
import type { TimelineStores } from "./ports.js";

/** What the profiles projection keeps, and the tombstones that let a deletion win over late events. */
export type ProfileStores = Pick<TimelineStores, "profiles" | "tombstones">;

export interface FoundProfiles {
  /** In no particular order. */
  found: ProfileCard[];
  /**
   * Ids the projection has no profile of: users older than the events it was built from, whose
   * events have not arrived yet, or who are deleted. Only the users service knows them.
   */
  unknown: string[];
}

/**
 * The profiles projection: every user's public profile, kept from the users service's events so
 * that a page shows its people from the timeline's own store instead of asking the users service
 * on every read. Each event carries a whole profile, and the one with the newest `updatedAt` is
 * kept, so a redelivered, duplicate or late event changes nothing; a user's deletion (its
 * tombstone, recorded by the fan-out first) wins over events that arrive after it. Since a
 * deleted user's profile is never left kept, reads need not look at tombstones.
 */
export class Profiles {
  constructor(private readonly stores: ProfileStores) {}

  /** A new account: its profile before any change, as of its creation. */
  async userCreated(user: Pick<ProfileCard, "userId" | "username" | "displayName" | "createdAt">): Promise<void> {
    await this.keep({ ...user, bio: "", avatarUrl: "", updatedAt: user.createdAt });
  }

  async profileChanged(profile: ProfileCard): Promise<void> {
    await this.keep(profile);
  }

  /** Call after the user's tombstone is recorded. */
  async userDeleted(userId: string): Promise<void> {
    await this.stores.profiles.removeProfile(userId);
  }

  /** The kept profiles among the ids, and the ids without one; one read of the store. */
  async find(userIds: string[]): Promise<FoundProfiles> {
    const ids = unique(userIds);
    if (ids.length === 0) return { found: [], unknown: [] };
    const found = await this.stores.profiles.profiles(ids);
    const known = new Set(found.map((profile) => profile.userId));
    return { found, unknown: ids.filter((id) => !known.has(id)) };
  }

  private async keep(profile: ProfileCard): Promise<void> {
    if (await this.isDeleted(profile.userId)) {
      // Redelivered after saving but before its own check below (a crash): it is taken back now.
      await this.stores.profiles.removeProfile(profile.userId);
      return;
    }
    await this.stores.profiles.saveProfile(profile);
    // A deletion recorded while the profile was being written wins over it.
    if (await this.isDeleted(profile.userId)) await this.stores.profiles.removeProfile(profile.userId);
  }

  private async isDeleted(userId: string): Promise<boolean> {
    return (await this.stores.tombstones.findTombstones({ tweetIds: [], userIds: [userId] })).userIds.length > 0;
  }
}
