#!/usr/bin/env bash
# Builds a Debian bookworm base image without any image registry:
# `debootstrap --variant=minbase` (Debian's package mirror) piped into `docker import`.
# Cached: does nothing when the image exists. Usage: e2e/docker/base.sh [IMAGE]
# (default apitap-base:bookworm; MIRROR overrides http://deb.debian.org/debian).
set -euo pipefail
IMAGE="${1:-apitap-base:bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
if docker image inspect "$IMAGE" > /dev/null 2>&1; then
    echo "base image $IMAGE exists"
    exit 0
fi
if ! command -v debootstrap > /dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap > /dev/null
fi
ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/apitap-rootfs.XXXXXX")"
trap 'rm -rf "$ROOTFS"' EXIT
echo "debootstrap bookworm into $ROOTFS (a few minutes)"
debootstrap --variant=minbase bookworm "$ROOTFS" "$MIRROR" > "$ROOTFS.log" 2>&1 || {
    tail -20 "$ROOTFS.log" >&2
    exit 1
}
rm -f "$ROOTFS.log"
# Small image: no apt lists or caches; apt-get update in derived images fetches them again.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
tar -C "$ROOTFS" -c . | docker import \
    -c 'ENV LANG=C.UTF-8' -c 'CMD ["/bin/bash"]' - "$IMAGE" > /dev/null
echo "imported $IMAGE"
