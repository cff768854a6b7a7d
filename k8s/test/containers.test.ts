/**
 * The mesh run from its images, as the dev overlay deploys it.
 *
 * The images are built with `npm run images` (layers cached, so quick after the first build);
 * the dev overlay is rendered as skaffold renders it; then each workload is started with podman
 * on one container network the way its manifest says: the same image, command, environment
 * (ConfigMaps and Secrets resolved), ConfigMap and Secret volumes as files, emptyDirs as tmpfs,
 * ports, user and group, read-only root filesystem, no capabilities and no privilege escalation,
 * its init containers first, and reachable by the names of the Services that select it. Each is
 * awaited on the readiness probe its manifest declares (gRPC health, HTTP or TCP). Then the demo
 * data Job runs, and the public scenario is driven through the gateway container: register, log
 * in, post, follow, the home timeline, the live stream, delete.
 *
 * What cannot be as on a cluster: the MongoDB and NATS images cannot be pulled here, so the
 * StatefulSets run on the base image with stand-in binaries (FerretDB for MongoDB, built by
 * ../shared/mongo/start; nats-server from ../shared/nats/bin, with the manifest's own arguments and
 * nats.conf); CPU and memory limits are not applied (this sandbox refuses cgroup limits).
 *
 * The dev overlay's Jaeger (k8s/components/observability) runs the same way, on the base image
 * with the Jaeger binary ../shared/jaeger/start builds (JAEGER_BIN overrides), and the scenario's
 * post is then found in it as one trace from the gateway to the timeline's consumer. Where no such
 * binary exists (CI does not build it), that check is reported as skipped, with the reason; Jaeger
 * is not run and the Chirp containers are started
 * without the overlay's OTEL_EXPORTER_OTLP_ENDPOINT: a host name that nothing on the network
 * answers is not harmless here. With it, logins and posts through the gateway container timed out
 * (10 s deadlines); the likely cause is each export's name lookup hanging in the libuv threadpool
 * that scrypt and every other lookup share (JAEGER_BIN=none runs this path). Prometheus is
 * never run: its image cannot be pulled, it finds its targets through the Kubernetes API, which
 * podman does not have, and the scenario does not need it (mesh/test scrapes every process).
 *
 * Runs where podman works (../shared/images/setup installs it) and kustomize is installed
 * (scripts/install-k8s-tools.sh); otherwise it is reported as skipped, with the reason.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { SERVICES } from "@chirp/kit";
import { checkHealth } from "@chirp/kit/grpc";
import { eventually, uniqueName } from "@chirp/kit/testing";
import { GraphService } from "@chirp/proto/es/chirp/graph/v1/graph_pb";
import { TimelineService } from "@chirp/proto/es/chirp/timeline/v1/timeline_pb";
import { TweetsService } from "@chirp/proto/es/chirp/tweets/v1/tweets_pb";
import { UsersService } from "@chirp/proto/es/chirp/users/v1/users_pb";
import { fetchTrace } from "../../mesh/src/jaeger.js";
import { containerEnv, find, locateTool, pipelines, podTemplates, readProcessConfig, render, ROOT, selects, type Obj, type PodTemplate, type Rendered } from "./rendered.js";

const TAG = "containers-test";
const BASE_IMAGE = "localhost/node:24-slim";
const SHARED = resolve(ROOT, "../shared");

const works = (command: string, args: string[]) => spawnSync(command, args, { stdio: "ignore", timeout: 30_000 }).status === 0;

/** FerretDB as ../shared/mongo/start builds it (FERRETDB_BIN overrides): the newest build. */
function ferretdbBinary(): string | undefined {
  if (process.env.FERRETDB_BIN) return process.env.FERRETDB_BIN;
  const builds = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "devdb-ferretdb");
  if (!existsSync(builds)) return undefined;
  return readdirSync(builds)
    .map((dir) => join(builds, dir, "ferretdb"))
    .filter((file) => existsSync(file))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

