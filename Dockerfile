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
# The composes volume's mount point, owned by the user the roles run as: Docker initialises a new
# named volume mounted there from the image's directory, ownership included, so the worker can
# write in it (a root-owned volume failed every compose with `EACCES: mkdir`). docker-compose.yml's
# one-shot `composes-owner` service also sets it on volumes created before this line existed.
RUN mkdir -p /srv/odcs/composes && chown node:node /srv/odcs/composes
USER node
EXPOSE 5000
CMD ["odcs-frontend"]
