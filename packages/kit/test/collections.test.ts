import { ExpiringCache, SetIndex } from "@chirp/kit";

describe("ExpiringCache", () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000;
  });

  it("forgets an entry once its time is up", () => {
    const cache = new ExpiringCache<string>(100, 10, clock);
    cache.set("a", "alpha");
    now += 99;
    expect(cache.get("a")).toBe("alpha");
    now += 1;
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("drops the entry stored longest ago when full; storing again renews an entry", () => {
    const cache = new ExpiringCache<string>(1_000, 2, clock);
    cache.set("a", "alpha");
    cache.set("b", "beta");
    cache.set("a", "alpha 2");
    cache.set("c", "gamma");
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe("alpha 2");
    expect(cache.get("c")).toBe("gamma");
  });

  it("loads only what it lacks, once, and keeps only what was found", async () => {
    const cache = new ExpiringCache<{ id: string }>(1_000, 100, clock);
    const load = jest.fn(async (ids: string[]) => ids.filter((id) => id !== "gone").map((id) => ({ id })));
    expect((await cache.getMany(["a", "b", "a"], load, (v) => v.id)).map((v) => v.id).sort()).toEqual(["a", "b"]);
    expect(load).toHaveBeenLastCalledWith(["a", "b"]);
    expect((await cache.getMany(["a", "c", "gone"], load, (v) => v.id)).map((v) => v.id).sort()).toEqual(["a", "c"]);
    expect(load).toHaveBeenLastCalledWith(["c", "gone"]);
    await cache.getMany(["a", "b", "c"], load, (v) => v.id);
    expect(load).toHaveBeenCalledTimes(2);
    now += 1_000;
    await cache.getMany(["a"], load, (v) => v.id);
    expect(load).toHaveBeenLastCalledWith(["a"]);
    expect(load).toHaveBeenCalledTimes(3);
  });
});

describe("SetIndex", () => {
  it("files ids under keys and lets a key go once its last id leaves", () => {
    const index = new SetIndex();
    index.add("ada", "t1");
    index.add("ada", "t2");
    index.add("ada", "t1");
    index.add("bob", "t3");
    expect([...(index.get("ada") ?? [])]).toEqual(["t1", "t2"]);
    index.delete("ada", "t1");
    index.delete("ada", "missing");
    expect([...(index.get("ada") ?? [])]).toEqual(["t2"]);
    index.delete("ada", "t2");
    expect(index.get("ada")).toBeUndefined();
    index.deleteKey("bob");
    expect(index.get("bob")).toBeUndefined();
  });
});