function natsServerBinary(): string | undefined {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const script = join(SHARED, "nats/bin");
  if (!existsSync(script)) return undefined;
  const result = spawnSync(script, { encoding: "utf8", timeout: 600_000 });
  const path = result.stdout.trim().split("\n").at(-1);
  return result.status === 0 && path && existsSync(path) ? path : undefined;
}

/** Jaeger as ../shared/jaeger/start builds it (JAEGER_BIN overrides): the newest build, if any. */
function jaegerBinary(): string | undefined {
  if (process.env.JAEGER_BIN !== undefined) return existsSync(process.env.JAEGER_BIN) ? process.env.JAEGER_BIN : undefined;
  const builds = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "devjaeger");
  if (!existsSync(builds)) return undefined;
  return readdirSync(builds)
    .map((dir) => join(builds, dir, "jaeger"))
    .filter((file) => existsSync(file))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
}

const kustomize = locateTool("KUSTOMIZE", "kustomize");
const missing = [
  works("podman", ["info"]) ? undefined : "podman does not work here (../shared/images/setup installs it)",
  works("podman", ["image", "exists", BASE_IMAGE]) || process.env.NODE_IMAGE ? undefined : `no base image ${BASE_IMAGE} (../shared/images/setup builds it)`,
  kustomize.path ? undefined : `${kustomize.problem} (scripts/install-k8s-tools.sh)`,
].filter((reason): reason is string => reason !== undefined);
const binaries = missing.length === 0 ? { ferretdb: ferretdbBinary(), natsServer: natsServerBinary() } : undefined;
if (binaries && !binaries.ferretdb) missing.push("no FerretDB binary for the MongoDB stand-in (../shared/mongo/start builds it; or set FERRETDB_BIN)");
if (binaries && !binaries.natsServer) missing.push("no nats-server binary (../shared/nats/bin; or set NATS_SERVER_BIN)");
const jaeger = missing.length === 0 ? jaegerBinary() : undefined;

const title = "the mesh from its images, as the dev overlay runs it";
const describeContainers = missing.length > 0 ? describe.skip : describe;

