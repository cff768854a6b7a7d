import { commonConfigTable, configTable, defineConfig, LOG_LEVEL, serviceSettings, setting, withConfigTables } from "@chirp/kit";

describe("configuration tables", () => {
  it("renders a row per variable: default, what is accepted and what it means", () => {
    const schema = defineConfig({
      port: setting.port("PORT", { default: 8080, doc: "the port" }),
      level: LOG_LEVEL,
      uri: setting.optionalText("URI", { doc: "the store", unset: "in memory", production: { required: true } }),
      cost: setting.int("COST", { default: 15, min: 4, max: 20, production: { min: 14 }, doc: "log2 of N" }),
      floor: setting.int("FLOOR", { default: 1, min: 1, doc: "at least one" }),
      name: setting.text("NAME", { default: "a", pattern: { test: /^a+$/, says: "only a's" }, doc: "a | b" }),
      key: setting.secret("KEY", { doc: "the key" }),
      list: setting.list("LIST", { doc: "entries", maxItems: 64 }),
      big: setting.int("BIG", { default: 65536, min: 1024, max: 16 * 1024 * 1024, doc: "bytes" }),
    });
    expect(configTable(schema.settings).split("\n")).toEqual([
      "| variable | default | accepted | meaning |",
      "|---|---|---|---|",
      "| `PORT` | `8080` | 0 to 65,535 | the port |",
      "| `LOG_LEVEL` | `info` | `fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent` | pino level |",
      "| `URI` | unset: in memory | required in production | the store |",
      "| `COST` | `15` | 4 to 20; at least 14 in production | log2 of N |",
      "| `FLOOR` | `1` | at least 1 | at least one |",
      "| `NAME` | `a` | only a's | a \\| b |",
      "| `KEY` or `KEY_FILE` | required |  | the key |",
      "| `LIST` | empty | comma-separated, at most 64 | entries |",
      "| `BIG` | `65536` | 1,024 to 16,777,216 | bytes |",
      "| `NODE_ENV` | unset |  | `production` refuses the development fallbacks |",
    ]);
  });

  it("renders the settings services share once, naming who reads each when not all do, and each one's default where they differ", () => {
    const one = defineConfig({ ...serviceSettings("one", 1), only: setting.text("ONLY", { default: "x", doc: "one's own" }) });
    const two = defineConfig({ ...serviceSettings("two", 2), both: LOG_LEVEL.with({ env: "EXTRA", doc: "two's", common: true }) });
    const rows = commonConfigTable([
      { name: "one", settings: one.settings },
      { name: "two", settings: two.settings },
    ]).split("\n");
    expect(rows).toContain("| `GRPC_PORT` | one `1`, two `2` | 0 to 65,535 | the port the gRPC server listens on |");
    expect(rows).toContain("| `MONGODB_DATABASE` | one `chirp_one`, two `chirp_two` |  | the service's own database |");
    expect(rows).toContain("| `GRPC_HOST` | `127.0.0.1` |  | the address the gRPC server and `/metrics` listen on; the Kubernetes manifests set `0.0.0.0`, guarded by their NetworkPolicies |");
    expect(rows.find((row) => row.startsWith("| `EXTRA` (two) |"))).toBeDefined();
    expect(rows.some((row) => row.includes("ONLY"))).toBe(false);
    // NODE_ENV closes the table, as it closes each process's list.
    expect(rows.at(-1)).toMatch(/^\| `NODE_ENV` \|/);
  });

  it("replaces what stands between each pair of markers, and nothing else", () => {
    const markdown = [
      "# Title",
      "<!-- config:users own -->",
      "stale",
      "<!-- /config:users -->",
      "between",
      "<!-- config:gateway -->",
      "<!-- /config:gateway -->",
      "end",
    ].join("\n");
    const asked: string[] = [];
    const rendered = withConfigTables(markdown, (name, own) => {
      asked.push(`${name}${own ? " own" : ""}`);
      return `| ${name} |`;
    });
    expect(asked).toEqual(["users own", "gateway"]);
    expect(rendered).toBe(
      ["# Title", "<!-- config:users own -->", "", "| users |", "", "<!-- /config:users -->", "between", "<!-- config:gateway -->", "", "| gateway |", "", "<!-- /config:gateway -->", "end"].join("\n"),
    );
    // Rendering again changes nothing: the check that tables are current is a comparison.
    expect(withConfigTables(rendered, (name) => `| ${name} |`)).toBe(rendered);
  });
});
