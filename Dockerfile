# syntax=docker/dockerfile:1.7
# One image for every part of the Flash Sale Engine: operator (default), gateway, processor and the flashsale CLI.
# The code is TypeScript run directly by Node 24 (type stripping): there is no build step, only production deps and
# Node's compile cache of the parts, filled at build time (below).
#
#   docker build -t flash-sale-engine:dev .
#   docker run --rm flash-sale-engine:dev                                   # the operator
#   docker run --rm -p 8080:8080 flash-sale-engine:dev node gateway/src/main.ts
#   docker run --rm flash-sale-engine:dev node processor/src/main.ts
#
# PID 1: tini is the ENTRYPOINT, so signals are forwarded to Node and zombies are reaped. In Kubernetes, set the
# part with `args` (which replaces CMD and keeps the ENTRYPOINT); a `command` replaces tini too, so write it as
# ["/usr/bin/tini", "--", "node", "gateway/src/main.ts"] (what the chart passes to the operator as default commands).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- deps: production dependencies of every workspace, from the lock file --------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
# Every workspace's package.json must be present: npm ci checks the lock against all of them.
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY gateway/package.json gateway/
COPY processor/package.json processor/
COPY operator/package.json operator/
COPY cli/package.json cli/
COPY e2e/package.json e2e/
COPY bench/package.json bench/
COPY tools/harness/package.json tools/harness/
# Then what never runs here: the links of the workspaces the image leaves out (e2e, bench, tools/harness), type
# declarations (@types/* that @kubernetes/client-node lists as dependencies, *.d.ts: Node strips types without reading
# them) and source maps.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/.cache node_modules/@types \
      node_modules/@flashsale/e2e node_modules/@flashsale/bench node_modules/@flashsale/harness \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

# ---- tini -------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS tini
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

# ---- runtime ----------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="flash-sale-engine" \
      org.opencontainers.image.description="Flash Sale Engine: operator, gateway, processor and CLI (Node 24)" \
      org.opencontainers.image.licenses="MIT"
# kafkajs 2.2.4 schedules timers with negative delays on Node >= 24: a harmless TimeoutNegativeWarning that would
# print a non-JSON line on every start of a part that uses Kafka.
ENV NODE_ENV=production \
    NODE_OPTIONS="--disable-warning=ExperimentalWarning --disable-warning=TimeoutNegativeWarning"
WORKDIR /app
COPY --from=tini /usr/bin/tini-static /usr/bin/tini
# Dependencies first (they change less often than the code), then the sources. Workspace links in node_modules
# (node_modules/@flashsale/common -> ../../common) resolve to the copied sources.
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
# .nvmrc: cli/bin/flashsale and kubectl-flashsale read the pinned Node version from it
COPY --chown=0:0 package.json .nvmrc ./
COPY --chown=0:0 lua/ lua/
COPY --chown=0:0 common/ common/
COPY --chown=0:0 gateway/ gateway/
COPY --chown=0:0 processor/ processor/
COPY --chown=0:0 operator/ operator/
COPY --chown=0:0 cli/ cli/
COPY --chown=0:0 crds/ crds/
# Node's compile cache, filled here for the runtime user (it is kept per user, per V8 flags and per file content): a
# part started as the image starts it finds every module stripped of its types and compiled, and never loads Node's
# TypeScript stripper (about 18 MB resident per process; common/src/compile-cache.ts). Read-only at run time: a part
# started with other V8 flags (its V8_* settings changed) strips and compiles as without a cache.
ENV NODE_COMPILE_CACHE=/app/.node-compile-cache
RUN mkdir -p /app/.node-compile-cache && chown 10001:10001 /app/.node-compile-cache
USER 10001:10001
RUN --mount=type=bind,source=tools/warm-compile-cache.ts,target=/app/tools/warm-compile-cache.ts \
    node tools/warm-compile-cache.ts
# Files are owned by root and not writable by the runtime user (the cache above excepted); the root filesystem can be
# mounted read-only (only /tmp needs to be writable: mount an emptyDir there).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "operator/src/main.ts"]
