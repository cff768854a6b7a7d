/**
 * The sources the deployment is made from, read as the tools read them: skaffold.yaml's
 * pipelines and artifacts, the workspaces and each process's declared configuration, the
 * Dockerfile's stages, and an overlay rendered as skaffold renders it, with the environment each
 * container gets. Shared by the offline manifest checks and the test that runs the images.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { type SettingSpec } from "@chirp/kit";

export const ROOT = resolve(__dirname, "../..");
/** Kubernetes versions the manifests must be valid for: the oldest supported and the newest known. */
export const KUBERNETES_VERSIONS = ["1.31.0", "1.37.0"];

export type Obj = Record<string, any>;

export const readText = (path: string) => readFileSync(join(ROOT, path), "utf8");

// ---------------------------------------------------------------------------------------------
// skaffold.yaml, the workspaces and the processes' declared configuration

export interface Artifact {
  image: string;
  /** The workspace folder the Dockerfile builds (build arg SERVICE). */
  workspace: string;
  context: string;
  dockerfile: string;
}

export interface Pipeline {
  /** "default" for the pipeline without a profile, else the profile's name. */
  name: string;
  overlay: string;
  artifacts: Artifact[];
  /** Commands skaffold runs on the host before rendering. */
  renderHooks: string[][];
  /** What `skaffold dev` (or `--port-forward`) forwards: a profile's list replaces the default one. */
  portForward: Obj[];
}

export const skaffold: Obj = parse(readText("skaffold.yaml"));

export function artifactsOf(build: Obj | undefined): Artifact[] {
  return (build?.artifacts ?? []).map((a: Obj) => ({
    image: a.image,
    workspace: a.docker?.buildArgs?.SERVICE,
    context: a.context ?? ".",
    dockerfile: a.docker?.dockerfile ?? "Dockerfile",
  }));
}

export function pipelines(): Pipeline[] {
  const hooks = (manifests: Obj | undefined) => (manifests?.hooks?.before ?? []).map((h: Obj) => h.host?.command as string[]);
  const result: Pipeline[] = [
    {
      name: "default",
      overlay: skaffold.manifests?.kustomize?.paths?.[0],
      artifacts: artifactsOf(skaffold.build),
      renderHooks: hooks(skaffold.manifests),
      portForward: skaffold.portForward ?? [],
    },
  ];
  for (const profile of skaffold.profiles ?? []) {
    const removesHooks = (profile.patches ?? []).some((p: Obj) => p.op === "remove" && p.path === "/manifests/hooks");
    result.push({
      name: profile.name,
      overlay: profile.manifests?.kustomize?.paths?.[0] ?? result[0]!.overlay,
      artifacts: profile.build?.artifacts ? artifactsOf(profile.build) : result[0]!.artifacts,
      renderHooks: removesHooks ? [] : [...result[0]!.renderHooks, ...hooks(profile.manifests)],
      portForward: profile.portForward ?? result[0]!.portForward,
    });
  }
  return result;
}

/** The npm workspaces of the root package.json, globs expanded. */
export function workspaces(): string[] {
  const patterns: string[] = JSON.parse(readText("package.json")).workspaces;
  return patterns.flatMap((pattern) => {
    if (!pattern.endsWith("/*")) return existsSync(join(ROOT, pattern, "package.json")) ? [pattern] : [];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(ROOT, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, parent, entry.name, "package.json")))
      .map((entry) => `${parent}/${entry.name}`);
  });
}

/** What a process reads from the environment, as its src/config.ts declares it (its exported `schema`). */
export interface ProcessConfig {
  file: string;
  /** Every variable it reads. */
  reads: Set<string>;
  /** Refused when unset, always or in production (the images set NODE_ENV=production). */
  required: Set<string>;
  /** Secrets: NAME or NAME_FILE. */
  secrets: Set<string>;
  /** Ports it listens on, with their defaults. */
  ports: Map<string, number>;
}

