import { memoryStores } from "../src/storage/memory.js";
import { notificationStoresContract } from "./store.contract.js";

describe("the in-memory stores", () => {
  notificationStoresContract(async () => memoryStores());
});
