import { unique, type ProfileCard } from "../../domain/model.js";
import type { ProfileStore } from "../../domain/ports.js";

/** The profiles projection in process memory. */
export class InMemoryProfileStore implements ProfileStore {
  private readonly profilesById = new Map<string, ProfileCard>();

  async saveProfile(profile: ProfileCard): Promise<void> {
    const kept = this.profilesById.get(profile.userId);
    if (kept && kept.updatedAt.getTime() > profile.updatedAt.getTime()) return;
    this.profilesById.set(profile.userId, { ...profile, createdAt: kept?.createdAt ?? profile.createdAt });
  }

  async profiles(userIds: string[]): Promise<ProfileCard[]> {
    return unique(userIds).flatMap((id) => {
      const profile = this.profilesById.get(id);
      return profile ? [{ ...profile }] : [];
    });
  }

  async removeProfile(userId: string): Promise<void> {
    this.profilesById.delete(userId);
  }
}
