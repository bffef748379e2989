# syntax=docker/dockerfile:1
# modelfleet's server as an image: the same entry as `npm start` (dist/scripts/serve.js), for
# Kubernetes, Knative, Cloud Run and the managed endpoints. Build and run: README, "Container image".
# Stages: `build` compiles TypeScript with the dev dependencies; `deps` installs the production
# dependencies only, with onnxruntime's linux-x64 CPU binaries and nothing else; the final stage
# copies both, owned by root and read-only to the unprivileged user that runs the server.

# Pinned: a rebuild gets the same Node.js. Override with --build-arg NODE_IMAGE=... (keep it x64 slim).
ARG NODE_IMAGE=node:22.20.0-bookworm-slim

FROM --platform=linux/amd64 ${NODE_IMAGE} AS build
WORKDIR /src
# No install script runs (.npmrc ignore-scripts): onnxruntime-node's would download CUDA files.
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY functions ./functions
COPY scripts ./scripts
COPY samples ./samples
RUN npm run build

FROM --platform=linux/amd64 ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; then the binaries of other platforms and the browser runtime
# (onnxruntime-web, used by the edge build, never by the server) are dropped.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin \
           node_modules/onnxruntime-node/bin/napi-v6/win32 \
           node_modules/onnxruntime-node/bin/napi-v6/linux/arm64 \
           node_modules/onnxruntime-web \
 && npm cache clean --force

FROM --platform=linux/amd64 ${NODE_IMAGE}
# HOST=0.0.0.0 only here: outside the image the server binds 127.0.0.1. A deployed stage (not
# `local`) requires credentials (API_KEYS or JWT settings) and never exposes internals in errors.
# The artifact cache lives in /tmp: with a read-only root filesystem, mount a tmpfs or emptyDir there.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    MODELFLEET_STAGE=prod \
    MODEL_REPOSITORY=/models \
    SAMPLES=off \
    ARTIFACT_CACHE_DIR=/tmp/modelfleet-cache
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY --from=build /src/samples ./samples
COPY package.json ./
# The `node` user of the base image, by number so that Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "dist/scripts/healthcheck.js"]
# `docker run <image>` and `docker run <image> serve` (SageMaker's form) start the same server;
# SIGTERM drains it within SHUTDOWN_GRACE_SECONDS (node is PID 1 and handles the signal itself).
ENTRYPOINT ["node", "dist/scripts/serve.js"]
CMD ["serve"]
