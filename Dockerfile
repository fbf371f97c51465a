# syntax=docker/dockerfile:1
# ckansync container image: one image with the three programs
# (ckansync, ckansync-producer, ckansync-consumer), used by compose.yaml.
#   build:   Debian bookworm with the build packages script/bootstrap installs
#            (compiler, CMake, pkg-config and the -dev packages), builds the
#            programs and runs the C unit tests (not the script tests, which
#            need more tools, nor the docs check: docs/ is not copied);
#   runtime: bookworm-slim with only the shared libraries, curl for the
#            health check, and an unprivileged user.
# script/check-compose checks that the build packages match script/bootstrap.

FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      librdkafka-dev libavro-dev libpq-dev uuid-dev libcmocka-dev libjansson-dev libmicrohttpd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY schemas schemas
COPY common common
COPY cli cli
COPY producer producer
COPY consumer consumer
COPY tests tests
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
 && cmake --build /build -j"$(nproc)" \
 && cd /build && ctest -L unit --output-on-failure -E '[.](sh|py)$|test_config_doc'

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libavro23 libpq5 libuuid1 libjansson4 libmicrohttpd12 curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin ckansync
COPY --from=build /build/ckansync /build/ckansync-producer /build/ckansync-consumer /usr/local/bin/
COPY deploy/entrypoint.sh /usr/local/bin/ckansync-entrypoint
USER ckansync
EXPOSE 9400
ENTRYPOINT ["ckansync-entrypoint"]
CMD ["ckansync", "--help"]
