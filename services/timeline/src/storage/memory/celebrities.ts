import { unique, type Celebrity } from "../../domain/model.js";
import type { CelebrityStore } from "../../domain/ports.js";

/** Celebrity marks in process memory. */
export class InMemoryCelebrityStore implements CelebrityStore {
  private readonly celebrities = new Map<string, Celebrity>();

  async celebrity(authorId: string): Promise<Celebrity | undefined> {
    const found = this.celebrities.get(authorId);
    return found && { ...found };
  }

  async markCelebrity(authorId: string, since: string): Promise<void> {
    const existing = this.celebrities.get(authorId);
    if (!existing || since < existing.since) this.celebrities.set(authorId, { authorId, since });
  }

  async unmarkCelebrity(authorId: string): Promise<void> {
    this.celebrities.delete(authorId);
  }

  async celebritiesAmong(authorIds: string[]): Promise<string[]> {
    return unique(authorIds).filter((id) => this.celebrities.has(id));
  }
}
