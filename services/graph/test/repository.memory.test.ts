import { InMemoryGraphRepository } from "../src/storage/memory.js";
import { graphRepositoryContract } from "./repository.contract.js";

describe("InMemoryGraphRepository", () => {
  graphRepositoryContract(async () => {
    const store = new InMemoryGraphRepository();
    return { repository: store, outbox: store };
  });
});
