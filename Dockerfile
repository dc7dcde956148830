# claude-cli-gateway: Node LTS, slim, non-root, the Claude Code CLI installed by npm.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY routes ./routes
COPY providers ./providers
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    DATA_DIR=/app/data \
    CLAUDE_WORKDIR=/app/workspace
WORKDIR /app
# The CLI's sandbox for the subprocesses of Claude Code tools (TOOL_SANDBOX=1) needs bubblewrap and socat.
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap socat && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# Production dependencies only; this includes @anthropic-ai/claude-code (the CLI, pinned exactly).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY openapi.yaml ./
# The dashboard's static files (GET /).
COPY public ./public
RUN mkdir -p /app/data /app/workspace && chown -R node:node /app/data /app/workspace
USER node
EXPOSE 8787
# Binding 0.0.0.0 inside the container: set GATEWAY_API_KEYS before publishing the port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8787)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "dist/src/main.js"]
