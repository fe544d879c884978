# apitap agent image: multi-stage, small Debian runtime with libpcap, non-root user whose
# binary carries only the CAP_NET_RAW file capability.
#
# Base images are build arguments, so the image also builds without an image registry
# (e.g. from a Debian base made with debootstrap + `docker import`, see e2e/docker/base.sh):
#
#   # with a registry: compile inside the image
#   docker build -t apitap .
#   # without one: compile on the host, copy the binary in
#   cargo build --profile dist -p apitap && mkdir -p target/docker && cp target/dist/apitap target/docker/
#   docker build -t apitap --build-arg BINARY_SOURCE=prebuilt \
#       --build-arg BUILD_IMAGE=apitap-base:bookworm --build-arg RUNTIME_IMAGE=apitap-base:bookworm .
#
# BINARY_SOURCE=build (default) runs `cargo build --profile dist` in BUILD_IMAGE (a Rust image;
# `dist` is release with whole-program LTO, see Cargo.toml);
# BINARY_SOURCE=prebuilt takes target/docker/apitap from the build context (built against the same
# Debian release as RUNTIME_IMAGE, for a matching glibc and libpcap). One stage handles both,
# so the classic builder (which builds every stage) works too.
#
# Run as a sidecar sharing the application's network namespace:
#   docker run --net=container:APP --cap-drop ALL --cap-add NET_RAW apitap agent --filter 'tcp port 8080'
# Only CAP_NET_RAW is needed (packet sockets). `--netns` (joining another namespace from the
# host) additionally needs CAP_SYS_ADMIN and the namespace file mounted; promiscuous capture
# is never enabled, so CAP_NET_ADMIN is not needed.

ARG BUILD_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS binary
ARG BINARY_SOURCE=build
WORKDIR /src
COPY . /src
RUN set -eu; \
    if [ "$BINARY_SOURCE" = prebuilt ]; then \
        install -m 0755 /src/target/docker/apitap /apitap; \
    else \
        apt-get update && apt-get install -y --no-install-recommends libpcap-dev pkg-config; \
        cargo build --profile dist --locked -p apitap; \
        install -m 0755 target/dist/apitap /apitap; \
        strip /apitap; \
    fi

FROM ${RUNTIME_IMAGE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpcap0.8 libcap2-bin; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*; \
    groupadd --gid 10001 apitap; \
    useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin apitap
COPY --from=binary /apitap /usr/local/bin/apitap
# File capability: the non-root user can open packet sockets, nothing more.
RUN setcap cap_net_raw+ep /usr/local/bin/apitap && getcap /usr/local/bin/apitap
USER 10001:10001
ENV APITAP_LISTEN=0.0.0.0:9464 \
    APITAP_LOG=info
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/apitap", "healthcheck", "--addr", "127.0.0.1:9464"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/apitap"]
CMD ["agent"]
