# wcs-recorder on Node 22 / Debian bookworm with Debian's ffmpeg.
FROM node:22-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 (the record catalog) builds from source when no prebuilt binary can be downloaded
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json && touch dist/.build-stamp && npm prune --omit=dev

FROM node:22-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production WCS_HOME=/app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/src/web ./src/web
COPY package.json ./
COPY bin ./bin
COPY conf ./conf
RUN mkdir -p records logs
VOLUME ["/app/records"]
# HTTP (REST, WHIP, example page), RTMP, WebRTC media (media_port_from..media_port_to)
EXPOSE 8081 1935 31001-32000/udp
STOPSIGNAL SIGTERM
# tini as PID 1: reaps orphaned children (a hook's own children) and passes
# SIGTERM on to the daemon, which finishes every open recording before exiting.
# Give `docker stop` the time for that: docker stop -t 60 (or stop_grace_period: 60s).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["bin/wcs-recorder"]
