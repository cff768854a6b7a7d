import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { addressVariable, createLogger, SERVICES, type SettingSpec } from "@chirp/kit";
import { EVENT_SUBJECTS, STREAMS } from "@chirp/kit/events";
import { JetStreamBus } from "@chirp/kit/nats";
import { describeWith, testLogger, uniqueName } from "@chirp/kit/testing";
import { startMesh, type Mesh } from "../src/mesh.js";
import { serviceModule } from "../src/service-modules.js";
// The one service whose consumer's name is no setting (catalogue: `consumer` without `setting`).
import { TWEETS_CONSUMER } from "../../services/tweets/src/events.js";

const ROOT = join(__dirname, "../..");
const readJson = (path: string) => JSON.parse(readFileSync(join(ROOT, path), "utf8"));

/** What a service's configuration schema declares for a variable. */
function declared(name: string, variable: string): SettingSpec | undefined {
  return serviceModule(name).schema.settings.find((s) => s.spec.env === variable)?.spec;
}

/**
 * The service catalogue (packages/kit/src/services.ts) against the services themselves: what the
 * mesh, the gateway and the manifests derive from it must be true of each service's folder.
 */
describe("the service catalogue", () => {
  it("lists every folder of services/, each once, and only those", () => {
    const folders = readdirSync(join(ROOT, "services"), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    const names = SERVICES.map((s) => s.name);
    expect([...names].sort()).toEqual(folders.sort());
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(SERVICES.map((s) => s.port)).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[a-z][a-z0-9-]*$/);
  });

  it.each(SERVICES.map((s) => ({ name: s.name })))("finds $name's package where the conventions put it", ({ name }) => {
    const manifest = readJson(`services/${name}/package.json`);
    expect({ name: manifest.name, main: manifest.main, exports: Object.keys(manifest.exports ?? {}) }).toEqual({
      name: `@chirp/${name}`,
      main: "dist/main.js",
      exports: [".", "./config"],
    });
    for (const file of ["src/main.ts", "src/app.ts", "src/config.ts", "tsconfig.json"]) expect(existsSync(join(ROOT, "services", name, file))).toBe(true);
    // npm run build (tsc -b) compiles what the root tsconfig.json references.
    const references: string[] = readJson("tsconfig.json").references.map((r: { path: string }) => r.path);
    expect(references).toContain(`services/${name}`);
    // Its start and its configuration, as the mesh loads them.
    expect(() => serviceModule(name)).not.toThrow();
  });

  it.each(SERVICES.map((s) => ({ name: s.name, port: s.port })))("gives $name its name, port and database", ({ name, port }) => {
    const config = serviceModule(name).loadConfig({}) as { serviceName: string };
    expect(config.serviceName).toBe(name);
    expect(declared(name, "GRPC_PORT")?.default).toBe(port);
    expect(declared(name, "MONGODB_DATABASE")?.default).toBe(`chirp_${name}`);
  });

  it("lists a service after every service whose address it reads: the mesh starts them in its order", () => {
    const problems: string[] = [];
    SERVICES.forEach(({ name }, index) => {
      for (const { spec } of serviceModule(name).schema.settings.filter((s) => s.spec.env.endsWith("_ADDRESS"))) {
        const upstream = SERVICES.findIndex((s) => addressVariable(s.name) === spec.env);
        if (upstream < 0) problems.push(`${name} reads ${spec.env}, which names no catalogued service`);
        else if (upstream >= index) problems.push(`${name} reads ${spec.env}, but ${SERVICES[upstream]!.name} is not listed before it`);
        else if (spec.default !== `127.0.0.1:${SERVICES[upstream]!.port}`) problems.push(`${name}: ${spec.env} defaults to ${spec.default}, not 127.0.0.1:${SERVICES[upstream]!.port}`);
      }
    });
    expect(problems).toEqual([]);
  });

  it("names as each consumer's durable (the NATS permissions grant it) the one its service uses by default", () => {
    for (const service of SERVICES) {
      if (!("consumer" in service)) continue;
      const used = "setting" in service.consumer ? declared(service.name, service.consumer.setting)?.default : TWEETS_CONSUMER;
      expect([service.name, service.consumer.durable]).toEqual([service.name, used]);
    }
  });

  it("names, as the setting of a consumer's name, one its service's configuration declares", () => {
    for (const service of SERVICES) {
      if (!("consumer" in service) || !("setting" in service.consumer)) continue;
      expect([service.name, declared(service.name, service.consumer.setting)?.env]).toEqual([service.name, service.consumer.setting]);
    }
  });
});

describeWith(["NATS_URL"], "the service catalogue's events, as the services consume and publish them", ({ NATS_URL }) => {
  const run = uniqueName("catalogue");
  let mesh: Mesh | undefined;
  let admin: JetStreamBus | undefined;

  beforeAll(async () => {
    // Memory storage; JetStream, so each consumer is a durable one the server can be asked about.
    mesh = await startMesh({ env: { NATS_URL, PASSWORD_HASH_COST: "4" }, log: createLogger("mesh", "silent"), loopback: true, run });
    admin = await JetStreamBus.connect(NATS_URL, "catalogue-test", testLogger());
  }, 30_000);
  afterAll(async () => {
    await admin?.close();
    await mesh?.stop();
  });

  it("each consuming service's durable consumer reads the events the catalogue lists, no more and no fewer", async () => {
    for (const service of SERVICES) {
      if (!("consumer" in service)) continue;
      const durable = mesh!.consumers![service.name];
      const read: string[] = [];
      for (const stream of Object.values(STREAMS)) {
        const info = await admin!.manager.consumers.info(stream.name, durable).catch(() => undefined);
        read.push(...(info?.config.filter_subjects ?? (info?.config.filter_subject ? [info.config.filter_subject] : [])));
      }
      // The service sets its consumer's subjects as its events.ts reads them; the run made it from the catalogue.
      expect([service.name, read.sort()]).toEqual([service.name, service.consumer.events.map((event) => EVENT_SUBJECTS[event]).sort()]);
    }
  });

  it("each service that publishes has an outbox relay, and only those", () => {
    const withRelay = SERVICES.filter(({ name }) => mesh!.apps[name].relay !== undefined).map((s) => s.name);
    expect(withRelay).toEqual(SERVICES.filter((s) => "publishes" in s).map((s) => s.name));
  });
});
