# callguard container image. Multi-stage: build with dev dependencies, run with production
# dependencies only, as the unprivileged `node` user (uid 1000) of the official image.
#
#   docker build -t callguard:0.1.0 .
#   docker run --rm -p 50051:50051 -p 9090:9090 -v "$PWD/policies:/app/policies:ro" callguard:0.1.0
#
# The same image runs the docker-compose demo's function endpoint and identity provider
# (`callguard demo endpoint`, `callguard demo idp`); see docs/operations.md.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.ui.json ./
COPY src ./src
COPY protos ./protos
RUN npm run build

FROM node:20-slim AS runtime
ENV NODE_ENV=production \
    CALLGUARD_GRPC_ADDR=0.0.0.0:50051 \
    CALLGUARD_ADMIN_ADDR=0.0.0.0:9090
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY protos ./protos
# The example policy; mount your own over /app/policies (or set CALLGUARD_POLICIES).
COPY policies ./policies
USER node
EXPOSE 50051 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
