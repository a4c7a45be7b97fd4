# One image per service, from the whole workspace:
#   docker build --build-arg SERVICE=query -t ghcr.io/atoll-dev/query:0.1.0 .
# SERVICE is one of query, indexer, scheduler, agent, cli.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY patches patches
COPY proto proto
COPY libs libs
COPY services services
COPY tests/package.json tests/package.json
# npm install rather than npm ci: the lockfile is written on linux-x64 and npm ci refuses the
# optional binaries of other platforms that it lists.
RUN npm install --no-audit --no-fund
ARG SERVICE
RUN test -n "$SERVICE" && npx turbo run build --filter="@atoll/${SERVICE}..." \
  && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ARG SERVICE
ENV NODE_ENV=production SERVICE=${SERVICE}
WORKDIR /app
COPY --from=build /src /app
# The manifests run every container as this non-root user with a read-only root filesystem.
USER 10001
CMD ["sh", "-c", "exec node services/$SERVICE/dist/main.js"]
