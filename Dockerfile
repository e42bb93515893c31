# syntax=docker/dockerfile:1
# breakglass: the Slack bot (HTTP mode on $PORT, POST /slack/events) and its CLI.
#
#   docker build -t breakglass .
#   docker run -p 3000:3000 -v breakglass-data:/data \
#     -v "$PWD/access.yml:/app/access.yml:ro" \
#     -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET breakglass
# CLI: on Postgres, `docker exec <container> node bin/breakglass.js <command>` beside the bot;
# on the embedded database (one process at a time) stop the bot and run it in a one-off container.
#
# Built on the current Node LTS: Node 20 (which the code still supports) is past end of life.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---- build: compile TypeScript to dist/ -----------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first, so source edits reuse the cached npm layer.
COPY package.json package-lock.json ./
# npm ci's postinstall applies patches/ (a postgres.js fix, see README).
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DATA_DIR=/data \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# Code stays owned by root: the process can write only to /data.
COPY --from=build /app/dist ./dist
COPY drizzle ./drizzle
COPY bin ./bin
COPY access.example.yml ./
# Embedded PGlite database (used when DATABASE_URL is unset). Created before VOLUME so a new
# named volume inherits the node user's ownership.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
# /healthz answers 200 only while the database is reachable. No curl in slim images; Node's
# fetch does the job.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node runs as PID 1, which gets no default SIGTERM handling: main.ts must handle SIGTERM
# (stop workers, close the database) or run the container with --init.
# --max-semi-space-size=2: V8's young generation grows to 16 MB semi-spaces under load and keeps
# them; at 2 MB the bot's idle memory was about 30 MB lower with no longer ack tail (npm run bench, rss).
CMD ["node", "--max-semi-space-size=2", "dist/main.js"]
