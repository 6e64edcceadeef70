# One image for every role; docker-compose.yml picks the command.
FROM node:20-bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      createrepo-c rpm libmodulemd-tools xorriso zstd xz-utils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/odcs
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev
ENV PATH=/opt/odcs/bin:$PATH
USER node
EXPOSE 5000
CMD ["odcs-frontend"]
