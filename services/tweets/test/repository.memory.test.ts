import { InMemoryTweetRepository } from "../src/storage/memory.js";
import { tweetRepositoryContract } from "./repository.contract.js";

describe("InMemoryTweetRepository", () => {
  tweetRepositoryContract(async () => {
    const store = new InMemoryTweetRepository();
    return { repository: store, outbox: store };
  });
});
