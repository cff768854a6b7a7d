import type { Collection, Db } from "mongodb";
import { unique, type ProfileCard } from "../../domain/model.js";
import type { ProfileStore } from "../../domain/ports.js";
import { recordUnlessNewer } from "./records.js";

interface ProfileDocument {
  /** The user id. */
  _id: string;
  username: string;
  displayName: string;
  bio: string;
  avatarUrl: string;
  createdAt: Date;
  /** The profile's `updatedAt`: a user's newest profile is the one kept. */
  version: Date;
}

const toProfile = (doc: ProfileDocument): ProfileCard => ({
  userId: doc._id,
  username: doc.username,
  displayName: doc.displayName,
  bio: doc.bio,
  avatarUrl: doc.avatarUrl,
  createdAt: doc.createdAt,
  updatedAt: doc.version,
});

/** The profiles projection, in `profiles`, read by `_id` alone (a page's people). */
export class MongoProfileStore implements ProfileStore {
  private constructor(private readonly profilesCollection: Collection<ProfileDocument>) {}

  static async open(db: Db): Promise<MongoProfileStore> {
    return new MongoProfileStore(db.collection("profiles"));
  }

  async saveProfile(profile: ProfileCard): Promise<void> {
    const { userId, createdAt, updatedAt, username, displayName, bio, avatarUrl } = profile;
    await recordUnlessNewer(this.profilesCollection, userId, { username, displayName, bio, avatarUrl }, updatedAt, { createdAt });
  }

  async profiles(userIds: string[]): Promise<ProfileCard[]> {
    if (userIds.length === 0) return [];
    return (await this.profilesCollection.find({ _id: { $in: unique(userIds) } }).toArray()).map(toProfile);
  }

  async removeProfile(userId: string): Promise<void> {
    await this.profilesCollection.deleteOne({ _id: userId });
  }
}
