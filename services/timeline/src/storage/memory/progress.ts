import type { FanOutProgressStore } from "../../domain/ports.js";

/** Fan-out progress in process memory. */
export class InMemoryFanOutProgressStore implements FanOutProgressStore {
  private readonly progress = new Map<string, { resumeToken: string; at: Date }>();

  async fanOutProgress(tweetId: string): Promise<string | undefined> {
    return this.progress.get(tweetId)?.resumeToken;
  }

  async saveFanOutProgress(tweetId: string, resumeToken: string, at: Date): Promise<void> {
    this.progress.set(tweetId, { resumeToken, at });
  }

  async clearFanOutProgress(tweetIds: string[]): Promise<void> {
    for (const id of tweetIds) this.progress.delete(id);
  }

  async forgetBefore(cutoff: Date): Promise<void> {
    for (const [id, { at }] of [...this.progress]) if (at < cutoff) this.progress.delete(id);
  }
}
