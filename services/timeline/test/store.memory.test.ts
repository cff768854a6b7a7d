import { InMemoryTimelineStore } from "../src/storage/memory.js";
import { CONTRACT_TIMELINE_LENGTH, timelineStoreContract } from "./store.contract.js";

describe("InMemoryTimelineStore", () => {
  timelineStoreContract(async () => new InMemoryTimelineStore(CONTRACT_TIMELINE_LENGTH));
});
