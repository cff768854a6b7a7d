import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, EnvReader } from "@chirp/kit";

function problemsOf(reader: EnvReader): string[] {
  try {
    reader.done();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  return [];
}

describe("EnvReader", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chirp-config-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("falls back to defaults for unset and blank variables", () => {
    const env = new EnvReader({ BLANK: "   " });
    expect(env.string("NAME", "chirp")).toBe("chirp");
    expect(env.string("BLANK", "fallback")).toBe("fallback");
    expect(env.optionalString("BLANK")).toBeUndefined();
    expect(env.int("N", 7)).toBe(7);
    expect(env.port("PORT", 50051)).toBe(50051);
    expect(env.bool("FLAG", true)).toBe(true);
    expect(env.oneOf("LEVEL", ["info", "debug"] as const, "info")).toBe("info");
    expect(env.optionalSecret("TOKEN")).toBeUndefined();
    expect(() => env.done()).not.toThrow();
  });

  it("reads and trims set values", () => {
    const env = new EnvReader({ NAME: "  users ", N: " 12 ", PORT: "8080" });
    expect(env.string("NAME", "x")).toBe("users");
    expect(env.optionalString("NAME")).toBe("users");
    expect(env.int("N", 0)).toBe(12);
    expect(env.port("PORT", 1)).toBe(8080);
    env.done();
  });

  it("refuses integers out of range or not integers, keeping the fallback", () => {
    const env = new EnvReader({ LOW: "0", HIGH: "11", FRACTION: "2.5", WORD: "ten", OK: "10" });
    expect(env.int("LOW", 5, { min: 1, max: 10 })).toBe(5);
    expect(env.int("HIGH", 5, { min: 1, max: 10 })).toBe(5);
    expect(env.int("FRACTION", 5)).toBe(5);
    expect(env.int("WORD", 5)).toBe(5);
    expect(env.int("OK", 5, { min: 1, max: 10 })).toBe(10);
    const problems = problemsOf(env);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toBe('LOW must be an integer from 1 to 10, got "0"');
    expect(problems[1]).toBe('HIGH must be an integer from 1 to 10, got "11"');
    expect(problems[2]).toMatch(/^FRACTION must be an integer .*"2\.5"/);
    expect(problems[3]).toMatch(/^WORD must be an integer .*"ten"/);
  });

  it("checks ports are 0 to 65535", () => {
    const env = new EnvReader({ A: "0", B: "65535", C: "65536", D: "-1" });
    expect(env.port("A", 1)).toBe(0);
    expect(env.port("B", 1)).toBe(65535);
    expect(env.port("C", 1)).toBe(1);
    expect(env.port("D", 1)).toBe(1);
    expect(problemsOf(env)).toEqual([
      'C must be an integer from 0 to 65535, got "65536"',
      'D must be an integer from 0 to 65535, got "-1"',
    ]);
  });

  it("parses booleans", () => {
    const truthy = ["1", "true", "TRUE", "yes", "On"];
    const falsy = ["0", "false", "False", "no", "OFF"];
    const env = new EnvReader(Object.fromEntries([...truthy, ...falsy, "maybe"].map((v, i) => [`B${i}`, v])));
    truthy.forEach((_, i) => expect(env.bool(`B${i}`, false)).toBe(true));
    falsy.forEach((_, i) => expect(env.bool(`B${i + truthy.length}`, true)).toBe(false));
    expect(env.bool(`B${truthy.length + falsy.length}`, true)).toBe(true);
    expect(problemsOf(env)).toEqual([`B10 must be true or false, got "maybe"`]);
  });

  it("accepts only the allowed values of oneOf", () => {
    const env = new EnvReader({ GOOD: "debug", BAD: "loud" });
    expect(env.oneOf("GOOD", ["info", "debug"], "info")).toBe("debug");
    expect(env.oneOf("BAD", ["info", "debug"], "info")).toBe("info");
    expect(problemsOf(env)).toEqual(['BAD must be one of info, debug, got "loud"']);
  });

  it("reads a secret from NAME", () => {
    const env = new EnvReader({ SIGNING_KEY: "inline-secret" });
    expect(env.secret("SIGNING_KEY")).toBe("inline-secret");
    env.done();
  });

  it("reads a secret from the file named by NAME_FILE", () => {
    const file = join(dir, "key.pem");
    writeFileSync(file, "file-secret\n");
    const env = new EnvReader({ SIGNING_KEY_FILE: file });
    expect(env.secret("SIGNING_KEY")).toBe("file-secret");
    expect(env.optionalSecret("SIGNING_KEY")).toBe("file-secret");
    env.done();
  });

  it("reports an unreadable secret file", () => {
    const missing = join(dir, "nope.pem");
    const env = new EnvReader({ SIGNING_KEY_FILE: missing });
    expect(env.secret("SIGNING_KEY")).toBe("");
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`SIGNING_KEY_FILE: cannot read "${missing}"`);
  });

  it("refuses a secret set both inline and by file", () => {
    const file = join(dir, "both.pem");
    writeFileSync(file, "from-file");
    const env = new EnvReader({ SIGNING_KEY: "inline", SIGNING_KEY_FILE: file });
    expect(env.optionalSecret("SIGNING_KEY")).toBeUndefined();
    expect(problemsOf(env)).toEqual(["set either SIGNING_KEY or SIGNING_KEY_FILE, not both"]);
  });

  it("reports a required secret once when both are set", () => {
    const file = join(dir, "both2.pem");
    writeFileSync(file, "from-file");
    const env = new EnvReader({ SIGNING_KEY: "inline", SIGNING_KEY_FILE: file });
    expect(env.secret("SIGNING_KEY")).toBe("");
    expect(problemsOf(env)).toEqual(["set either SIGNING_KEY or SIGNING_KEY_FILE, not both"]);
  });

  it("lists every problem at once when done", () => {
    const env = new EnvReader({ PORT: "http", DEBUG: "sometimes", LEVEL: "loud" });
    env.string("MONGODB_URI");
    env.port("PORT", 50051);
    env.bool("DEBUG", false);
    env.oneOf("LEVEL", ["info", "debug"], "info");
    env.secret("SIGNING_KEY");
    env.problem("derived settings disagree");
    let thrown: unknown;
    try {
      env.done();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    const error = thrown as ConfigError;
    expect(error.name).toBe("ConfigError");
    expect(error.problems).toEqual([
      "MONGODB_URI is required",
      'PORT must be an integer from 0 to 65535, got "http"',
      'DEBUG must be true or false, got "sometimes"',
      'LEVEL must be one of info, debug, got "loud"',
      "SIGNING_KEY (or SIGNING_KEY_FILE) is required",
      "derived settings disagree",
    ]);
    for (const problem of error.problems) expect(error.message).toContain(problem);
  });

  it("reports a missing required secret even when another problem mentions a longer name containing it", () => {
    // Unrelated settings whose names contain the secret's name must not hide it.
    const env = new EnvReader({ API_KEY_TTL: "soon" });
    env.int("API_KEY_TTL", 60);
    env.secret("API_KEY");
    expect(problemsOf(env)).toEqual([
      'API_KEY_TTL must be an integer from -9007199254740991 to 9007199254740991, got "soon"',
      "API_KEY (or API_KEY_FILE) is required",
    ]);
  });
});