export function readProcessConfig(workspace: string): ProcessConfig | undefined {
  const file = `${workspace}/src/config.ts`;
  if (!existsSync(join(ROOT, file))) return undefined;
  const { schema } = require(join(ROOT, file)) as { schema?: { settings: ReadonlyArray<{ spec: SettingSpec }> } };
  if (!schema) throw new Error(`${file} exports no configuration schema`);
  const config: ProcessConfig = { file, reads: new Set(), required: new Set(), secrets: new Set(), ports: new Map() };
  for (const { spec } of schema.settings) {
    config.reads.add(spec.env);
    if (spec.kind === "secret") config.secrets.add(spec.env);
    if (spec.required || spec.production?.required) config.required.add(spec.env);
    if (spec.kind === "port") config.ports.set(spec.env, Number(spec.default));
  }
  return config;
}

/** The services the proto files declare, fully qualified, by package. */
export function protoServices(): Map<string, string[]> {
  const services = new Map<string, string[]>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith(".proto")) {
        const source = readText(path);
        const pkg = /^package\s+([\w.]+)\s*;/m.exec(source)?.[1] ?? "";
        for (const [, name] of source.matchAll(/^service\s+(\w+)/gm)) services.set(pkg, [...(services.get(pkg) ?? []), `${pkg}.${name}`]);
      }
    }
  };
  visit("proto");
  return services;
}

/** The Dockerfile as stages of instructions (continuation lines joined, comments dropped). */
export interface Stage {
  name: string;
  from: string;
  instructions: Array<{ keyword: string; args: string }>;
}

export function dockerfileStages(path: string): Stage[] {
  const lines = readText(path)
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = "", args = ""] = /^(\w+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === "FROM") {
      const [, from = "", name = ""] = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(args) ?? [];
      stages.push({ name: name || String(stages.length), from, instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

// ---------------------------------------------------------------------------------------------
// Rendering and the rendered objects

export function locateTool(variable: string, command: string): { path?: string; problem?: string } {
  const configured = process.env[variable];
  if (configured) return existsSync(configured) ? { path: configured } : { problem: `${variable}=${configured} does not exist` };
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return { path: join(dir, command) };
  }
  return { problem: `${command} not found (set ${variable} or put it on PATH)` };
}

export function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

export interface Rendered {
  pipeline: Pipeline;
  yaml: string;
  objects: Obj[];
  /** Where the render happened: the copy of k8s/ with the files the hooks generated. */
  workdir: string;
}

/** Renders a pipeline's overlay as skaffold does: its render hooks first, then kustomize build. */
export function render(pipeline: Pipeline, kustomize: string): Rendered {
  const workdir = mkdtempSync(join(tmpdir(), `chirp-k8s-${pipeline.name}-`));
  // A copy without locally generated keys: the hooks must produce everything the render needs.
  // With k8s/ go the workspaces' own k8s/ folders, which the base includes.
  cpSync(join(ROOT, "k8s"), join(workdir, "k8s"), {
    recursive: true,
    filter: (source) => !relative(join(ROOT, "k8s"), source).split(/[\\/]/).includes("secrets"),
  });
  for (const workspace of workspaces().filter((w) => existsSync(join(ROOT, w, "k8s")))) cpSync(join(ROOT, workspace, "k8s"), join(workdir, workspace, "k8s"), { recursive: true });
  // The dev keys hook makes the mesh certificates with the built kit's certificate maker.
  const maker = "packages/kit/dist/grpc/mesh-ca.js";
  if (existsSync(join(ROOT, maker))) cpSync(join(ROOT, maker), join(workdir, maker));
  for (const hook of pipeline.renderHooks) {
    const [command, ...args] = hook;
    run(command === "node" ? process.execPath : command!, args, workdir);
  }
  const yaml = run(kustomize, ["build", pipeline.overlay], workdir);
  const objects = parseAllDocuments(yaml)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`kustomize output does not parse: ${doc.errors[0]!.message}`);
      return doc.toJS() as Obj | null;
    })
    .filter((o): o is Obj => o !== null);
  return { pipeline, yaml, objects, workdir };
}

export interface PodTemplate {
  workload: Obj;
  labels: Record<string, string>;
  spec: Obj;
}

export function podTemplates(objects: Obj[]): PodTemplate[] {
  return objects.flatMap((o) => {
    const template =
      o.kind === "CronJob" ? o.spec?.jobTemplate?.spec?.template : o.kind === "Pod" ? o : ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"].includes(o.kind) ? o.spec?.template : undefined;
    return template ? [{ workload: o, labels: template.metadata?.labels ?? {}, spec: template.spec }] : [];
  });
}

