# One image per deployable Chirp workspace, all from this file:
#
#   docker build --build-arg SERVICE=services/users -t chirp-users .
#
# SERVICE is the workspace folder: services/users, services/tweets, services/graph,
# services/timeline or gateway (skaffold.yaml passes it for each artifact). The build context is
# the repository root because the workspaces share one lock file and import packages/*.

ARG NODE_IMAGE=node:24-slim

# Every workspace's package.json with the lock file: what `npm ci` needs to resolve the tree.
# All of them, because npm checks the lock file against every workspace it lists. Kept in a stage
# of its own so the installs below are reused until a manifest or the lock file changes.
FROM ${NODE_IMAGE} AS workspace-manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/proto/package.json packages/proto/
COPY packages/kit/package.json packages/kit/
COPY services/users/package.json services/users/
COPY services/tweets/package.json services/tweets/
COPY services/graph/package.json services/graph/
COPY services/timeline/package.json services/timeline/
COPY gateway/package.json gateway/
COPY mesh/package.json mesh/

# Compiles the workspace and the packages it references (tsc -b follows the project
# references), plus the gateway's web client bundle.
FROM workspace-manifests AS build
# Everything up to the shared packages' compilation comes before ARG SERVICE, so these layers are
# the same for all five images: built once, then reused from the cache by every artifact.
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
# The ports depend on the workspace (GRPC_PORT 50051 to 50054; the gateway's HTTP2_PORT 8080 and
# HTTP_PORT 8081); the Kubernetes manifests declare them.
CMD ["node", "--enable-source-maps", "dist/main.js"]
