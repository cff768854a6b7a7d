import { InMemoryUserRepository } from "../src/storage/memory.js";
import { userRepositoryContract } from "./repository.contract.js";

describe("InMemoryUserRepository", () => {
  userRepositoryContract(async () => {
    const store = new InMemoryUserRepository();
    return { repository: store, outbox: store };
  });
});