export const allContainers = (pod: PodTemplate): Obj[] => [...(pod.spec.initContainers ?? []), ...(pod.spec.containers ?? [])];
export const describeWorkload = (pod: PodTemplate, container?: Obj) => `${pod.workload.kind}/${pod.workload.metadata.name}${container ? ` container ${container.name}` : ""}`;
export const isLongRunning = (pod: PodTemplate) => ["Deployment", "StatefulSet", "DaemonSet"].includes(pod.workload.kind);

export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export function find(objects: Obj[], kind: string, name: string): Obj | undefined {
  return objects.find((o) => o.kind === kind && o.metadata?.name === name);
}

/** A kustomize-generated name without its content hash suffix. */
export const withoutHash = (name: string) => name.replace(/-[a-z0-9]{10}$/, "");

export interface EnvValue {
  /** undefined when not known offline (fieldRef, a Secret created outside the manifests). */
  value: string | undefined;
  source: string;
}

/** The environment a container gets from its manifest (not the image's ENV). */
export function containerEnv(container: Obj, objects: Obj[], problems: string[], where: string): Map<string, EnvValue> {
  const env = new Map<string, EnvValue>();
  const dataOf = (kind: "ConfigMap" | "Secret", name: string): Record<string, string> | undefined => {
    const object = find(objects, kind, name);
    if (!object) return undefined;
    if (kind === "ConfigMap") return object.data ?? {};
    return Object.fromEntries(Object.entries<string>(object.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
  };
  for (const from of container.envFrom ?? []) {
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const ref = from.configMapRef ?? from.secretRef;
    const data = dataOf(kind, ref.name);
    if (!data) {
      if (kind === "ConfigMap") problems.push(`${where}: envFrom ConfigMap ${ref.name} is not rendered`);
      continue;
    }
    for (const [key, value] of Object.entries(data)) env.set(`${from.prefix ?? ""}${key}`, { value, source: `${kind} ${ref.name}` });
  }
  for (const variable of container.env ?? []) {
    const keyRef = variable.valueFrom?.configMapKeyRef ?? variable.valueFrom?.secretKeyRef;
    if (keyRef) {
      const kind = variable.valueFrom.configMapKeyRef ? "ConfigMap" : "Secret";
      const data = dataOf(kind, keyRef.name);
      if (!data && kind === "ConfigMap") problems.push(`${where}: ${variable.name} refers to ConfigMap ${keyRef.name}, which is not rendered`);
      env.set(variable.name, { value: data?.[keyRef.key], source: `${kind} ${keyRef.name}` });
    } else {
      env.set(variable.name, { value: variable.valueFrom ? undefined : String(variable.value ?? ""), source: "env" });
    }
  }
  return env;
}

/** The container port a Service or probe port (number or name) refers to. */
export function resolvePort(container: Obj, port: number | string): Obj | undefined {
  return (container.ports ?? []).find((p: Obj) => (typeof port === "number" ? p.containerPort === port : p.name === port));
}

/** A host:port or URL naming something inside the cluster: a Service, maybe namespace-qualified. */
export function clusterEndpoint(value: string): { host: string; port: number } | undefined {
  const defaults: Record<string, number> = { mongodb: 27017, nats: 4222, http: 80, https: 443 };
  const url = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?([^/:?#,]+)(?::(\d+))?/i.exec(value);
  const plain = url ? undefined : /^([a-z0-9.-]+):(\d+)$/i.exec(value);
  const host = url?.[2] ?? plain?.[1];
  const port = url ? (url[3] ? Number(url[3]) : defaults[url[1]!.toLowerCase()]) : plain ? Number(plain[2]) : undefined;
  if (!host || port === undefined || host === "localhost") return undefined;
  // A bare name, or name.namespace.svc[.cluster.local]; anything with other dots is outside.
  const service = /^([a-z0-9-]+)(?:\.[a-z0-9-]+\.svc(?:\.cluster\.local)?)?$/.exec(host);
  return service ? { host: service[1]!, port } : undefined;
}

export function parseQuantity(quantity: string | number | undefined): number {
  if (quantity === undefined) return Number.NaN;
  const text = String(quantity);
  const units: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  const match = /^([0-9.]+)([a-zA-Z]*)$/.exec(text);
  if (!match) return Number.NaN;
  const unit = match[2] ? units[match[2]] : 1;
  return unit === undefined ? Number.NaN : Number(match[1]) * unit;
}