describeContainers(missing.length > 0 ? `${title} (SKIPPED: ${missing.join("; ")})` : title, () => {
  const run = uniqueName("chirp").toLowerCase().replace(/_/g, "-");
  const network = run;
  const files = mkdtempSync(join(tmpdir(), `${run}-`));
  const started: string[] = [];
  let rendered: Rendered;
  /** host:port on 127.0.0.1 for a workload's container port. */
  const published = new Map<string, string>();

  const podman = (args: string[], timeoutMs = 120_000) => {
    const result = spawnSync("podman", args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 });
    if (result.status !== 0) throw new Error(`podman ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr}${result.stdout}`);
    return result.stdout.trim();
  };
  const logsOf = (name: string) => spawnSync("podman", ["logs", "--tail", "40", name], { encoding: "utf8" });

  /** The objects' own files, as the kubelet projects them: ConfigMap and Secret keys as files. */
  function volumeDir(pod: PodTemplate, volume: Obj, group: number | undefined): string {
    const dir = join(files, `${pod.workload.metadata.name}-${volume.name}`);
    mkdirSync(dir, { recursive: true });
    const source = volume.configMap ? find(rendered.objects, "ConfigMap", volume.configMap.name) : find(rendered.objects, "Secret", volume.secret.secretName);
    if (!source) throw new Error(`${pod.workload.metadata.name}: volume ${volume.name} refers to an object the overlay does not render`);
    const mode = (volume.configMap ?? volume.secret).defaultMode ?? 0o644;
    for (const [key, value] of Object.entries<string>(source.data ?? {})) {
      const file = join(dir, key);
      writeFileSync(file, volume.secret ? Buffer.from(value, "base64") : value);
      // As the kubelet does with fsGroup: the files belong to the pod's group, with the volume's mode.
      if (group !== undefined) chownSync(file, 0, group);
      chmodSync(file, mode);
    }
    chmodSync(dir, 0o755);
    return dir;
  }

  /** `podman run` arguments for one container of a pod, as its manifest describes it. */
  function runArguments(pod: PodTemplate, container: Obj, name: string, aliases: string[], image: string): string[] {
    const security = { ...pod.spec.securityContext, ...container.securityContext };
    const group: number | undefined = pod.spec.securityContext?.fsGroup;
    const args = ["--name", name, "--network", network, ...aliases.flatMap((alias) => ["--network-alias", alias])];
    if (security.runAsUser !== undefined) args.push("--user", `${security.runAsUser}:${security.runAsGroup ?? security.runAsUser}`);
    if (group !== undefined) args.push("--group-add", String(group));
    if (security.readOnlyRootFilesystem) args.push("--read-only", "--read-only-tmpfs=false");
    if (security.allowPrivilegeEscalation === false) args.push("--security-opt", "no-new-privileges");
    for (const capability of security.capabilities?.drop ?? []) args.push("--cap-drop", capability === "ALL" ? "all" : capability);
    const problems: string[] = [];
    for (const [variable, { value }] of containerEnv(container, rendered.objects, problems, name)) {
      // Without the Jaeger stand-in, no endpoint rather than one nothing answers (see the top).
      if (variable === "OTEL_EXPORTER_OTLP_ENDPOINT" && !tracing.jaeger) continue;
      // A fieldRef (the pod's name, for instance) is known only to the kubelet: the pod's name stands in.
      args.push("--env", `${variable}=${value ?? name}`);
    }
    if (problems.length > 0) throw new Error(problems.join("\n"));
    const volumes = new Map<string, Obj>((pod.spec.volumes ?? []).map((v: Obj) => [v.name, v]));
    const claims = new Set<string>((pod.workload.spec?.volumeClaimTemplates ?? []).map((c: Obj) => c.metadata.name));
    for (const mount of container.volumeMounts ?? []) {
      const volume = volumes.get(mount.name);
      if (volume?.configMap || volume?.secret) args.push("--volume", `${volumeDir(pod, volume, group)}:${mount.mountPath}:ro`);
      else if (volume?.emptyDir || claims.has(mount.name)) {
        // Writable by the pod's user, as the kubelet makes them with fsGroup (podman's tmpfs takes no owner).
        args.push("--tmpfs", `${mount.mountPath}:rw,size=256m,mode=1777`);
      } else throw new Error(`${name}: volume ${mount.name} is neither a ConfigMap, a Secret, an emptyDir nor a claim`);
    }
    for (const port of container.ports ?? []) args.push("--publish", `127.0.0.1::${port.containerPort}`);
    // A stand-in's binary (see beforeAll), where the image would have had its own.
    if (container.hostBinary) args.push("--volume", `${container.hostBinary}:/usr/local/bin/stand-in:ro`);
    if (container.command) args.push("--entrypoint", JSON.stringify(container.command));
    return [...args, image, ...(container.args ?? [])];
  }

  /** The Services selecting a pod: its names on the network. */
  const serviceNames = (pod: PodTemplate) =>
    rendered.objects.filter((o) => o.kind === "Service" && selects(o.spec?.selector, pod.labels)).map((o) => o.metadata.name as string);

  /** Waits until the container's readiness probe passes, as the kubelet would ask it. */
  async function ready(name: string, container: Obj, timeoutMs: number): Promise<void> {
    const probe = container.readinessProbe;
    if (!probe) throw new Error(`${name} declares no readiness probe`);
    const portOf = (port: number | string) => {
      const containerPort = typeof port === "number" ? port : (container.ports ?? []).find((p: Obj) => p.name === port)?.containerPort;
      const address = published.get(`${name}:${containerPort}`);
      if (!address) throw new Error(`${name}: the probe's port ${port} is not a declared container port`);
      return address;
    };
    const once = async (): Promise<boolean> => {
      if (probe.grpc) return (await checkHealth(portOf(probe.grpc.port), probe.grpc.service ?? "", 2_000)) === "SERVING";
      if (probe.httpGet) {
        const response = await fetch(`http://${portOf(probe.httpGet.port)}${probe.httpGet.path ?? "/"}`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        return response !== undefined && response.status >= 200 && response.status < 400;
      }
      if (probe.tcpSocket) {
        const [host, port] = portOf(probe.tcpSocket.port).split(":");
        return new Promise((resolveOpen) => {
          const socket = connect(Number(port), host!, () => (socket.destroy(), resolveOpen(true)));
          socket.on("error", () => resolveOpen(false));
        });
      }
      throw new Error(`${name}: a readiness probe of an unknown kind`);
    };
    const deadline = Date.now() + timeoutMs;
    while (!(await once())) {
      const state = spawnSync("podman", ["inspect", "--format", "{{.State.Status}}", name], { encoding: "utf8" }).stdout.trim();
      if (state !== "running") throw new Error(`${name} is ${state}, not ready:\n${logsOf(name).stdout}${logsOf(name).stderr}`);
      if (Date.now() > deadline) throw new Error(`${name} was not ready within ${timeoutMs / 1000} s:\n${logsOf(name).stdout}${logsOf(name).stderr}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Starts a pod: init containers to completion, then its container, awaited on its probe. */
  async function startPod(pod: PodTemplate, image: (container: Obj) => string, adapt: (container: Obj) => Obj = (c) => c): Promise<number> {
    const name = `${run}-${pod.workload.metadata.name}`;
    const t0 = performance.now();
    for (const [i, init] of (pod.spec.initContainers ?? []).entries()) {
      const initName = `${name}-init-${i}`;
      started.push(initName);
      podman(["run", ...runArguments(pod, init, initName, [], image(init))], 180_000);
    }
    const [container, ...others] = pod.spec.containers as Obj[];
    if (others.length > 0) throw new Error(`${name}: more than one container; this test runs one per pod`);
    const adapted = adapt(container!);
    started.push(name);
    podman(["run", "--detach", ...runArguments(pod, adapted, name, serviceNames(pod), image(adapted))]);
    for (const port of adapted.ports ?? []) published.set(`${name}:${port.containerPort}`, podman(["port", name, `${port.containerPort}/tcp`]).split("\n")[0]!.replace("0.0.0.0", "127.0.0.1"));
    await ready(name, adapted, 120_000);
    return (performance.now() - t0) / 1000;
  }

  const chirpImage = (container: Obj) => {
    const image = String(container.image);
    if (/^chirp-[a-z0-9-]+$/.test(image)) return `localhost/${image}:${TAG}`;
    if (image.startsWith("node:")) return process.env.NODE_IMAGE ?? BASE_IMAGE;
    throw new Error(`${container.name}: image ${image} is neither a Chirp image nor node`);
  };

  const timings: string[] = [];
  const gateway = { http: "" };
  /** Where the Jaeger stand-in's query API is published, when it runs, and the scenario's trace. */
  const tracing: { jaeger?: string; traceId?: string } = {};

  beforeAll(async () => {
    const built = spawnSync(process.execPath, [join(ROOT, "scripts/images.mjs"), "--tag", TAG, "--quiet"], { cwd: ROOT, encoding: "utf8", timeout: 20 * 60_000 });
    if (built.status !== 0) throw new Error(`npm run images failed:\n${built.stderr}${built.stdout}`);
    process.stdout.write(`${built.stdout}\n`);
    const pipeline = pipelines().find((p) => p.name === "default")!;
    rendered = render(pipeline, kustomize.path!);
    podman(["network", "create", network]);

    const pods = podTemplates(rendered.objects);
    const podOf = (kind: string, name: string) => {
      const pod = pods.find((p) => p.workload.kind === kind && p.workload.metadata.name === name);
      if (!pod) throw new Error(`the dev overlay renders no ${kind}/${name}`);
      return pod;
    };
    // The stand-ins: the base image and a binary mounted read-only; the rest is the manifest's.
    const runStandIn = async (pod: PodTemplate, binary: string, adapt: (container: Obj) => Obj) => {
      const seconds = await startPod(pod, () => process.env.NODE_IMAGE ?? BASE_IMAGE, (container) => ({ ...adapt(container), hostBinary: binary }));
      timings.push(`${pod.workload.metadata.name} (stand-in) ${seconds.toFixed(1)} s`);
    };
    // FerretDB in place of mongod (whose flags mean nothing to it), its data on the same volume.
    await runStandIn(podOf("StatefulSet", "mongodb"), binaries!.ferretdb!, (c) => ({
      ...c,
      command: ["/usr/local/bin/stand-in"],
      args: ["-listen", `0.0.0.0:${c.ports[0].containerPort}`, "-dir", "/data/db"],
    }));
    // nats-server with the manifest's own arguments: its nats.conf, JetStream on the data volume.
    await runStandIn(podOf("StatefulSet", "nats"), binaries!.natsServer!, (c) => ({ ...c, command: ["/usr/local/bin/stand-in"] }));

    // Jaeger (its image sets JAEGER_LISTEN_HOST, which the base image does not), before the
    // processes that send it spans.
    if (jaeger) {
      await runStandIn(podOf("Deployment", "jaeger"), jaeger, (c) => ({
        ...c,
        command: ["/usr/local/bin/stand-in"],
        env: [...(c.env ?? []), { name: "JAEGER_LISTEN_HOST", value: "0.0.0.0" }],
      }));
      tracing.jaeger = published.get(`${run}-jaeger:16686`);
    } else {
      process.stdout.write("containers: no Jaeger binary (../shared/jaeger/start builds one): Jaeger not run, the Chirp containers get no OTLP endpoint\n");
    }

    // The services in the catalogue's start order, then the gateway.
    for (const name of [...SERVICES.map((s) => s.name), "gateway"]) {
      const seconds = await startPod(podOf("Deployment", name), chirpImage);
      timings.push(`${name} ${seconds.toFixed(1)} s`);
    }
    gateway.http = published.get(`${run}-gateway:8081`)!;
    process.stdout.write(`containers: from podman run to ready: ${timings.join(", ")}\n`);
  }, 25 * 60_000);

  afterAll(() => {
    for (const name of started.reverse()) spawnSync("podman", ["rm", "--force", "--time", "5", name], { stdio: "ignore" });
    spawnSync("podman", ["network", "rm", "--force", network], { stdio: "ignore" });
    rmSync(files, { recursive: true, force: true });
    if (rendered) rmSync(rendered.workdir, { recursive: true, force: true });
  }, 120_000);

  it("passes each container exactly what its process reads: no unread setting, no required one missing", () => {
    const problems: string[] = [];
    for (const pod of podTemplates(rendered.objects).filter((p) => p.workload.kind === "Deployment" && p.spec.containers.some((c: Obj) => /^chirp-/.test(c.image)))) {
      const workspace = SERVICES.some((s) => s.name === pod.workload.metadata.name) ? `services/${pod.workload.metadata.name}` : pod.workload.metadata.name;
      const config = readProcessConfig(workspace);
      if (!config) {
        problems.push(`${workspace}: no src/config.ts`);
        continue;
      }
      for (const container of pod.spec.containers) {
        const passed = [...containerEnv(container, rendered.objects, problems, pod.workload.metadata.name).keys()];
        const reads = (variable: string) => config.reads.has(variable) || (variable.endsWith("_FILE") && config.secrets.has(variable.slice(0, -"_FILE".length)));
        for (const variable of passed) if (!reads(variable)) problems.push(`${pod.workload.metadata.name}: ${variable} is passed, but ${config.file} does not read it`);
        for (const variable of config.required) {
          const given = passed.includes(variable) || (config.secrets.has(variable) && passed.includes(`${variable}_FILE`));
          if (!given && variable !== "NODE_ENV") problems.push(`${pod.workload.metadata.name}: ${config.file} requires ${variable}, which is not passed`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("runs the demo data Job to completion against the gateway container", () => {
    const job = podTemplates(rendered.objects).find((p) => p.workload.kind === "Job" && p.workload.metadata.name === "demo-data");
    expect(job).toBeDefined();
    const [container] = job!.spec.containers as Obj[];
    const name = `${run}-demo-data`;
    started.push(name);
    const output = podman(["run", ...runArguments(job!, container!, name, [], chirpImage(container!))], 180_000);
    expect(output).toMatch(/demo data ready/);
  }, 240_000);

  it("serves the public scenario through the gateway container: register, log in, post, follow, home timeline, live stream, delete", async () => {
    const transport = createConnectTransport({ baseUrl: `http://${gateway.http}`, httpVersion: "1.1" });
    const users = createClient(UsersService, transport);
    const tweets = createClient(TweetsService, transport);
    const graph = createClient(GraphService, transport);
    const timeline = createClient(TimelineService, transport);
    const tag = Math.random().toString(36).slice(2, 8);
    const register = async (name: string) => {
      const username = `${name}_${tag}`;
      await users.createUser({ username, email: `${username}@example.org`, password: "correct horse battery", displayName: name });
      const login = await users.login({ usernameOrEmail: username, password: "correct horse battery" });
      return { id: login.user!.id, headers: { authorization: `Bearer ${login.accessToken}` } };
    };
    const author = await register("author");
    const reader = await register("reader");
    // The graph learns of new accounts from events: follow once it knows the author.
    await eventually(() => graph.follow({ followeeId: author.id }, { headers: reader.headers }), 30_000, 250);

    const stream = new AbortController();
    const live: string[] = [];
    let opened = false;
    const streaming = (async () => {
      try {
        for await (const message of timeline.streamHomeTimeline({}, { headers: reader.headers, signal: stream.signal })) {
          opened = true;
          if (message.item?.tweet) live.push(message.item.tweet.id);
        }
      } catch (error) {
        if (!stream.signal.aborted) throw error;
      }
    })();

    // Posted once the stream is open (its opening message has come): a post fanned out before the
    // stream subscribed would reach the home timeline but never this stream.
    await eventually(() => expect(opened).toBe(true), 30_000, 250);
    const traceId = (tracing.traceId = randomBytes(16).toString("hex"));
    const { tweet } = await tweets.createTweet({ text: `from the images ${tag}` }, { headers: { ...author.headers, traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` } });
    const home = await eventually(
      async () => {
        const page = await timeline.getHomeTimeline({ pageSize: 20 }, { headers: reader.headers });
        expect(page.items.map((i) => i.tweet?.id)).toContain(tweet!.id);
        return page;
      },
      30_000,
      250,
    );
    expect(home.items.find((i) => i.tweet?.id === tweet!.id)?.author?.username).toBe(`author_${tag}`);
    await eventually(() => expect(live).toContain(tweet!.id), 30_000, 250);

    await tweets.deleteTweet({ id: tweet!.id }, { headers: author.headers });
    await eventually(
      async () => {
        const page = await timeline.getHomeTimeline({ pageSize: 20 }, { headers: reader.headers });
        expect(page.items.map((i) => i.tweet?.id)).not.toContain(tweet!.id);
      },
      30_000,
      250,
    );
    stream.abort();
    await streaming;

  }, 180_000);

  const traced = jaeger ? it : it.skip;
  traced(
    `finds the scenario's post in the Jaeger container as one trace, from the gateway to the fan-out${jaeger ? "" : " (SKIPPED: no Jaeger binary; ../shared/jaeger/start builds one, or set JAEGER_BIN)"}`,
    async () => {
      expect(tracing.jaeger).toBeDefined();
      expect(tracing.traceId).toBeDefined();
      // Each process sends its spans in batches, every 5 s.
      await eventually(
        async () => {
          const spans = await fetchTrace(`http://${tracing.jaeger}`, tracing.traceId!);
          const seen = spans.map((span) => `${span.service} ${span.kind} ${span.name}`);
          expect(seen).toEqual(
            expect.arrayContaining([
              "gateway server chirp.tweets.v1.TweetsService/CreateTweet",
              "tweets server /chirp.tweets.v1.TweetsService/CreateTweet",
              "tweets producer publish chirp.tweets.tweet_created",
              "timeline consumer process chirp.tweets.tweet_created",
              "timeline internal fan-out batch",
            ]),
          );
        },
        30_000,
        500,
      );
    },
    60_000,
  );
});
