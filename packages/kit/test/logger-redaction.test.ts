import { jest } from "@jest/globals";
import { createLogger, REDACTED } from "@chirp/kit";

/** The kit's logger with its lines captured. */
function captured() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("redaction-test", "info", { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log, lines };
}

describe("the kit's logger keeps credentials out of its lines", () => {
  it("replaces every secret key at the top of a line, and nothing else", () => {
    const { log, lines } = captured();
    log.info({ password: "hunter2", passwordHash: "$scrypt$…", accessToken: "eyJ…", authorization: "Bearer eyJ…", username: "ada", count: 3 }, "hello");
    expect(lines[0]).toEqual(
      expect.objectContaining({ password: REDACTED, passwordHash: REDACTED, accessToken: REDACTED, authorization: REDACTED, username: "ada", count: 3, msg: "hello", service: "redaction-test" }),
    );
  });

  it("replaces them one level down too (a request's headers, a nested body), leaving the caller's objects as they were", () => {
    const { log, lines } = captured();
    const headers = { authorization: "Bearer eyJ…", "content-type": "application/json" };
    const body = { user: "ada", password: "hunter2" };
    log.info({ headers, body, list: [{ password: "kept: arrays are not walked" }] }, "request");
    expect(lines[0]).toEqual(
      expect.objectContaining({
        headers: { authorization: REDACTED, "content-type": "application/json" },
        body: { user: "ada", password: REDACTED },
        list: [{ password: "kept: arrays are not walked" }],
      }),
    );
    expect(headers.authorization).toBe("Bearer eyJ…");
    expect(body.password).toBe("hunter2");
  });

  it("keeps an error an error (message, type and stack) while replacing a secret it carries", () => {
    const { log, lines } = captured();
    const error = Object.assign(new TypeError("login failed"), { password: "hunter2", code: "E_LOGIN" });
    log.error({ err: error }, "failed");
    const logged = lines[0]!.err as Record<string, unknown>;
    expect(logged).toEqual(expect.objectContaining({ type: "TypeError", message: "login failed", password: REDACTED, code: "E_LOGIN" }));
    expect(String(logged.stack)).toContain("login failed");
    expect(error.password).toBe("hunter2");
  });

  it("replaces secrets in a child logger's bindings", () => {
    const { log, lines } = captured();
    log.child({ requestId: "r-1", authorization: "Bearer eyJ…" }).info("from a child");
    expect(lines[0]).toEqual(expect.objectContaining({ requestId: "r-1", authorization: REDACTED, msg: "from a child" }));
  });

  it("writes lines without secrets as they are", () => {
    const { log, lines } = captured();
    log.info({ requestId: "r-2", method: "/chirp.users.v1.UsersService/GetUser", code: "OK", durationMs: 1.5 }, "rpc finished");
    expect(lines[0]).toEqual(expect.objectContaining({ requestId: "r-2", method: "/chirp.users.v1.UsersService/GetUser", code: "OK", durationMs: 1.5, level: "info" }));
  });
});

describe("the kit's logger's timestamps", () => {
  afterEach(() => jest.restoreAllMocks());

  it("are the line's millisecond in ISO 8601, the same for lines of one millisecond and new for the next", () => {
    const { log, lines } = captured();
    const clock = jest.spyOn(Date, "now");
    for (const ms of [1_764_979_200_000, 1_764_979_200_000, 1_764_979_200_001, 1_764_979_260_123]) {
      clock.mockReturnValue(ms);
      log.info("tick");
    }
    expect(lines.map((line) => line.time)).toEqual(["2025-12-06T00:00:00.000Z", "2025-12-06T00:00:00.000Z", "2025-12-06T00:00:00.001Z", "2025-12-06T00:01:00.123Z"]);
  });
});
