import { idTime, isId, newId } from "@chirp/kit";

/** Indexes whose id does not sort strictly after the one before it. */
const outOfOrder = (ids: string[]) => ids.flatMap((id, i) => (i > 0 && !(id > ids[i - 1]!) ? [i] : []));

describe("newId", () => {
  it("makes 26-character Crockford base32 ids that isId accepts", () => {
    for (let i = 0; i < 100; i++) {
      const id = newId();
      expect(id).toHaveLength(26);
      expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(isId(id)).toBe(true);
    }
  });

  it("makes unique, strictly increasing ids in a tight loop", () => {
    const ids = Array.from({ length: 10_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(outOfOrder(ids)).toEqual([]);
  });

  it("keeps ids unique and increasing within one millisecond", () => {
    const now = Date.now() + 60_000;
    const ids = Array.from({ length: 10_000 }, () => newId(now));
    expect(new Set(ids).size).toBe(ids.length);
    expect(outOfOrder(ids)).toEqual([]);
    // All of them carry the same millisecond: only the random part counts up.
    expect(new Set(ids.map((id) => id.slice(0, 10))).size).toBe(1);
    expect(idTime(ids[ids.length - 1]!).getTime()).toBe(now);
  });

  it("never goes backwards when the clock does", () => {
    const later = newId(Date.now() + 120_000);
    const earlier = newId(Date.now());
    expect(earlier > later).toBe(true);
  });
});

describe("idTime", () => {
  it("round-trips the time an id was made at", () => {
    jest.isolateModules(() => {
      // A fresh module: no earlier id in this process pins the clock.
      const fresh = require("../src/ids") as typeof import("../src/ids");
      for (const t of [0, 1, 1_000, Date.UTC(2001, 8, 9, 1, 46, 40), Date.now(), Date.UTC(9999, 11, 31), 2 ** 48 - 1]) {
        const id = fresh.newId(t);
        expect(fresh.isId(id)).toBe(true);
        expect(fresh.idTime(id).getTime()).toBe(t);
      }
    });
  });

  it("reads the time of an id made now", () => {
    // Later than any id this file made before, so the clock is not pinned by an earlier one.
    const t = Date.now() + 300_000;
    expect(idTime(newId(t)).getTime()).toBe(t);
    expect(idTime(newId(t + 1)).getTime()).toBe(t + 1);
  });
});

describe("isId", () => {
  const valid = newId();

  it("rejects the wrong length", () => {
    expect(isId("")).toBe(false);
    expect(isId(valid.slice(0, 25))).toBe(false);
    expect(isId(`${valid}0`)).toBe(false);
  });

  it("rejects characters outside Crockford base32", () => {
    for (const bad of ["I", "L", "O", "U", "-", "_", " ", "é"]) {
      expect(isId(valid.slice(0, 20) + bad + valid.slice(21))).toBe(false);
    }
  });

  it("rejects lowercase", () => {
    const lower = `${valid.slice(0, 25)}a`;
    expect(isId(`${valid.slice(0, 25)}A`)).toBe(true);
    expect(isId(lower)).toBe(false);
    expect(isId("01arz3ndektsv4rrffq69g5fav")).toBe(false);
    expect(isId("01ARZ3NDEKTSV4RRFFQ69G5FAV")).toBe(true);
  });

  it("rejects times beyond 48 bits", () => {
    expect(isId("8ZZZZZZZZZZZZZZZZZZZZZZZZZ")).toBe(false);
    expect(isId("7ZZZZZZZZZZZZZZZZZZZZZZZZZ")).toBe(true);
  });
});
