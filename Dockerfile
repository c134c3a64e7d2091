# syntax=docker/dockerfile:1
# nuget-proxy container image: build the TypeScript in one stage, run the compiled JavaScript with
# production dependencies only in the next. Node's version matches the one CI tests with.
# npm's download cache is a BuildKit cache mount, so it never ends up in an image layer.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /src/dist ./dist
# The cache is a volume owned by the unprivileged user (uid 1000 is the image's `node` user).
RUN mkdir -p /data && chown 1000:1000 /data
# One serving process per container: containers scale by replicas (the CLI's own default, auto, is for
# VM installs; set NUGET_PROXY_WORKERS=auto to use a container's CPUs instead).
ENV NUGET_PROXY_HOST=0.0.0.0 \
    NUGET_PROXY_PORT=5555 \
    NUGET_PROXY_CACHE_DIR=/data \
    NUGET_PROXY_WORKERS=1
VOLUME ["/data"]
USER 1000:1000
EXPOSE 5555
# No curl or wget in slim images: node's fetch does the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.NUGET_PROXY_PORT || 5555) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The heap setting is nuget-proxy's own (src/cluster/node-flags.ts; a test keeps the two in step).
ENTRYPOINT ["node", "--initial-old-space-size=64", "/app/dist/src/cli/nuget-proxy.js"]
CMD ["serve"]
