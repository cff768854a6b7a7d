/**
 * The Kubernetes manifests, skaffold.yaml and the Dockerfile, checked offline.
 *
 * Each overlay skaffold deploys (the default pipeline and every profile) is rendered with a real
 * kustomize, after running skaffold's render hooks the same way skaffold would, in a copy of k8s/
 * so the repository's own dev keys are neither used nor touched. Every rendered object is
 * validated against the Kubernetes schemas by kubernetes-validate, then against the project's
 * rules: images, probes, resources, security contexts, ports and environment variables as each
 * process's configuration schema (src/config.ts) declares them, Secrets, storage, replicas, and
 * every service of the service catalogue (packages/kit/src/services.ts) built, deployed and
 * reachable as the catalogue says.
 *
 * The tools come from the KUSTOMIZE and KUBERNETES_VALIDATE variables (paths), or from PATH;
 * scripts/install-k8s-tools.sh installs both. Without them the rendered checks are reported as
 * skipped, except with CI=true, where that is a failure.
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { X509Certificate } from "node:crypto";
import { runInNewContext } from "node:vm";
import { parse, stringify } from "yaml";
import { addressVariable, parseSigningKey, parseVerificationKey, SERVICES, TokenSigner, TokenVerifier, verifierFor } from "@chirp/kit";
import { natsAuthorization, nkeyVariable, NATS_PROCESSES } from "@chirp/kit/nats";
import { fromSeed } from "@nats-io/nkeys";
import {
  ROOT,
  KUBERNETES_VERSIONS,
  type Obj,
  readText,
  type Pipeline,
  skaffold,
  pipelines,
  workspaces,
  type ProcessConfig,
  readProcessConfig,
  protoServices,
  type Stage,
  dockerfileStages,
  locateTool,
  run,
  type Rendered,
  render,
  type PodTemplate,
  podTemplates,
  allContainers,
  describeWorkload,
  isLongRunning,
  selects,
  find,
  withoutHash,
  containerEnv,
  resolvePort,
  clusterEndpoint,
  parseQuantity,
} from "./rendered.js";

// ---------------------------------------------------------------------------------------------
// Checks that need only the sources

const PIPELINES = pipelines();
const WORKSPACES = workspaces();
const PROTO_SERVICES = protoServices();
const STAGES = dockerfileStages("Dockerfile");
const FINAL_STAGE = STAGES[STAGES.length - 1]!;

describe("skaffold.yaml", () => {
  test("uses the current skaffold/v4beta schema and only fields that schema has", () => {
    expect(skaffold.apiVersion).toMatch(/^skaffold\/v4beta(\d+)$/);
    expect(Number(/v4beta(\d+)$/.exec(skaffold.apiVersion)![1])).toBeGreaterThanOrEqual(14);
    expect(skaffold.kind).toBe("Config");
    // The fields of skaffold/v4beta14 this file may use: a misspelt field is ignored by nothing.
    const allowed: Record<string, string[]> = {
      "": ["apiVersion", "kind", "metadata", "requires", "build", "test", "manifests", "deploy", "portForward", "resourceSelector", "verify", "customActions", "profiles"],
      metadata: ["name", "labels", "annotations"],
      build: ["artifacts", "insecureRegistries", "tagPolicy", "platforms", "hooks", "local", "googleCloudBuild", "cluster"],
      "build.tagPolicy": ["gitCommit", "sha256", "envTemplate", "dateTime", "customTemplate", "inputDigest"],
      "build.local": ["push", "tryImportMissing", "useDockerCLI", "useBuildkit", "concurrency"],
      "build.artifacts[]": ["image", "context", "sync", "requires", "hooks", "platforms", "runtimeType", "docker"],
      "build.artifacts[].docker": ["dockerfile", "target", "buildArgs", "network", "addHost", "cacheFrom", "cacheTo", "cliFlags", "pullParent", "noCache", "squash", "secrets", "ssh"],
      manifests: ["rawYaml", "remoteManifests", "kustomize", "helm", "kpt", "hooks", "transform", "validate", "output"],
      "manifests.kustomize": ["paths", "buildArgs"],
      "manifests.hooks": ["before", "after"],
      "manifests.hooks.before[]": ["host"],
      "manifests.hooks.before[].host": ["command", "os", "dir"],
      deploy: ["docker", "helm", "kpt", "kubectl", "cloudrun", "statusCheck", "statusCheckDeadlineSeconds", "tolerateFailuresUntilDeadline", "kubeContext", "logs"],
      "deploy.kubectl": ["flags", "remoteManifests", "defaultNamespace", "hooks"],
      "portForward[]": ["resourceType", "resourceName", "namespace", "port", "address", "localPort"],
      "profiles[]": ["name", "activation", "requiresAllActivations", "patches", "build", "test", "manifests", "deploy", "portForward", "resourceSelector", "verify", "customActions"],
      "profiles[].patches[]": ["op", "path", "from", "value"],
    };
    const unknown: string[] = [];
    const visit = (value: unknown, path: string) => {
      if (Array.isArray(value)) return value.forEach((item) => visit(item, `${path}[]`));
      if (typeof value !== "object" || value === null) return;
      const key = path.replace(/^profiles\[\]\.(?!patches)/, "");
      const fields = allowed[key];
      if (!fields) return;
      for (const [field, child] of Object.entries(value)) {
        if (!fields.includes(field)) unknown.push(`${path ? `${path}.` : ""}${field}`);
        visit(child, path ? `${path}.${field}` : field);
      }
    };
    visit(skaffold, "");
    expect(unknown).toEqual([]);
  });

  test("deploys k8s/overlays/dev by default and k8s/overlays/prod with the prod profile", () => {
    expect(PIPELINES.map((p) => [p.name, p.overlay])).toEqual([
      ["default", "k8s/overlays/dev"],
      ["prod", "k8s/overlays/prod"],
    ]);
    for (const pipeline of PIPELINES) expect(existsSync(join(ROOT, pipeline.overlay, "kustomization.yaml"))).toBe(true);
  });

  test("builds one image per deployable workspace, each from the Dockerfile at the root with SERVICE set to it", () => {
    const problems: string[] = [];
    for (const pipeline of PIPELINES) {
      const images = pipeline.artifacts.map((a) => a.image);
      if (new Set(images).size !== images.length) problems.push(`${pipeline.name}: an image is built twice: ${images.join(", ")}`);
      for (const artifact of pipeline.artifacts) {
        const where = `${pipeline.name}: ${artifact.image}`;
        if (!/^[a-z0-9][a-z0-9._-]*$/.test(artifact.image)) problems.push(`${where}: not a bare image name (skaffold adds repository and tag)`);
        if (artifact.context !== "." || artifact.dockerfile !== "Dockerfile") problems.push(`${where}: must build ./Dockerfile from the repository root`);
        if (!WORKSPACES.includes(artifact.workspace)) {
          problems.push(`${where}: SERVICE=${artifact.workspace} is not an npm workspace (${WORKSPACES.join(", ")})`);
          continue;
        }
        const manifest = JSON.parse(readText(`${artifact.workspace}/package.json`));
        if (manifest.main !== "dist/main.js") problems.push(`${where}: ${artifact.workspace}/package.json main is ${manifest.main}, the image runs dist/main.js`);
        for (const file of ["src/main.ts", "src/config.ts", "tsconfig.json"]) {
          if (!existsSync(join(ROOT, artifact.workspace, file))) problems.push(`${where}: ${artifact.workspace}/${file} does not exist`);
        }
        const referenced: string[] = (JSON.parse(readText("tsconfig.json")).references ?? []).map((r: Obj) => posix.normalize(r.path));
        if (!referenced.includes(artifact.workspace)) problems.push(`${where}: ${artifact.workspace} is not in the root tsconfig.json references (npm run build would skip it)`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("the service catalogue (packages/kit/src/services.ts)", () => {
  test("skaffold builds an image for every catalogued service and the gateway, and nothing else", () => {
    const expected = [...SERVICES.map(({ name }) => `chirp-${name}=services/${name}`), "chirp-gateway=gateway"].sort();
    for (const pipeline of PIPELINES) expect([pipeline.name, pipeline.artifacts.map((a) => `${a.image}=${a.workspace}`).sort()]).toEqual([pipeline.name, expected]);
  });

  test("names each service's gRPC service as its contract declares it", () => {
    const declared = [...PROTO_SERVICES.values()].flat();
    expect(SERVICES.map((s) => s.grpcService).filter((name) => !declared.includes(name))).toEqual([]);
  });
});

describe("NATS authorization (k8s/base/nats.conf, k8s/overlays/prod/nats.conf)", () => {
  test.each(["k8s/base/nats.conf", "k8s/overlays/prod/nats.conf"])("%s holds the authorization the service catalogue declares (npm run k8s:nats-authorization)", (file) => {
    const text = readText(file);
    const begin = text.indexOf("# BEGIN generated authorization");
    const end = text.indexOf("# END generated authorization");
    expect(begin).toBeGreaterThanOrEqual(0);
    expect(text.slice(text.indexOf("\n", begin) + 1, end)).toBe(natsAuthorization());
  });

  test("every process's user reads its public key from the environment, and none is unrestricted", () => {
    const block = natsAuthorization();
    for (const process of NATS_PROCESSES) expect(block).toContain(`nkey: $${nkeyVariable(process)}\n      permissions: {`);
    expect(block.match(/nkey:/g)).toHaveLength(NATS_PROCESSES.length);
  });
});

describe("Dockerfile", () => {
  const usesService = (text: string) => /\$\{?SERVICE\b/.test(text);

  // hadolint (scripts/install-k8s-tools.sh installs it); a finding it may not report is silenced
  // in the Dockerfile itself, next to the line, with the reason.
  const hadolint = locateTool("HADOLINT", "hadolint");
  const lint = hadolint.path || process.env.CI === "true" ? test : test.skip;
  lint(`passes hadolint${hadolint.path ? "" : ` (SKIPPED: ${hadolint.problem}; run scripts/install-k8s-tools.sh and export what it prints)`}`, () => {
    if (!hadolint.path) throw new Error(`CI=true and hadolint is missing: ${hadolint.problem}`);
    const result = spawnSync(hadolint.path, ["--no-color", "Dockerfile"], { cwd: ROOT, encoding: "utf8" });
    expect(`${result.stdout}${result.stderr}`.trim()).toBe("");
    expect(result.status).toBe(0);
  });

  test("declares ARG SERVICE in every stage that uses it", () => {
    const problems = STAGES.filter((stage) => stage.instructions.some((i) => i.keyword !== "ARG" && usesService(i.args)))
      .filter((stage) => !stage.instructions.some((i) => i.keyword === "ARG" && /^SERVICE\b/.test(i.args)))
      .map((stage) => `stage ${stage.name} uses SERVICE without ARG SERVICE`);
    expect(problems).toEqual([]);
  });

  test("gives npm ci a manifest for every workspace, written from the lock file, which agrees with each workspace's package.json", () => {
    const isInstall = (i: Stage["instructions"][number]) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args);
    const install = STAGES.find((stage) => stage.instructions.some(isInstall))!;
    const lineage = (stage: Stage): Stage[] => {
      const parent = STAGES.find((s) => s.name === stage.from);
      return parent ? [...lineage(parent), stage] : [stage];
    };
    const before = lineage(install).flatMap((stage) => (stage === install ? stage.instructions.slice(0, stage.instructions.findIndex(isInstall)) : stage.instructions));
    // Only the root manifest and the lock file come from the sources: the install layers depend on
    // nothing else, and nothing here lists the workspaces.
    const copied = before.filter((i) => i.keyword === "COPY").flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(copied.sort()).toEqual(["package-lock.json", "package.json"]);

    // The RUN steps before the install, run here on those two files.
    const dir = mkdtempSync(join(tmpdir(), "chirp-docker-manifests-"));
    try {
      for (const file of copied) cpSync(join(ROOT, file), join(dir, file));
      for (const step of before.filter((i) => i.keyword === "RUN")) run("sh", ["-c", step.args], dir);
      const fields = ["name", "version", "dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];
      const installed = (manifest: Obj) => Object.fromEntries(fields.filter((f) => manifest[f] !== undefined).map((f) => [f, manifest[f]]));
      const problems: string[] = [];
      for (const workspace of WORKSPACES) {
        const file = join(dir, workspace, "package.json");
        if (!existsSync(file)) {
          problems.push(`${workspace}: no package.json written (is it in package-lock.json? run npm install)`);
          continue;
        }
        const written = installed(JSON.parse(readFileSync(file, "utf8")));
        const real = installed(JSON.parse(readText(`${workspace}/package.json`)));
        if (JSON.stringify(written) !== JSON.stringify(real)) problems.push(`${workspace}: package-lock.json says ${JSON.stringify(written)}, its package.json ${JSON.stringify(real)} (run npm install)`);
      }
      expect(problems).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("builds the workspace named by SERVICE with tsc -b and installs only its production dependencies", () => {
    const all = STAGES.flatMap((stage) => stage.instructions);
    expect(all.some((i) => i.keyword === "COPY" && /^\$\{SERVICE\}\/\s+\$\{SERVICE\}\/$/.test(i.args))).toBe(true);
    expect(all.some((i) => i.keyword === "RUN" && /\btsc -b "\$SERVICE"/.test(i.args))).toBe(true);
    expect(all.some((i) => i.keyword === "RUN" && /\bnpm ci\b/.test(i.args) && /--omit=dev/.test(i.args) && /--workspace "\$SERVICE"/.test(i.args))).toBe(true);
  });

  test("runs dist/main.js of the workspace as a numeric non-root user", () => {
    const final = FINAL_STAGE.instructions;
    const user = final.filter((i) => i.keyword === "USER").pop()?.args ?? "";
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(final.filter((i) => i.keyword === "WORKDIR").pop()?.args).toBe("/app/${SERVICE}");
    expect(JSON.parse(final.filter((i) => i.keyword === "CMD").pop()?.args ?? "[]")).toContain("dist/main.js");
  });

  test(".dockerignore keeps local installs, build output, tools, keys and manifests out of the build context", () => {
    const ignored = readText(".dockerignore").split("\n").map((l) => l.trim());
    for (const entry of ["**/node_modules", "**/dist", "**/*.tsbuildinfo", ".tools", "**/k8s", ".git"]) expect(ignored).toContain(entry);
  });

  test(".gitignore keeps the installed tools and the development keys out of git", () => {
    const ignored = readText(".gitignore").split("\n").map((l) => l.trim());
    expect(ignored).toContain(".tools/");
    expect(ignored).toContain("k8s/overlays/dev/secrets/");
  });
});

