# One image per deployable Chirp workspace, all from this file:
#
#   docker build --build-arg SERVICE=services/users -t chirp-users .
#
# SERVICE is the workspace folder: a service's (services/<name>) or gateway; skaffold.yaml passes
# it for each artifact. Nothing here names a workspace, so a new service needs no line in this
# file. The build context is the repository root because the workspaces share one lock file and
# import packages/*.

ARG NODE_IMAGE=node:24-slim

# What `npm ci` needs to resolve the tree: the root manifest, the lock file, and a package.json
# for every workspace the lock file lists. The lock file records each workspace's name, version
# and dependencies, which is all npm reads of them here, so those manifests are written from it:
# the installs below depend on the lock file alone (and are reused until it changes), and a new
# workspace needs no line in this file. The real manifests come with the sources further down;
# k8s/test/manifests.test.ts checks that the lock file agrees with them.
FROM ${NODE_IMAGE} AS workspace-manifests
WORKDIR /app
COPY package.json package-lock.json ./
# The script is single-quoted on purpose: its ${folder} is JavaScript's, not the shell's.
# hadolint ignore=SC2016
RUN node -e 'const fs = require("node:fs"); \
  const { packages } = JSON.parse(fs.readFileSync("package-lock.json", "utf8")); \
  for (const [folder, manifest] of Object.entries(packages)) { \
    if (folder === "" || folder.includes("node_modules/")) continue; \
    fs.mkdirSync(folder, { recursive: true }); \
    fs.writeFileSync(`${folder}/package.json`, JSON.stringify(manifest, null, 2)); \
  }'

# Compiles the workspace and the packages it references (tsc -b follows the project
# references), plus the gateway's web client bundle.
FROM workspace-manifests AS build
# Everything up to the shared packages' compilation comes before ARG SERVICE, so these layers are
# the same for every image: built once, then reused from the cache by every artifact.
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages/ packages/
RUN npx tsc -b packages/*/
ARG SERVICE
RUN test -n "$SERVICE" || { echo "set --build-arg SERVICE=<workspace folder>, e.g. services/users" >&2; exit 1; }
# Only this workspace's sources: a change in another service does not rebuild this image.
COPY ${SERVICE}/ ${SERVICE}/
RUN npx tsc -b "$SERVICE" \
 && npm run --if-present --workspace "$SERVICE" build:web
# What the runtime needs of each workspace: its package.json (for "exports") and dist/.
RUN set -e; mkdir /out; \
    for dir in packages/* "$SERVICE"; do \
      if [ -d "$dir/dist" ]; then mkdir -p "/out/$dir" && cp -R "$dir/package.json" "$dir/dist" "/out/$dir/"; fi; \
    done; \
    test -f "/out/$SERVICE/dist/main.js" || { echo "$SERVICE/dist/main.js was not built" >&2; exit 1; }

# Production dependencies of the workspace and of the workspaces it depends on, nothing else.
# Install scripts are not needed by any of them at run time.
FROM workspace-manifests AS production-dependencies
ARG SERVICE
RUN npm ci --workspace "$SERVICE" --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production
WORKDIR /app
# The installed tree as npm left it (node_modules, and any workspace's own node_modules), then the
# compiled workspaces: node_modules/@chirp/* are links to ../../packages/* and ../../<workspace>.
COPY --from=production-dependencies /app/ ./
COPY --from=build /out/ ./
WORKDIR /app/${SERVICE}
# The image's node user, by number so that Kubernetes can check runAsNonRoot. The files stay
# owned by root: the process only reads them.
USER 1000:1000
# The ports depend on the workspace (a service's GRPC_PORT, the gateway's HTTP2_PORT 8080 and
# HTTP_PORT 8081); the Kubernetes manifests declare them.
CMD ["node", "--enable-source-maps", "dist/main.js"]
