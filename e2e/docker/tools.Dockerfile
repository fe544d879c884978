# Test helper image for e2e/docker.sh: python3 (the demo API) and curl (the client).
ARG BASE=apitap-base:bookworm
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/*