describe("helper scripts", () => {
  test("wait-for-dependencies exits once the servers in MONGODB_URI and NATS_URL accept connections", async () => {
    const server = createServer((socket) => socket.end());
    await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await new Promise<{ code: number | null; output: string }>((done) => {
        const child = spawn(process.execPath, [join(ROOT, "k8s/base/wait-for-dependencies.cjs")], {
          env: { PATH: process.env.PATH, MONGODB_URI: `mongodb://127.0.0.1:${port}/chirp`, NATS_URL: `nats://127.0.0.1:${port}` },
        });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk));
        const timer = setTimeout(() => child.kill(), 10_000);
        child.on("exit", (code: number | null) => {
          clearTimeout(timer);
          done({ code, output });
        });
      });
      expect(result.code).toBe(0);
      expect(result.output).toContain(`127.0.0.1:${port} (MONGODB_URI) answers`);
      expect(result.output).toContain(`127.0.0.1:${port} (NATS_URL) answers`);
    } finally {
      server.close();
    }
  });

  test("generate-dev-keys writes a matching Ed25519 pair once and keeps it", () => {
    const dir = mkdtempSync(join(tmpdir(), "chirp-keys-"));
    try {
      run(process.execPath, [join(ROOT, "k8s/scripts/generate-dev-keys.mjs"), dir], ROOT);
      const first = readFileSync(join(dir, "auth-signing-key.pem"), "utf8");
      run(process.execPath, [join(ROOT, "k8s/scripts/generate-dev-keys.mjs"), dir], ROOT);
      expect(readFileSync(join(dir, "auth-signing-key.pem"), "utf8")).toBe(first);
      const signer = new TokenSigner(parseSigningKey(first), { issuer: "chirp", audience: "chirp", ttlSeconds: 60 });
      const verifier = verifierFor(readFileSync(join(dir, "auth-public-key.pem"), "utf8"));
      expect(verifier.verify(signer.sign("someone").token).sub).toBe("someone");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("generate-nats-keys writes an nkey user per process, valid for @nats-io/nkeys, once, and keeps them", () => {
    const dir = mkdtempSync(join(tmpdir(), "chirp-nkeys-"));
    try {
      run(process.execPath, [join(ROOT, "k8s/scripts/generate-nats-keys.mjs"), dir], ROOT);
      const publicKeys = () => Object.fromEntries(readFileSync(join(dir, "nats-public-nkeys.env"), "utf8").trim().split("\n").map((line) => line.split("=") as [string, string]));
      const first = publicKeys();
      expect(Object.keys(first).sort()).toEqual(NATS_PROCESSES.map(nkeyVariable).sort());
      for (const process of NATS_PROCESSES) {
        const seed = readFileSync(join(dir, "nats", `${process}.nk`), "utf8").trim();
        expect([process, fromSeed(new TextEncoder().encode(seed)).getPublicKey()]).toEqual([process, first[nkeyVariable(process)]]);
      }
      expect(new Set(Object.values(first)).size).toBe(NATS_PROCESSES.length);
      run(process.execPath, [join(ROOT, "k8s/scripts/generate-nats-keys.mjs"), dir], ROOT);
      expect(publicKeys()).toEqual(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("create-mongodb-users gives each service a user with readWrite on its own database only, and updates it on a second run", () => {
    const dir = mkdtempSync(join(tmpdir(), "chirp-mongo-users-"));
    try {
      for (const service of SERVICES) writeFileSync(join(dir, service.name), `password-of-${service.name}-0123456789\n`);
      mkdirSync(join(dir, "..data"));
      // mongosh's globals, recorded: a database per name, with its users.
      const users = new Map<string, Obj>();
      const calls: string[] = [];
      const db = {
        getSiblingDB: (database: string) => ({
          getUser: (user: string) => users.get(`${database}.${user}`) ?? null,
          createUser: (spec: Obj) => (calls.push(`create ${database}.${spec.user}`), users.set(`${database}.${spec.user}`, spec)),
          updateUser: (user: string, spec: Obj) => (calls.push(`update ${database}.${user}`), users.set(`${database}.${user}`, { user, ...spec })),
        }),
      };
      const script = readText("k8s/overlays/prod/create-mongodb-users.js");
      const runScript = () => runInNewContext(script, { db, print: () => undefined, require, process: { env: { PASSWORDS_DIR: dir } } });
      runScript();
      runScript();
      expect(calls).toEqual([...SERVICES.map((s) => `create chirp_${s.name}.${s.name}`).sort(), ...SERVICES.map((s) => `update chirp_${s.name}.${s.name}`).sort()]);
      for (const service of SERVICES) {
        expect(users.get(`chirp_${service.name}.${service.name}`)).toEqual({ user: service.name, pwd: `password-of-${service.name}-0123456789`, roles: [{ role: "readWrite", db: `chirp_${service.name}` }] });
      }
      writeFileSync(join(dir, "users"), "short");
      expect(runScript).toThrow("users: the password must have at least 16 characters");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the demo data script parses", () => {
    run(process.execPath, ["--check", join(ROOT, "k8s/overlays/dev/seed-demo-data.mjs")], ROOT);
  });
});

// ---------------------------------------------------------------------------------------------
// Checks on the rendered manifests

const kustomizeTool = locateTool("KUSTOMIZE", "kustomize");
const validateTool = locateTool("KUBERNETES_VALIDATE", "kubernetes-validate");
const missingTools = [kustomizeTool.problem, validateTool.problem].filter((p): p is string => p !== undefined);

if (missingTools.length > 0 && process.env.CI === "true") {
  describe("rendered Kubernetes manifests", () => {
    test("kustomize and kubernetes-validate are installed (scripts/install-k8s-tools.sh)", () => {
      throw new Error(`CI=true and the Kubernetes checkers are missing: ${missingTools.join("; ")}`);
    });
  });
} else {
  const describeRendered = missingTools.length > 0 ? describe.skip : describe;
  const title = missingTools.length > 0
    ? `rendered Kubernetes manifests (SKIPPED: ${missingTools.join("; ")}; run scripts/install-k8s-tools.sh and export what it prints)`
    : "rendered Kubernetes manifests";

  describeRendered(title, () => {
    const rendered = new Map<string, Rendered>();
    const configs = new Map<string, ProcessConfig | undefined>();

    beforeAll(() => {
      for (const pipeline of PIPELINES) rendered.set(pipeline.name, render(pipeline, kustomizeTool.path!));
      // The processes skaffold deploys; every one declares its configuration.
      for (const workspace of new Set(PIPELINES.flatMap((p) => p.artifacts.map((a) => a.workspace)))) configs.set(workspace, readProcessConfig(workspace));
    });

    afterAll(() => {
      for (const r of rendered.values()) rmSync(r.workdir, { recursive: true, force: true });
    });

    /** The artifact (and so the workspace and its config) a container runs, if skaffold builds its image. */
    const artifactOf = (pipeline: Pipeline, container: Obj) => pipeline.artifacts.find((a) => a.image === container.image);

    describe.each(PIPELINES.map((p) => ({ pipeline: p.name, overlay: p.overlay })))("$overlay (skaffold pipeline $pipeline)", ({ pipeline: name }) => {
      const get = () => rendered.get(name)!;

      test(`every object validates against the Kubernetes ${KUBERNETES_VERSIONS.join(" and ")} schemas (kubernetes-validate --strict)`, () => {
        const { objects: all, workdir } = get();
        // cert-manager's kinds are not Kubernetes' own, so kubernetes-validate has no schema for
        // them: they are checked by "every service and the gateway has a mesh certificate".
        const objects = all.filter((o) => !String(o.apiVersion).startsWith("cert-manager.io/"));
        const file = join(workdir, "rendered.yaml");
        writeFileSync(file, objects.map((o) => stringify(o)).join("---\n"));
        const args = ["--strict", ...KUBERNETES_VERSIONS.flatMap((v) => ["-k", v]), file];
        const result = spawnSync(validateTool.path!, args, { encoding: "utf8" });
        const lines = `${result.stdout}${result.stderr}`.split("\n").filter((l) => l.trim() !== "");
        // kubernetes-validate only warns about a kind it has no schema for (a typo in apiVersion
        // or kind): that counts as a failure here, as does anything but a pass.
        expect(lines.filter((l) => !l.startsWith("INFO"))).toEqual([]);
        expect(lines.filter((l) => / passed for resource /.test(l))).toHaveLength(objects.length * KUBERNETES_VERSIONS.length);
        expect(result.status).toBe(0);
      });

      test("every image skaffold builds is deployed, and every deployed image is built by skaffold or pinned", () => {
        const { objects, pipeline } = get();
        const images = new Set(podTemplates(objects).flatMap((pod) => allContainers(pod).map((c) => c.image as string)));
        const built = new Set(pipeline.artifacts.map((a) => a.image));
        const problems: string[] = [];
        for (const image of built) if (!images.has(image)) problems.push(`${image} is built but no manifest uses it`);
        for (const image of images) {
          if (built.has(image)) continue;
          // Not built here: a third-party image, which must name a version.
          const tag = /^[^@]+:([^/:@]+)$/.exec(image)?.[1];
          if (!tag && !image.includes("@sha256:")) problems.push(`${image} is neither a skaffold artifact nor a tagged image`);
          if (tag === "latest") problems.push(`${image} uses the latest tag`);
        }
        expect(problems).toEqual([]);
      });

      test("every container has requests and limits and a hardened security context; pods get no API token", () => {
        const { objects } = get();
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          const where = describeWorkload(pod);
          if (pod.spec.automountServiceAccountToken !== false) problems.push(`${where}: automountServiceAccountToken is not false`);
          const account = find(objects, "ServiceAccount", pod.spec.serviceAccountName ?? "");
          if (!account) problems.push(`${where}: serviceAccountName ${pod.spec.serviceAccountName} is not a rendered ServiceAccount`);
          else if (account.automountServiceAccountToken !== false) problems.push(`ServiceAccount/${account.metadata.name}: automountServiceAccountToken is not false`);
          if (pod.spec.hostNetwork || pod.spec.hostPID || pod.spec.hostIPC) problems.push(`${where}: uses the host's namespaces`);
          const podContext: Obj = pod.spec.securityContext ?? {};
          for (const container of allContainers(pod)) {
            const at = describeWorkload(pod, container);
            const context: Obj = container.securityContext ?? {};
            for (const resource of ["cpu", "memory"]) {
              for (const kind of ["requests", "limits"]) {
                if (container.resources?.[kind]?.[resource] === undefined) problems.push(`${at}: no ${kind}.${resource}`);
              }
              if (parseQuantity(container.resources?.requests?.[resource]) > parseQuantity(container.resources?.limits?.[resource])) {
                problems.push(`${at}: ${resource} request above its limit`);
              }
            }
            if ((context.runAsNonRoot ?? podContext.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot is not true`);
            if ((context.runAsUser ?? podContext.runAsUser) === 0) problems.push(`${at}: runs as root`);
            if (context.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`);
            if (context.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`);
            if (context.privileged) problems.push(`${at}: privileged`);
            if (!(context.capabilities?.drop ?? []).includes("ALL")) problems.push(`${at}: capabilities do not drop ALL`);
            if ((context.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities`);
            if ((context.seccompProfile ?? podContext.seccompProfile)?.type !== "RuntimeDefault") problems.push(`${at}: seccompProfile is not RuntimeDefault`);
          }
        }
        expect(problems).toEqual([]);
      });

      test("Chirp's pods run as the image's user and get no service links (they would add variables such as USERS_PORT)", () => {
        const { objects, pipeline } = get();
        const imageUser = Number(FINAL_STAGE.instructions.filter((i) => i.keyword === "USER").pop()!.args.split(":")[0]);
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          if (!allContainers(pod).some((c) => artifactOf(pipeline, c))) continue;
          if (pod.spec.enableServiceLinks !== false) problems.push(`${describeWorkload(pod)}: enableServiceLinks is not false`);
          for (const container of allContainers(pod)) {
            const user = container.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
            if (artifactOf(pipeline, container) && user !== undefined && user !== imageUser) {
              problems.push(`${describeWorkload(pod, container)}: runAsUser ${user}, but the image's user is ${imageUser}`);
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("long-running containers have probes; Chirp's gRPC services use grpc.health.v1; no liveness probe depends on other services", () => {
        const { objects, pipeline } = get();
        const problems: string[] = [];
        for (const pod of podTemplates(objects).filter(isLongRunning)) {
          for (const container of pod.spec.containers) {
            const at = describeWorkload(pod, container);
            for (const probe of ["readinessProbe", "livenessProbe"]) if (!container[probe]) problems.push(`${at}: no ${probe}`);
            for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
              const handler: Obj | undefined = container[probe];
              const port = handler?.grpc?.port ?? handler?.httpGet?.port ?? handler?.tcpSocket?.port;
              if (handler && !handler.exec && !resolvePort(container, port)) problems.push(`${at}: ${probe} port ${port} is not a container port`);
            }
            const artifact = artifactOf(pipeline, container);
            const config = artifact && configs.get(artifact.workspace);
            if (!config) continue;
            if (config.ports.has("GRPC_PORT")) {
              const serves = SERVICES.find((s) => `services/${s.name}` === artifact.workspace)?.grpcService;
              if (!serves) problems.push(`${at}: ${artifact.workspace} is not in the service catalogue`);
              // The gRPC port speaks mutual TLS only; the kubelet's gRPC probes present no
              // certificate, so they ask the plaintext health-only port (HEALTH_PORT).
              const port = Number(containerEnv(container, objects, problems, at).get("HEALTH_PORT")?.value ?? config.ports.get("HEALTH_PORT"));
              if (!port) problems.push(`${at}: HEALTH_PORT is not set, so its probes have no port that answers without a certificate`);
              for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
                const grpc = container[probe]?.grpc;
                if (!grpc) problems.push(`${at}: ${probe} is not a gRPC health probe`);
                else if (grpc.service !== serves) problems.push(`${at}: ${probe} asks for service "${grpc.service}", not ${serves}, which it serves`);
                else if (grpc.port !== port) problems.push(`${at}: ${probe} asks port ${grpc.port}, not HEALTH_PORT ${port}`);
              }
            }
            if (String(container.livenessProbe?.httpGet?.path ?? "").startsWith("/healthz")) {
              problems.push(`${at}: the liveness probe uses /healthz, which fails whenever an upstream does`);
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("every service and the gateway has a mesh certificate naming it, mounted where TLS_CERT_FILE, TLS_KEY_FILE and TLS_CA_FILE point", () => {
        const { objects, pipeline } = get();
        const problems: string[] = [];
        const workloads = new Set<string>();
        const certificates = objects.filter((o) => o.kind === "Certificate" && String(o.apiVersion).startsWith("cert-manager.io/"));
        const issuers = objects.filter((o) => o.kind === "Issuer" && String(o.apiVersion).startsWith("cert-manager.io/"));
        for (const pod of podTemplates(objects)) {
          for (const container of pod.spec.containers) {
            const artifact = artifactOf(pipeline, container);
            if (!artifact) continue;
            const at = describeWorkload(pod, container);
            const name = pod.workload.metadata.name as string;
            workloads.add(name);
            const env = containerEnv(container, objects, problems, at);
            const files = ["TLS_CERT_FILE", "TLS_KEY_FILE", "TLS_CA_FILE"].map((v) => [v, env.get(v)?.value] as const);
            const secretNames = new Set<string>();
            for (const [variable, path] of files) {
              if (!path) {
                problems.push(`${at}: ${variable} is not set`);
                continue;
              }
              const mount = (container.volumeMounts ?? []).find((m: Obj) => path.startsWith(`${m.mountPath}/`));
              const volume = mount && (pod.spec.volumes ?? []).find((v: Obj) => v.name === mount.name);
              if (!volume?.secret) {
                problems.push(`${at}: ${variable}=${path} is not in a mounted Secret`);
                continue;
              }
              secretNames.add(volume.secret.secretName);
            }
            if (secretNames.size !== 1) {
              problems.push(`${at}: the certificate, key and CA come from ${secretNames.size} Secrets, not one`);
              continue;
            }
            const secretName = [...secretNames][0]!;
            if (withoutHash(secretName) !== `${name}-mesh-tls`) problems.push(`${at}: its mesh certificate is Secret ${secretName}, not ${name}-mesh-tls`);
            const secret = find(objects, "Secret", secretName);
            const certificate = certificates.find((c) => c.spec.secretName === secretName);
            if (secret) {
              // Made from files (the dev overlay's render hook): the certificate itself names the workload.
              const data = (key: string) => Buffer.from(String(secret.data?.[key] ?? ""), "base64").toString();
              try {
                const cert = new X509Certificate(data("tls.crt"));
                const ca = new X509Certificate(data("ca.crt"));
                if (!cert.subjectAltName?.split(", ").includes(`URI:spiffe://chirp/${name}`)) problems.push(`${at}: Secret ${secretName}'s certificate does not name spiffe://chirp/${name}`);
                if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) problems.push(`${at}: Secret ${secretName}'s certificate is not issued by its ca.crt`);
                if (!data("tls.key").includes("PRIVATE KEY")) problems.push(`${at}: Secret ${secretName} has no tls.key`);
              } catch (error) {
                problems.push(`${at}: Secret ${secretName} does not hold a certificate and CA: ${(error as Error).message}`);
              }
            } else if (certificate) {
              // Issued by cert-manager: by the mesh CA's Issuer, for both ends of a connection.
              const spec = certificate.spec;
              if (!(spec.uris ?? []).includes(`spiffe://chirp/${name}`) || (spec.uris ?? []).length !== 1) problems.push(`Certificate/${certificate.metadata.name}: uris is not [spiffe://chirp/${name}]`);
              for (const usage of ["server auth", "client auth"]) if (!(spec.usages ?? []).includes(usage)) problems.push(`Certificate/${certificate.metadata.name}: no ${usage} usage`);
              const issuer = issuers.find((i) => i.metadata.name === spec.issuerRef?.name && (spec.issuerRef?.kind ?? "Issuer") === "Issuer");
              const caCertificate = issuer?.spec.ca && certificates.find((c) => c.spec.secretName === issuer.spec.ca.secretName);
              if (!caCertificate?.spec.isCA) problems.push(`Certificate/${certificate.metadata.name}: not issued by an Issuer whose CA is a rendered CA Certificate`);
              else if (!issuers.some((i) => i.metadata.name === caCertificate.spec.issuerRef?.name && i.spec.selfSigned !== undefined)) {
                problems.push(`Certificate/${caCertificate.metadata.name}: the mesh CA is not issued by a self-signed Issuer`);
              }
              if (!(Number.parseInt(String(spec.renewBefore ?? "0"), 10) > 0)) problems.push(`Certificate/${certificate.metadata.name}: no renewBefore`);
            } else {
              problems.push(`${at}: Secret ${secretName} is neither rendered nor issued by a rendered Certificate`);
            }
          }
        }
        for (const expected of [...SERVICES.map((s) => s.name), "gateway"]) if (!workloads.has(expected)) problems.push(`${expected} is not deployed`);
        expect(problems).toEqual([]);
      });

      test("the ports each process's config uses are its container ports and its Service's target ports", () => {
        const { objects, pipeline } = get();
        const services = objects.filter((o) => o.kind === "Service");
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          for (const container of pod.spec.containers) {
            const artifact = artifactOf(pipeline, container);
            if (!artifact) continue;
            const at = describeWorkload(pod, container);
            const config = configs.get(artifact.workspace);
            if (!config) {
              problems.push(`${at}: ${artifact.workspace}/src/config.ts does not exist, so its ports cannot be checked`);
              continue;
            }
            const env = containerEnv(container, objects, problems, at);
            const expectedPorts: number[] = [];
            for (const [variable, fallback] of config.ports) {
              const port = env.has(variable) ? Number(env.get(variable)!.value) : fallback;
              expectedPorts.push(port);
              const name = variable.replace(/_PORT$/, "").toLowerCase();
              const declared = resolvePort(container, port);
              if (!declared) {
                problems.push(`${at}: ${variable}=${port} (${config.file}) is not a container port`);
                continue;
              }
              if (declared.name !== name) problems.push(`${at}: container port ${port} is named ${declared.name}, expected ${name}`);
              const servicePorts = services
                .filter((s) => selects(s.spec.selector, pod.labels))
                .flatMap((s) => (s.spec.ports ?? []).map((p: Obj) => ({ service: s, port: p })))
                .filter(({ port: p }) => resolvePort(container, p.targetPort ?? p.port)?.containerPort === port);
              if (servicePorts.length === 0) problems.push(`${at}: no Service targets ${variable}=${port}`);
              for (const { service, port: p } of servicePorts) {
                if (p.name !== name) problems.push(`Service/${service.metadata.name}: the port targeting ${variable} is named ${p.name}, expected ${name}`);
              }
            }
            for (const port of container.ports ?? []) {
              if (!expectedPorts.includes(port.containerPort)) problems.push(`${at}: container port ${port.containerPort} is not a port ${config.file} reads`);
            }
          }
        }
        // And the other way round: every Service port leads to a container port of the pods it selects.
        for (const service of services) {
          const pods = podTemplates(objects).filter((pod) => selects(service.spec.selector, pod.labels));
          if (pods.length === 0) problems.push(`Service/${service.metadata.name}: selects no pods`);
          for (const p of service.spec.ports ?? []) {
            for (const pod of pods) {
              if (!pod.spec.containers.some((c: Obj) => resolvePort(c, p.targetPort ?? p.port))) {
                problems.push(`Service/${service.metadata.name}: port ${p.name} targets ${p.targetPort}, which ${describeWorkload(pod)} does not expose`);
              }
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("every variable a Chirp container is given is one its config reads, and every one it requires is given", () => {
        const { objects, pipeline } = get();
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          for (const container of pod.spec.containers) {
            const artifact = artifactOf(pipeline, container);
            if (!artifact) continue;
            const at = describeWorkload(pod, container);
            const config = configs.get(artifact.workspace);
            if (!config) {
              problems.push(`${at}: ${artifact.workspace}/src/config.ts does not exist, so its environment cannot be checked`);
              continue;
            }
            const env = containerEnv(container, objects, problems, at);
            const readable = new Set([...config.reads, ...[...config.secrets].map((s) => `${s}_FILE`)]);
            for (const [variable, { source }] of env) {
              if (!readable.has(variable)) problems.push(`${at}: ${variable} (from ${source}) is not read by ${config.file}`);
            }
            for (const variable of config.required) {
              const given = env.has(variable) || (config.secrets.has(variable) && env.has(`${variable}_FILE`));
              if (!given) problems.push(`${at}: ${variable} is required by ${config.file} but not set`);
            }
            // Upstream addresses default to 127.0.0.1, which is never right in a cluster.
            for (const variable of [...config.reads].filter((v) => v.endsWith("_ADDRESS"))) {
              if (!env.has(variable)) problems.push(`${at}: ${variable} is not set (its default points at 127.0.0.1)`);
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("upstream addresses and connection URLs name Services, ports and workloads that exist", () => {
        const { objects, pipeline } = get();
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          for (const container of allContainers(pod)) {
            const at = describeWorkload(pod, container);
            for (const [variable, { value }] of containerEnv(container, objects, problems, at)) {
              if (value === undefined) continue;
              const endpoint = clusterEndpoint(value);
              if (!endpoint) continue;
              const service = find(objects, "Service", endpoint.host);
              const port = service?.spec.ports?.find((p: Obj) => p.port === endpoint.port);
              if (!service || !port) {
                problems.push(`${at}: ${variable}=${value}: no Service ${endpoint.host} with port ${endpoint.port}`);
                continue;
              }
              const targets = podTemplates(objects)
                .filter((target) => selects(service.spec.selector, target.labels))
                .flatMap((target) => target.spec.containers.map((c: Obj) => ({ target, container: c, port: resolvePort(c, port.targetPort ?? port.port) })))
                .filter((t) => t.port);
              if (targets.length === 0) problems.push(`${at}: ${variable}=${value}: Service ${endpoint.host} port ${endpoint.port} reaches no container`);
              // USERS_ADDRESS must reach the users service, TIMELINE_ADDRESS the timeline service, …
              if (variable.endsWith("_ADDRESS")) {
                const upstream = SERVICES.find((s) => addressVariable(s.name) === variable)?.name;
                const reachesIt = upstream !== undefined && targets.some((t) => artifactOf(pipeline, t.container)?.workspace === `services/${upstream}`);
                if (!reachesIt) problems.push(`${at}: ${variable}=${value} does not reach ${upstream ? `the ${upstream} service` : "a catalogued service"}`);
              }
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("each Chirp process's own loadConfig accepts the environment its manifest gives it", () => {
        const { objects, pipeline, workdir } = get();
        const imageEnv = Object.fromEntries(
          FINAL_STAGE.instructions.filter((i) => i.keyword === "ENV").map((i) => i.args.split("=", 2) as [string, string]),
        );
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          for (const container of pod.spec.containers) {
            const artifact = artifactOf(pipeline, container);
            if (!artifact || !configs.get(artifact.workspace)) continue;
            const at = describeWorkload(pod, container);
            const env: Record<string, string | undefined> = { ...imageEnv };
            for (const [variable, { value }] of containerEnv(container, objects, problems, at)) env[variable] = value;
            // Files named by *_FILE variables: the mounted Secret's or ConfigMap's content, written
            // to a temporary file the way the kubelet would mount it.
            for (const [variable, path] of Object.entries(env)) {
              if (!variable.endsWith("_FILE") || !path) continue;
              const content = mountedFile(pod, container, path, objects);
              if (content === undefined) {
                problems.push(`${at}: ${variable}=${path} is not a file of a mounted volume`);
                continue;
              }
              const file = join(workdir, `${container.name}-${variable}`);
              writeFileSync(file, content);
              env[variable] = file;
            }
            const { loadConfig } = require(join(ROOT, artifact.workspace, "src/config.ts"));
            try {
              loadConfig(env);
            } catch (error) {
              problems.push(`${at}: ${(error as Error).message}`);
            }
          }
        }
        expect(problems).toEqual([]);
      });

      /**
       * Secrets only prod reads, created beforehand (k8s/README.md), which dev has no stand-in for:
       * the services' MongoDB passwords (dev's MongoDB has no users).
       */
      const PROD_ONLY_SECRETS = /^mongodb-password-[a-z0-9-]+$/;

      /** A file under a container's volume mounts, from the rendered Secret or ConfigMap; for a
       *  Secret created outside the manifests (prod), the dev overlay's Secret of the same name. */
      function mountedFile(pod: PodTemplate, container: Obj, path: string, objects: Obj[]): string | undefined {
        for (const mount of container.volumeMounts ?? []) {
          if (!path.startsWith(`${mount.mountPath}/`)) continue;
          const volume = (pod.spec.volumes ?? []).find((v: Obj) => v.name === mount.name);
          const key = path.slice(mount.mountPath.length + 1);
          if (volume?.configMap) return find(objects, "ConfigMap", volume.configMap.name)?.data?.[key];
          if (volume?.secret) {
            const secret =
              find(objects, "Secret", volume.secret.secretName) ??
              rendered.get("default")!.objects.find((o) => o.kind === "Secret" && withoutHash(o.metadata.name) === volume.secret.secretName);
            const data = secret?.data?.[key];
            if (data === undefined && !secret && PROD_ONLY_SECRETS.test(volume.secret.secretName)) return "a-password-made-beforehand";
            return data === undefined ? undefined : Buffer.from(data, "base64").toString("utf8");
          }
        }
        return undefined;
      }

      test("Secrets: each is read through a *_FILE variable; a private key only by one workload, its own: the signer's signing key, each workload's mesh key", () => {
        const { objects, pipeline } = get();
        const generated = rendered.get("default")!.objects.filter((o) => o.kind === "Secret").map((o) => withoutHash(o.metadata.name));
        const readers = new Map<string, string[]>();
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          // A projected volume's Secrets have readers too (the mongodb-users Job's passwords).
          for (const volume of (pod.spec.volumes ?? []).filter((v: Obj) => v.projected)) {
            for (const source of volume.projected.sources.filter((s: Obj) => s.secret)) readers.set(source.secret.name, [...(readers.get(source.secret.name) ?? []), describeWorkload(pod)]);
          }
          for (const volume of (pod.spec.volumes ?? []).filter((v: Obj) => v.secret)) {
            const name: string = volume.secret.secretName;
            readers.set(name, [...(readers.get(name) ?? []), describeWorkload(pod)]);
            const issued = objects.some((o) => o.kind === "Certificate" && o.spec.secretName === name);
            const madeBeforehand = pipeline.name === "prod" && PROD_ONLY_SECRETS.test(name);
            if (!find(objects, "Secret", name) && !issued && !(name.length > 0 && generated.includes(name)) && !madeBeforehand) {
              problems.push(`${describeWorkload(pod)}: Secret ${name} is neither rendered nor one the dev overlay generates`);
            }
            for (const container of pod.spec.containers) {
              const mount = (container.volumeMounts ?? []).find((m: Obj) => m.name === volume.name);
              if (!mount) continue;
              const at = describeWorkload(pod, container);
              const env = containerEnv(container, objects, problems, at);
              const used = [...env].some(([variable, { value }]) => variable.endsWith("_FILE") && value?.startsWith(`${mount.mountPath}/`));
              if (!used) problems.push(`${at}: mounts Secret ${name} but no *_FILE variable reads it`);
              const config = configs.get(artifactOf(pipeline, container)?.workspace ?? "");
              const secret = find(objects, "Secret", name);
              const holdsPrivateKey = issued || Object.values<string>(secret?.data ?? {}).some((v) => Buffer.from(v, "base64").toString().includes("PRIVATE KEY"));
              // A workload's own mesh certificate's key is its own; any other private key only the signer's.
              const ownMeshKey = withoutHash(name) === `${pod.workload.metadata.name}-mesh-tls`;
              if (holdsPrivateKey && !ownMeshKey && !config?.secrets.has("AUTH_SIGNING_KEY")) problems.push(`${at}: can read the private key in Secret ${name}`);
            }
          }
        }
        for (const [name, workloads] of readers) {
          // A service's MongoDB password is also read by the Job that makes its user with it.
          const others = PROD_ONLY_SECRETS.test(name) ? workloads.filter((w) => w !== "Job/mongodb-users") : workloads;
          // The token verification key is public: every service verifies tokens with it.
          if (others.length > 1 && withoutHash(name) !== "auth-public-key") problems.push(`Secret ${name} is mounted by ${workloads.join(", ")}`);
        }
        expect(problems).toEqual([]);
      });

      test("files a container runs from a mounted ConfigMap are in it", () => {
        const { objects } = get();
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          for (const container of allContainers(pod)) {
            for (const word of [...(container.command ?? []), ...(container.args ?? [])]) {
              const mount = (container.volumeMounts ?? []).find((m: Obj) => String(word).startsWith(`${m.mountPath}/`));
              const volume = mount && (pod.spec.volumes ?? []).find((v: Obj) => v.name === mount.name);
              if (!volume?.configMap) continue;
              const key = String(word).slice(mount.mountPath.length + 1);
              if (find(objects, "ConfigMap", volume.configMap.name)?.data?.[key] === undefined) {
                problems.push(`${describeWorkload(pod, container)}: runs ${word}, which ConfigMap ${volume.configMap.name} does not hold`);
              }
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("NetworkPolicies: everything is denied by default, and exactly the flows the catalogue and the configurations call for are allowed", () => {
        const { objects } = get();
        const policies = objects.filter((o) => o.kind === "NetworkPolicy");
        const defaultDeny = policies.find((p) => Object.keys(p.spec.podSelector ?? {}).length === 0 && p.spec.policyTypes?.includes("Ingress") && p.spec.policyTypes?.includes("Egress") && !p.spec.ingress?.length && !p.spec.egress?.length);
        expect(defaultDeny?.metadata.name).toBe("default-deny");
        const nodes = networkNodes(objects);
        const allowed = [...allowedFlows(nodes, policies)].sort();
        const expected = [...expectedFlows(objects, nodes)].sort();
        expect({ unexpected: allowed.filter((f) => !expected.includes(f)), missing: expected.filter((f) => !allowed.includes(f)) }).toEqual({ unexpected: [], missing: [] });
      });

      /** The flows the catalogue and the processes' configurations call for, as "from -> to:port/protocol". */
      function expectedFlows(objects: Obj[], nodes: NetworkNode[]): Set<string> {
        const flows = new Set<string>();
        const pods = nodes.filter((n) => n.inNamespace);
        const has = (name: string) => pods.some((n) => n.name === name);
        const portOf = (name: string, port: string) => pods.find((n) => n.name === name)?.ports.find((p) => p.name === port)?.port;
        for (const pod of pods) for (const protocol of ["UDP", "TCP"]) flows.add(`${pod.name} -> kube-dns:53/${protocol}`);
        for (const name of ["gateway", ...SERVICES.map((s) => s.name)]) {
          const config = configs.get(name === "gateway" ? "gateway" : `services/${name}`)!;
          // Whom it calls: every catalogued service whose address it reads.
          for (const upstream of SERVICES) if (upstream.name !== name && config.reads.has(addressVariable(upstream.name))) flows.add(`${name} -> ${upstream.name}:${upstream.port}/TCP`);
          if (config.reads.has("MONGODB_URI")) flows.add(`${name} -> mongodb:27017/TCP`);
          if (config.reads.has("NATS_URL")) flows.add(`${name} -> nats:4222/TCP`);
        }
        const chirp = pods.filter((n) => ["service", "gateway"].includes(n.labels["app.kubernetes.io/component"]!));
        if (has("demo-data")) flows.add(`demo-data -> gateway:${portOf("gateway", "http")}/TCP`);
        if (objects.some((o) => o.kind === "Ingress")) flows.add(`ingress-controller -> gateway:${portOf("gateway", "http")}/TCP`);
        if (has("prometheus")) {
          for (const pod of chirp) flows.add(`prometheus -> ${pod.name}:9464/TCP`);
          for (const port of [443, 6443]) flows.add(`prometheus -> outside:${port}/TCP`);
        }
        if (has("jaeger")) for (const pod of chirp) flows.add(`${pod.name} -> jaeger:4318/TCP`);
        // The prod overlay's clusters: NATS routes, the replica set's members.
        if (portOf("nats", "cluster")) flows.add(`nats -> nats:${portOf("nats", "cluster")}/TCP`);
        const mongo = find(objects, "StatefulSet", "mongodb");
        if ((mongo?.spec.template.spec.containers[0].args ?? []).some((a: string) => a.startsWith("--replSet"))) flows.add("mongodb -> mongodb:27017/TCP");
        // prod's Job that makes each service's MongoDB user.
        if (has("mongodb-users")) flows.add("mongodb-users -> mongodb:27017/TCP");
        return flows;
      }

      test("NATS: the server reads each process's public key from the nats-public-nkeys Secret; each process its seed from a Secret of its own", () => {
        const { objects, pipeline } = get();
        const problems: string[] = [];
        const generated = (name: string) => objects.find((o) => o.kind === "Secret" && withoutHash(o.metadata.name) === name);
        const nats = find(objects, "StatefulSet", "nats")!.spec.template.spec.containers[0];
        const publicRef = (nats.envFrom ?? []).find((f: Obj) => f.secretRef)?.secretRef?.name;
        if (!publicRef || withoutHash(publicRef) !== "nats-public-nkeys") problems.push(`the NATS server gets no nats-public-nkeys Secret (${publicRef})`);
        const conf = objects.find((o) => o.kind === "ConfigMap" && withoutHash(o.metadata.name) === "nats-config")?.data?.["nats.conf"] ?? "";
        if (!conf.includes(natsAuthorization())) problems.push("the NATS server's nats.conf lacks the catalogue's authorization");
        const publicKeys = generated("nats-public-nkeys");
        for (const pod of podTemplates(objects)) {
          for (const container of pod.spec.containers) {
            const artifact = artifactOf(pipeline, container);
            const config = artifact && configs.get(artifact.workspace);
            if (!artifact || !config?.reads.has("NATS_URL")) continue;
            const name = artifact.workspace.replace(/^services\//, "");
            const at = describeWorkload(pod, container);
            const env = containerEnv(container, objects, problems, at);
            const file = env.get("NATS_NKEY_SEED_FILE")?.value;
            const mount = (container.volumeMounts ?? []).find((m: Obj) => file?.startsWith(`${m.mountPath}/`));
            const volume = mount && (pod.spec.volumes ?? []).find((v: Obj) => v.name === mount.name);
            if (!file || withoutHash(volume?.secret?.secretName ?? "") !== `nats-nkey-${name}`) {
              problems.push(`${at}: NATS_NKEY_SEED_FILE (${file}) is not a file of Secret nats-nkey-${name}`);
              continue;
            }
            // Where the overlay generates the keys (dev): the seed is the one whose public key the server lists.
            const secret = generated(`nats-nkey-${name}`);
            if (secret && publicKeys) {
              const seed = Buffer.from(secret.data[file.slice(mount.mountPath.length + 1)], "base64").toString().trim();
              const listed = Buffer.from(publicKeys.data[nkeyVariable(name)] ?? "", "base64").toString();
              if (fromSeed(new TextEncoder().encode(seed)).getPublicKey() !== listed) problems.push(`${at}: its seed is not the key the NATS server lists for ${name}`);
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("MongoDB and NATS JetStream keep their data on PersistentVolumeClaims", () => {
        const { objects } = get();
        const problems: string[] = [];
        const statefulSets = objects.filter((o) => o.kind === "StatefulSet");
        const byImage = (prefix: string) => statefulSets.filter((s) => s.spec.template.spec.containers.some((c: Obj) => c.image.startsWith(prefix)));
        expect(byImage("mongo:")).toHaveLength(1);
        expect(byImage("nats:")).toHaveLength(1);
        const claimMount = (set: Obj, path: string) => {
          const claims = (set.spec.volumeClaimTemplates ?? []).map((c: Obj) => c.metadata.name);
          const container = set.spec.template.spec.containers[0];
          return (container.volumeMounts ?? []).find((m: Obj) => claims.includes(m.name) && (path === m.mountPath || path.startsWith(`${m.mountPath}/`)));
        };
        for (const set of byImage("mongo:")) {
          const container = set.spec.template.spec.containers[0];
          const dbpath = /^--dbpath[= ](.+)$/.exec([...(container.args ?? [])].find((a: string) => a.startsWith("--dbpath")) ?? "")?.[1] ?? "/data/db";
          if (!claimMount(set, dbpath)) problems.push(`StatefulSet/${set.metadata.name}: dbpath ${dbpath} is not on a PersistentVolumeClaim`);
        }
        for (const set of byImage("nats:")) {
          const container = set.spec.template.spec.containers[0];
          const configIndex = (container.args ?? []).findIndex((a: string) => a === "--config" || a === "-c");
          const configPath = configIndex >= 0 ? container.args[configIndex + 1] : undefined;
          const config = configPath ? mountedConfig(set, container, configPath, objects) : undefined;
          if (!config) {
            problems.push(`StatefulSet/${set.metadata.name}: its --config file is not in a mounted ConfigMap`);
            continue;
          }
          if (!/^\s*jetstream\s*[{:]/m.test(config)) problems.push(`StatefulSet/${set.metadata.name}: JetStream is not enabled`);
          const storeDir = /^\s*store_dir\s*[:=]\s*"?([^"\s]+)"?/m.exec(config)?.[1];
          if (!storeDir || !claimMount(set, storeDir)) problems.push(`StatefulSet/${set.metadata.name}: JetStream store_dir ${storeDir} is not on a PersistentVolumeClaim`);
        }
        expect(problems).toEqual([]);
      });

      function mountedConfig(set: Obj, container: Obj, path: string, objects: Obj[]): string | undefined {
        const mount = (container.volumeMounts ?? []).find((m: Obj) => path.startsWith(`${m.mountPath}/`));
        const volume = mount && set.spec.template.spec.volumes.find((v: Obj) => v.name === mount.name);
        return volume?.configMap ? find(objects, "ConfigMap", volume.configMap.name)?.data?.[path.slice(mount.mountPath.length + 1)] : undefined;
      }

      test("workload selectors match their pod templates; Ingress backends exist", () => {
        const { objects } = get();
        const problems: string[] = [];
        for (const o of objects.filter((x) => ["Deployment", "StatefulSet"].includes(x.kind))) {
          if (!selects(o.spec.selector?.matchLabels, o.spec.template.metadata.labels)) problems.push(`${o.kind}/${o.metadata.name}: selector does not match its template`);
        }
        for (const ingress of objects.filter((x) => x.kind === "Ingress")) {
          for (const rule of ingress.spec.rules ?? []) {
            for (const path of rule.http?.paths ?? []) {
              const backend = path.backend.service;
              const service = find(objects, "Service", backend.name);
              const port = service?.spec.ports?.find((p: Obj) => p.name === backend.port.name || p.port === backend.port.number);
              if (!port) problems.push(`Ingress/${ingress.metadata.name}: backend ${backend.name}:${backend.port.name ?? backend.port.number} does not exist`);
            }
          }
        }
        expect(problems).toEqual([]);
      });

      test("every catalogued service is deployed under its name at its port behind a headless Service, and every deployed service is catalogued", () => {
        const { objects } = get();
        const problems: string[] = [];
        const upstreams: Record<string, string> = objects.find((o) => o.kind === "ConfigMap" && withoutHash(o.metadata.name) === "chirp-upstreams")?.data ?? {};
        for (const { name, port } of SERVICES) {
          for (const kind of ["ServiceAccount", "Service", "Deployment", "PodDisruptionBudget"]) {
            const object = find(objects, kind, name);
            if (!object) problems.push(`${name}: no ${kind} ${name} (services/${name}/k8s)`);
            else if (object.metadata.labels?.["app.kubernetes.io/component"] !== "service") problems.push(`${kind}/${name}: not labelled app.kubernetes.io/component: service`);
          }
          const service = find(objects, "Service", name);
          if (service && !service.spec.ports?.some((p: Obj) => p.name === "grpc" && p.port === port)) problems.push(`Service/${name}: no port grpc ${port}, the catalogue's`);
          // Its callers balance over its pods, which they find by its name (kit/src/grpc/replicas.ts).
          if (service && service.spec.clusterIP !== "None") problems.push(`Service/${name}: not headless (clusterIP: None), so its callers would see one address`);
          const container = find(objects, "Deployment", name)?.spec.template.spec.containers[0];
          if (container && container.image !== `chirp-${name}`) problems.push(`Deployment/${name}: runs ${container.image}, not chirp-${name}`);
          // Where the gateway (which reads chirp-upstreams whole) and the services that call it find it.
          if (upstreams[addressVariable(name)] !== `${name}:${port}`) problems.push(`ConfigMap chirp-upstreams: ${addressVariable(name)} is not ${name}:${port}`);
        }
        for (const deployment of objects.filter((o) => o.kind === "Deployment" && o.metadata.labels?.["app.kubernetes.io/component"] === "service")) {
          if (!SERVICES.some((s) => s.name === deployment.metadata.name)) problems.push(`Deployment/${deployment.metadata.name}: a service the catalogue does not list`);
        }
        expect(problems).toEqual([]);
      });

      test("skaffold forwards every port of the gateway Service, and in dev the Jaeger and Prometheus UIs, each to the same local port", () => {
        const { objects, pipeline } = get();
        const gateway = find(objects, "Service", "gateway");
        const forwarded = pipeline.portForward.map((f: Obj) => {
          const service = f.resourceType?.toLowerCase() === "service" ? find(objects, "Service", f.resourceName) : undefined;
          if (!service?.spec.ports?.some((p: Obj) => p.port === f.port)) throw new Error(`portForward ${f.resourceName}:${f.port} names no Service port of ${pipeline.overlay}`);
          return `${f.resourceName}:${f.port}->${f.localPort}`;
        });
        const uis = name === "default" ? ["jaeger:16686->16686", "prometheus:9090->9090"] : [];
        expect(forwarded.sort()).toEqual([...gateway!.spec.ports.map((p: Obj) => `gateway:${p.port}->${p.port}`), ...uis].sort());
      });

      test("pods get no API token, but Prometheus: a projected token, and a Role that only reads pods in its namespace", () => {
        const { objects } = get();
        const problems: string[] = [];
        const withToken = podTemplates(objects).filter((pod) =>
          (pod.spec.volumes ?? []).some((v: Obj) => (v.projected?.sources ?? []).some((source: Obj) => source.serviceAccountToken)),
        );
        const expected = name === "default" ? ["Deployment/prometheus"] : [];
        expect(withToken.map((pod) => `${pod.workload.kind}/${pod.workload.metadata.name}`)).toEqual(expected);
        for (const pod of withToken) {
          // Only the container that needs it mounts it, read-only, where in-cluster clients look.
          for (const container of allContainers(pod)) {
            const mounts = (container.volumeMounts ?? []).filter((m: Obj) => (pod.spec.volumes ?? []).find((v: Obj) => v.name === m.name)?.projected);
            if (container.name !== "prometheus" && mounts.length > 0) problems.push(`${describeWorkload(pod, container)}: mounts the API token`);
            for (const mount of mounts) {
              if (mount.mountPath !== "/var/run/secrets/kubernetes.io/serviceaccount" || mount.readOnly !== true) problems.push(`${describeWorkload(pod, container)}: token mounted at ${mount.mountPath}, readOnly ${mount.readOnly}`);
            }
          }
          const account = pod.spec.serviceAccountName;
          const bindings = objects.filter((o) => ["RoleBinding", "ClusterRoleBinding"].includes(o.kind) && (o.subjects ?? []).some((s: Obj) => s.kind === "ServiceAccount" && s.name === account));
          if (bindings.some((b) => b.kind === "ClusterRoleBinding" || b.roleRef.kind !== "Role")) problems.push(`ServiceAccount ${account}: bound beyond its namespace`);
          const rules = bindings.flatMap((b) => find(objects, "Role", b.roleRef.name)?.rules ?? []);
          if (rules.length === 0) problems.push(`ServiceAccount ${account}: no Role bound, so pod discovery would be refused`);
          for (const rule of rules) {
            const reads = JSON.stringify(rule.apiGroups) === JSON.stringify([""]) && JSON.stringify(rule.resources) === JSON.stringify(["pods"]);
            if (!reads || rule.verbs.some((verb: string) => !["get", "list", "watch"].includes(verb))) problems.push(`Role: a rule beyond reading pods: ${JSON.stringify(rule)}`);
          }
        }
        expect(problems).toEqual([]);
      });

      test("every Chirp process is scraped: its annotations name its metrics port, METRICS_PORT, and Prometheus (dev) keeps pods by them", () => {
        const { objects, pipeline } = get();
        const problems: string[] = [];
        for (const pod of podTemplates(objects)) {
          const container = pod.spec.containers.find((c: Obj) => artifactOf(pipeline, c));
          if (!container) continue;
          const at = describeWorkload(pod, container);
          const annotations: Obj = pod.workload.spec.template.metadata.annotations ?? {};
          const port = (container.ports ?? []).find((p: Obj) => p.name === "metrics");
          const configured = containerEnv(container, objects, problems, at).get("METRICS_PORT")?.value;
          if (annotations["prometheus.io/scrape"] !== "true") problems.push(`${at}: not annotated prometheus.io/scrape: "true"`);
          if (!port || annotations["prometheus.io/port"] !== String(port.containerPort) || configured !== String(port.containerPort)) {
            problems.push(`${at}: prometheus.io/port ${annotations["prometheus.io/port"]}, metrics port ${port?.containerPort}, METRICS_PORT ${configured} differ`);
          }
          if (annotations["prometheus.io/path"] !== "/metrics") problems.push(`${at}: prometheus.io/path is not /metrics`);
        }
        const config = objects.find((o) => o.kind === "ConfigMap" && withoutHash(o.metadata.name) === "prometheus-config");
        if (name === "default") {
          const prometheus = find(objects, "Deployment", "prometheus");
          const volume = prometheus?.spec.template.spec.volumes.find((v: Obj) => v.configMap);
          if (!config || volume?.configMap.name !== config.metadata.name) problems.push("Prometheus does not mount the prometheus-config ConfigMap");
          const scrape = parse(config?.data?.["prometheus.yml"] ?? "{}").scrape_configs?.[0] ?? {};
          if (scrape.kubernetes_sd_configs?.[0]?.role !== "pod") problems.push("Prometheus does not discover pods");
          const keeps = (scrape.relabel_configs ?? []).filter((r: Obj) => r.action === "keep").map((r: Obj) => `${r.source_labels.join(",")}=${r.regex}`);
          expect(keeps).toEqual(["__meta_kubernetes_pod_annotation_prometheus_io_scrape=true", "__meta_kubernetes_pod_container_port_name=metrics"]);
        } else if (config || find(objects, "Deployment", "prometheus") || find(objects, "Deployment", "jaeger")) {
          problems.push("prod deploys the development Jaeger or Prometheus");
        }
        expect(problems).toEqual([]);
      });

      test("traces go to the dev overlay's Jaeger over OTLP/HTTP, from every Chirp process; prod sets no endpoint of its own", () => {
        const { objects, pipeline } = get();
        const endpoints = new Set<string | undefined>();
        for (const pod of podTemplates(objects)) {
          for (const container of pod.spec.containers.filter((c: Obj) => artifactOf(pipeline, c))) {
            endpoints.add(containerEnv(container, objects, [], describeWorkload(pod, container)).get("OTEL_EXPORTER_OTLP_ENDPOINT")?.value);
          }
        }
        expect([...endpoints]).toEqual([name === "default" ? "http://jaeger:4318" : undefined]);
        if (name === "default") {
          const jaeger = find(objects, "Service", "jaeger");
          expect(jaeger?.spec.ports.map((p: Obj) => `${p.name}:${p.port}`).sort()).toEqual(["otlp-grpc:4317", "otlp-http:4318", "ui:16686"]);
        }
      });

      if (name === "default") {
        test("dev: one replica each, demo data, and a generated key pair the users service signs with and the gateway verifies", () => {
          const { objects, pipeline } = get();
          for (const o of objects.filter((x) => ["Deployment", "StatefulSet"].includes(x.kind))) expect([o.kind, o.metadata.name, o.spec.replicas ?? 1]).toEqual([o.kind, o.metadata.name, 1]);
          expect(objects.filter((o) => o.kind === "Job" && o.metadata.labels?.["app.kubernetes.io/component"] === "demo-data")).toHaveLength(1);
          // The tokens, end to end: each process's own config, loaded from what its manifest gives it.
          const configFor = (workspace: string) => {
            const pod = podTemplates(objects).find((p) => p.spec.containers.some((c: Obj) => artifactOf(pipeline, c)?.workspace === workspace))!;
            const container = pod.spec.containers.find((c: Obj) => artifactOf(pipeline, c)?.workspace === workspace);
            const env: Record<string, string | undefined> = { NODE_ENV: "production" };
            for (const [variable, { value }] of containerEnv(container, objects, [], workspace)) {
              env[variable] = variable.endsWith("_FILE") && value ? writeTemp(mountedFile(pod, container, value, objects)!) : value;
            }
            return require(join(ROOT, workspace, "src/config.ts")).loadConfig(env);
          };
          const writeTemp = (content: string) => {
            const file = join(get().workdir, `key-${Math.random().toString(36).slice(2)}.pem`);
            writeFileSync(file, content);
            return file;
          };
          const users = configFor("services/users");
          const gateway = configFor("gateway");
          const signer = new TokenSigner(parseSigningKey(users.auth.signingKeyPem), { ...users.tokens, ttlSeconds: users.auth.tokenTtlSeconds });
          const verifier = new TokenVerifier(gateway.auth.publicKeysPem.map(parseVerificationKey), gateway.auth);
          expect(verifier.verify(signer.sign("user-1").token).sub).toBe("user-1");
        });
      } else {
        test("prod: two or more replicas with disruption budgets, raised resources, no demo data, key Secrets created beforehand", () => {
          const { objects, pipeline } = get();
          const dev = rendered.get("default")!;
          const problems: string[] = [];
          // Its one Job makes the services' MongoDB users; demo data belongs to dev only.
          const jobs = objects.filter((o) => o.kind === "Job" || o.kind === "CronJob").map((o) => `${o.kind}/${o.metadata.name}`);
          if (jobs.join() !== "Job/mongodb-users") problems.push(`renders ${jobs.join(", ")} (demo data belongs to dev only)`);
          // The Job gives every catalogued service a user, with the password its Deployment reads.
          const job = find(objects, "Job", "mongodb-users");
          const passwords = (job?.spec.template.spec.volumes ?? []).flatMap((v: Obj) => v.projected?.sources ?? []).map((source: Obj) => `${source.secret.name}>${source.secret.items[0].path}`);
          expect(passwords.sort()).toEqual(SERVICES.map((s) => `mongodb-password-${s.name}>${s.name}`).sort());
          for (const service of SERVICES) {
            const pod = podTemplates(objects).find((p) => p.workload.kind === "Deployment" && p.workload.metadata.name === service.name)!;
            const env = containerEnv(pod.spec.containers[0], objects, problems, service.name);
            expect([service.name, env.get("MONGODB_USERNAME")?.value]).toEqual([service.name, service.name]);
            const mount = pod.spec.containers[0].volumeMounts.find((m: Obj) => env.get("MONGODB_PASSWORD_FILE")?.value?.startsWith(`${m.mountPath}/`));
            expect([service.name, pod.spec.volumes.find((v: Obj) => v.name === mount?.name)?.secret?.secretName]).toEqual([service.name, `mongodb-password-${service.name}`]);
          }
          const budgets = objects.filter((o) => o.kind === "PodDisruptionBudget");
          for (const pod of podTemplates(objects)) {
            const container = pod.spec.containers.find((c: Obj) => artifactOf(pipeline, c));
            if (!container) continue;
            const where = describeWorkload(pod);
            if ((pod.workload.spec.replicas ?? 1) < 2) problems.push(`${where}: ${pod.workload.spec.replicas ?? 1} replica(s)`);
            const budget = budgets.find((b) => selects(b.spec.selector?.matchLabels, pod.labels));
            if (!budget) problems.push(`${where}: no PodDisruptionBudget`);
            else if (budget.spec.minAvailable !== undefined && Number(budget.spec.minAvailable) >= (pod.workload.spec.replicas ?? 1)) {
              problems.push(`${where}: its PodDisruptionBudget allows no eviction at all`);
            }
            const devContainer = podTemplates(dev.objects)
              .find((p) => p.workload.kind === pod.workload.kind && p.workload.metadata.name === pod.workload.metadata.name)
              ?.spec.containers.find((c: Obj) => c.name === container.name);
            const quantity = (c: Obj | undefined, kind: string, resource: string) => parseQuantity(c?.resources?.[kind]?.[resource]);
            for (const kind of ["requests", "limits"]) {
              for (const resource of ["cpu", "memory"]) {
                if (!(quantity(container, kind, resource) >= quantity(devContainer, kind, resource))) problems.push(`${where}: ${kind}.${resource} lower than in dev`);
              }
            }
            if (!(quantity(container, "requests", "cpu") > quantity(devContainer, "requests", "cpu") || quantity(container, "requests", "memory") > quantity(devContainer, "requests", "memory"))) {
              problems.push(`${where}: requests not raised over dev`);
            }
          }
          // The key Secrets are created beforehand with the names the dev overlay generates, as
          // k8s/README.md says.
          const readme = readText("k8s/README.md");
          for (const pod of podTemplates(objects)) {
            // A Secret cert-manager writes (a Certificate's secretName) is made in the cluster too.
            const issued = new Set(objects.filter((o) => o.kind === "Certificate").map((o) => o.spec.secretName));
            for (const volume of (pod.spec.volumes ?? []).filter((v: Obj) => v.secret && !find(objects, "Secret", v.secret.secretName) && !issued.has(v.secret.secretName))) {
              if (!readme.includes(volume.secret.secretName)) problems.push(`Secret ${volume.secret.secretName} is expected to exist but k8s/README.md does not say how to create it`);
            }
            for (const container of allContainers(pod)) {
              for (const ref of (container.envFrom ?? []).map((f: Obj) => f.secretRef?.name).filter((n: string | undefined) => n && !find(objects, "Secret", n))) {
                if (!readme.includes(ref)) problems.push(`Secret ${ref} is expected to exist but k8s/README.md does not say how to create it`);
              }
            }
          }
          expect(problems).toEqual([]);
        });

        test("prod: a 3-node NATS cluster with streams replicated 3 times, a 3-member MongoDB replica set written by majority, budgets, anti-affinity, autoscalers", () => {
          const { objects } = get();
          const problems: string[] = [];
          const config = (name: string) => objects.find((o) => o.kind === "ConfigMap" && withoutHash(o.metadata.name) === name)?.data ?? {};
          // NATS: three nodes routed to one another, started together.
          const nats = find(objects, "StatefulSet", "nats");
          if (nats?.spec.replicas !== 3) problems.push(`StatefulSet/nats: ${nats?.spec.replicas} replicas, not 3`);
          if (nats?.spec.podManagementPolicy !== "Parallel") problems.push("StatefulSet/nats: not started in parallel (an ordered start waits for a readiness that needs the others)");
          const natsConf: string = config("nats-config")["nats.conf"] ?? "";
          for (let i = 0; i < 3; i++) if (!natsConf.includes(`nats-route://nats-${i}.nats:6222`)) problems.push(`nats.conf: no route to nats-${i}`);
          if (!find(objects, "Service", "nats")?.spec.ports?.some((p: Obj) => p.port === 6222)) problems.push("Service/nats: no cluster port 6222");
          if (!nats?.spec.template.spec.containers[0].ports?.some((p: Obj) => p.containerPort === 6222)) problems.push("StatefulSet/nats: no container port 6222");
          if (config("chirp-common").STREAM_REPLICAS !== "3") problems.push("chirp-common: STREAM_REPLICAS is not 3");
          // MongoDB: a replica set, and connection strings that wait for a majority and retry.
          const mongodb = find(objects, "StatefulSet", "mongodb");
          if (mongodb?.spec.replicas !== 3) problems.push(`StatefulSet/mongodb: ${mongodb?.spec.replicas} replicas, not 3`);
          if (!mongodb?.spec.template.spec.containers[0].args?.includes("--replSet=rs0")) problems.push("StatefulSet/mongodb: not started as replica set rs0");
          const uri = new URL(config("chirp-backends").MONGODB_URI ?? "mongodb://none");
          for (const [key, value] of [["replicaSet", "rs0"], ["w", "majority"], ["retryWrites", "true"]]) {
            if (uri.searchParams.get(key!) !== value) problems.push(`MONGODB_URI: ${key} is not ${value}`);
          }
          if (!readText("k8s/README.md").includes("rs.initiate(")) problems.push("k8s/README.md does not show how the replica set is initiated");
          // Disruption budgets that keep a majority, and members on different nodes.
          for (const name of ["nats", "mongodb"]) {
            const budget = objects.find((o) => o.kind === "PodDisruptionBudget" && selects(o.spec.selector?.matchLabels, find(objects, "StatefulSet", name)?.spec.template.metadata.labels));
            if (budget?.spec.maxUnavailable !== 1) problems.push(`StatefulSet/${name}: no PodDisruptionBudget with maxUnavailable 1`);
            const required = find(objects, "StatefulSet", name)?.spec.template.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? [];
            if (!required.some((t: Obj) => t.topologyKey === "kubernetes.io/hostname")) problems.push(`StatefulSet/${name}: members may share a node`);
          }
          for (const deployment of objects.filter((o) => o.kind === "Deployment")) {
            const preferred = deployment.spec.template.spec.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
            if (!preferred.some((t: Obj) => t.podAffinityTerm?.topologyKey === "kubernetes.io/hostname")) problems.push(`Deployment/${deployment.metadata.name}: no anti-affinity`);
          }
          // Autoscalers for the gateway and the timeline, on Deployments that exist, never below two.
          for (const name of ["gateway", "timeline"]) {
            const hpa = objects.find((o) => o.kind === "HorizontalPodAutoscaler" && o.spec.scaleTargetRef?.name === name);
            if (!hpa) problems.push(`${name}: no HorizontalPodAutoscaler`);
            else {
              if (hpa.spec.scaleTargetRef.kind !== "Deployment" || !find(objects, "Deployment", name)) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: scales no Deployment ${name}`);
              if (!(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas)) problems.push(`HorizontalPodAutoscaler/${hpa.metadata.name}: min ${hpa.spec.minReplicas}, max ${hpa.spec.maxReplicas}`);
            }
          }
          expect(problems).toEqual([]);
        });
      }
    });

    test("both overlays were rendered", () => {
      expect([...rendered.keys()]).toEqual(PIPELINES.map((p) => p.name));
      for (const r of rendered.values()) expect(r.objects.length).toBeGreaterThan(0);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// NetworkPolicies, evaluated as the Kubernetes API defines them

/** A pod template of the rendered objects, or a peer outside the namespace (DNS, the ingress controller, any address). */
interface NetworkNode {
  name: string;
  labels: Record<string, string>;
  /** Labels of its namespace; undefined for an address outside the cluster. */
  namespace: Record<string, string> | undefined;
  inNamespace: boolean;
  ports: Array<{ name?: string; port: number; protocol: string }>;
}

const NAMESPACE = { "kubernetes.io/metadata.name": "chirp" };

function networkNodes(objects: Obj[]): NetworkNode[] {
  const pods = podTemplates(objects).map((pod) => ({
    name: pod.labels["app.kubernetes.io/name"] ?? pod.workload.metadata.name,
    labels: pod.labels,
    namespace: NAMESPACE,
    inNamespace: true,
    ports: (pod.spec.containers ?? []).flatMap((c: Obj) => (c.ports ?? []).map((p: Obj) => ({ name: p.name, port: p.containerPort, protocol: p.protocol ?? "TCP" }))),
  }));
  return [
    ...pods,
    { name: "kube-dns", labels: { "k8s-app": "kube-dns" }, namespace: { "kubernetes.io/metadata.name": "kube-system" }, inNamespace: false, ports: [{ port: 53, protocol: "UDP" }, { port: 53, protocol: "TCP" }] },
    { name: "ingress-controller", labels: { "app.kubernetes.io/name": "ingress-nginx" }, namespace: { "kubernetes.io/metadata.name": "ingress-nginx" }, inNamespace: false, ports: [] },
    // Any address beyond the cluster's pods: the Kubernetes API, the internet.
    { name: "outside", labels: {}, namespace: undefined, inNamespace: false, ports: [80, 443, 6443].map((port) => ({ port, protocol: "TCP" })) },
  ];
}

/** A label selector (matchLabels and matchExpressions); an empty one selects everything. */
function matchesSelector(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [key, value] of Object.entries<string>(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = key in labels;
    if (operator === "In" && !(has && values.includes(labels[key]))) return false;
    if (operator === "NotIn" && has && values.includes(labels[key])) return false;
    if (operator === "Exists" && !has) return false;
    if (operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** Whether a policy's peer (from or to) is this node. */
function peerMatches(peer: Obj, node: NetworkNode): boolean {
  if (peer.ipBlock) return node.namespace === undefined;
  if (node.namespace === undefined) return false;
  if (peer.namespaceSelector) return matchesSelector(peer.namespaceSelector, node.namespace) && matchesSelector(peer.podSelector, node.labels);
  return node.inNamespace && matchesSelector(peer.podSelector, node.labels);
}

function portMatches(rulePorts: Obj[] | undefined, target: NetworkNode, port: { name?: string; port: number; protocol: string }): boolean {
  if (!rulePorts || rulePorts.length === 0) return true;
  return rulePorts.some((p) => (p.protocol ?? "TCP") === port.protocol && (p.port === undefined || p.port === port.port || (typeof p.port === "string" && p.port === port.name)));
}

/** Whether the policies of the namespace let `node` send (egress) to or receive (ingress) from `peer` on `port`. */
function permits(policies: Obj[], direction: "Ingress" | "Egress", node: NetworkNode, peer: NetworkNode, target: NetworkNode, port: { name?: string; port: number; protocol: string }): boolean {
  // Only the namespace's own pods are governed by its policies.
  if (!node.inNamespace) return true;
  const applying = policies.filter((p) => matchesSelector(p.spec.podSelector, node.labels) && (p.spec.policyTypes ?? ["Ingress"]).includes(direction));
  if (applying.length === 0) return true;
  const rules = applying.flatMap((p) => (direction === "Ingress" ? p.spec.ingress : p.spec.egress) ?? []);
  return rules.some((rule: Obj) => {
    const peers: Obj[] | undefined = direction === "Ingress" ? rule.from : rule.to;
    return (!peers || peers.length === 0 || peers.some((p) => peerMatches(p, peer))) && portMatches(rule.ports, target, port);
  });
}

/** Every flow the policies allow between the nodes, to the ports the destination listens on. */
function allowedFlows(nodes: NetworkNode[], policies: Obj[]): Set<string> {
  const flows = new Set<string>();
  for (const from of nodes) {
    for (const to of nodes) {
      if (!from.inNamespace && !to.inNamespace) continue;
      for (const port of to.ports) {
        if (permits(policies, "Egress", from, to, to, port) && permits(policies, "Ingress", to, from, to, port)) flows.add(`${from.name} -> ${to.name}:${port.port}/${port.protocol}`);
      }
    }
  }
  return flows;
}
