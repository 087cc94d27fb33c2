# syntax=docker/dockerfile:1
# fhir-assess container image: one image, two roles (CMD "serve" = HTTP API, "worker" = BullMQ worker).
#   docker build -t fhir-assess .
#   docker run --rm -p 8080:8080 -e FHIR_BASE_URL=... -e REDIS_URL=... fhir-assess serve

ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------- build stage
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# 1) Dependencies first, from the manifests only, so this layer is reused until they change.
#    `npm install`, not `npm ci`: the lockfile is written on a dev machine and can lack the
#    platform-specific optional packages (e.g. @msgpackr-extract/*-linux-*), which npm ci rejects.
#    --ignore-scripts: our own `prepare` script runs `tsc`, and src/ is not copied yet; it also skips
#    dependencies' install scripts (native rebuilds of optional/dev packages; prebuilt binaries come
#    as optional packages and the native ones used at run time have pure-JS fallbacks).
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm install --ignore-scripts --no-audit --no-fund

# 2) Compile TypeScript (tsc -p tsconfig.json -> dist/).
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# 3) Drop devDependencies (typescript, vitest, biome, testcontainers, ...).
RUN npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---------------------------------------------------------------- runtime stage
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Files stay owned by root and read-only for the process; the app writes nothing to disk.
# Least-often-changed layers first.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY data ./data
COPY fhir-profiles ./fhir-profiles
COPY --from=build /app/dist ./dist

# The official node image's unprivileged user (uid 1000).
USER node

EXPOSE 8080

# /healthz of the HTTP API; uses Node's built-in fetch (no curl in the slim image). Honours PORT
# (default 8080). The "worker" role serves no HTTP: docker-compose.yml disables this check there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
