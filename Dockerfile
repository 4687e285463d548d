# One image for the five services (ingest, processors, publisher, opendata-api, console) and the
# simulator: the service is chosen by the command, e.g.
#   docker run … ondijon services/publisher/src/main.ts
# (docker-compose.yml does this for each). The services run their TypeScript sources through tsx, as
# `pnpm --filter … start` does; there is no separate compile step.
#
# NOT BUILT HERE: the machines this project is built on have no container engine and cannot reach an
# image registry for the base image. tools/devstack/test/dockerfile.test.ts checks what can be
# checked without building: every COPY source exists, every command of docker-compose.yml names a real
# entry point, the final stage runs as a non-root user from a Debian base.

# --- build: the workspace with its dependencies (pnpm store, lockfile) ---------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN npm install -g pnpm@10
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml .npmrc ./
COPY packages ./packages
COPY services ./services
COPY infra ./infra
COPY tools ./tools
COPY test/package.json ./test/package.json
RUN pnpm install --frozen-lockfile \
  && rm -rf /root/.local/share/pnpm /root/.cache /root/.npm

# --- runtime: Debian slim, Node.js 20, the workspace, no package manager cache, non-root -----------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ONDIJON_ENV=production
WORKDIR /app
COPY --from=build --chown=root:root /app /app
# The image's files are read-only to the service user (uid 1000 `node` of the base image); the state it
# writes goes to volumes (e.g. OPENDATA_DIR, PUBLISHER_STATE_DIR) mounted writable for it.
RUN mkdir -p /var/lib/ondijon && chown node:node /var/lib/ondijon
USER node
ENV OPENDATA_DIR=/var/lib/ondijon/opendata \
    PUBLISHER_STATE_DIR=/var/lib/ondijon/publisher
# Probes and listeners on every interface inside the container (the defaults are loopback).
ENV HTTP_HOST=0.0.0.0 PROBE_HOST=0.0.0.0 PUBLISHER_HOST=0.0.0.0 HOST=0.0.0.0
ENTRYPOINT ["node", "--max-semi-space-size=32", "--import", "tsx"]
CMD ["services/publisher/src/main.ts"]
