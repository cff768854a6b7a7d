import { DEFAULT_PAGE_SIZE, DomainError, MAX_PAGE_SIZE, MAX_PAGE_TOKEN_LENGTH, decodePageToken, encodePageToken, pageSize, readPage, takePage } from "@chirp/kit";

interface Cursor {
  after: string;
  n: number;
}
const isCursor = (value: unknown): value is Cursor =>
  typeof value === "object" && value !== null && typeof (value as Cursor).after === "string" && typeof (value as Cursor).n === "number";

function caught(fn: () => unknown): DomainError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error("expected a DomainError");
}

describe("pageSize", () => {
  it("uses the default for 0 and caps large sizes", () => {
    expect(pageSize(0)).toBe(DEFAULT_PAGE_SIZE);
    expect(DEFAULT_PAGE_SIZE).toBe(20);
    expect(pageSize(150)).toBe(MAX_PAGE_SIZE);
    expect(MAX_PAGE_SIZE).toBe(100);
    expect(pageSize(1)).toBe(1);
    expect(pageSize(100)).toBe(100);
    expect(pageSize(37)).toBe(37);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])("refuses %p as INVALID_ARGUMENT on page_size", (size) => {
    const error = caught(() => pageSize(size));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.field).toBe("page_size");
    expect(error.message.startsWith("page_size:")).toBe(true);
  });

  it("honours a custom field, maximum and default", () => {
    expect(pageSize(0, "limit", 10, 5)).toBe(5);
    expect(pageSize(50, "limit", 10, 5)).toBe(10);
    expect(caught(() => pageSize(-3, "limit")).message.startsWith("limit:")).toBe(true);
  });
});

describe("page tokens", () => {
  const query = { prefix: "al", order: "username" };

  it("round-trips a cursor", () => {
    const cursor: Cursor = { after: "01ARZ3NDEKTSV4RRFFQ69G5FAV", n: 3 };
    const token = encodePageToken(cursor, query);
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token, isCursor, query)).toEqual(cursor);
    expect(decodePageToken(encodePageToken(cursor), isCursor)).toEqual(cursor);
  });

  it("decodes the empty token as the first page", () => {
    expect(decodePageToken("", isCursor, query)).toBeUndefined();
  });

  it.each(["garbage!!", "bm90IGpzb24", Buffer.from("null").toString("base64url"), Buffer.from('"x"').toString("base64url")])(
    "refuses the unparseable token %p",
    (token) => {
      const error = caught(() => decodePageToken(token, isCursor, query));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.field).toBe("page_token");
      expect(error.message.startsWith("page_token:")).toBe(true);
    },
  );

  it("refuses a token longer than any it issues before decoding it", () => {
    const huge = encodePageToken({ after: "x".repeat(MAX_PAGE_TOKEN_LENGTH) }, query);
    const decode = jest.spyOn(JSON, "parse");
    try {
      const error = caught(() => decodePageToken(huge, isCursor, query));
      expect(error.code).toBe("INVALID_ARGUMENT");
      expect(error.message).toBe(`page_token: is not a token this service issued (longer than ${MAX_PAGE_TOKEN_LENGTH} characters)`);
      expect(decode).not.toHaveBeenCalled();
    } finally {
      decode.mockRestore();
    }
  });

  it("refuses a token whose cursor fails the guard", () => {
    const token = encodePageToken({ after: 42 }, query);
    const error = caught(() => decodePageToken(token, isCursor, query));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.message.startsWith("page_token:")).toBe(true);
  });

  it("refuses a token issued for a different query", () => {
    const token = encodePageToken({ after: "x", n: 1 }, query);
    const error = caught(() => decodePageToken(token, isCursor, { ...query, prefix: "bo" }));
    expect(error.code).toBe("INVALID_ARGUMENT");
    expect(error.field).toBe("page_token");
    expect(error.message).toMatch(/^page_token: .*different query/);
    // A token without a query fingerprint is no better.
    const noQuery = Buffer.from(JSON.stringify({ c: { after: "x", n: 1 } })).toString("base64url");
    expect(caught(() => decodePageToken(noQuery, isCursor, query)).code).toBe("INVALID_ARGUMENT");
  });

  it("names a custom field", () => {
    const error = caught(() => decodePageToken("garbage", isCursor, null, "cursor"));
    expect(error.field).toBe("cursor");
    expect(error.message.startsWith("cursor:")).toBe(true);
  });
});

describe("takePage", () => {
  it("splits off the extra item that signals another page", () => {
    expect(takePage([1, 2, 3, 4], 3)).toEqual({ page: [1, 2, 3], more: true });
  });

  it("reports no more when the items fit", () => {
    expect(takePage([1, 2, 3], 3)).toEqual({ page: [1, 2, 3], more: false });
    expect(takePage([1], 3)).toEqual({ page: [1], more: false });
    expect(takePage([], 3)).toEqual({ page: [], more: false });
  });
});

describe("readPage", () => {
  const numbers = Array.from({ length: 7 }, (_, i) => i + 1);
  const isNumber = (value: unknown): value is number => typeof value === "number";
  const list = (query: unknown, asked: Array<{ cursor: number | undefined; limit: number }> = []) => ({
    query,
    isCursor: isNumber,
    fetch: async (cursor: number | undefined, limit: number) => {
      asked.push({ cursor, limit });
      return numbers.filter((n) => cursor === undefined || n > cursor).slice(0, limit);
    },
    cursorOf: (n: number) => n,
  });

  it("walks a list page by page, fetching one item more than it shows, and ends without a token", async () => {
    const asked: Array<{ cursor: number | undefined; limit: number }> = [];
    const seen: number[] = [];
    let pageToken = "";
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await readPage({ pageSize: 3, pageToken }, list({ of: "numbers" }, asked));
      seen.push(...page.items);
      pageToken = page.nextPageToken;
      if (!pageToken) break;
    }
    expect(seen).toEqual(numbers);
    expect(asked).toEqual([
      { cursor: undefined, limit: 4 },
      { cursor: 3, limit: 4 },
      { cursor: 6, limit: 4 },
    ]);
  });

  it("applies the page-size rule and refuses a token of another query", async () => {
    expect((await readPage({ pageSize: 0, pageToken: "" }, list(null))).items).toEqual(numbers);
    await expect(readPage({ pageSize: -1, pageToken: "" }, list(null))).rejects.toMatchObject({ field: "page_size" });
    const { nextPageToken } = await readPage({ pageSize: 2, pageToken: "" }, list({ of: "a" }));
    await expect(readPage({ pageSize: 2, pageToken: nextPageToken }, list({ of: "b" }))).rejects.toMatchObject({ field: "page_token" });
  });
});
