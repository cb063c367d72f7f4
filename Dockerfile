# Multi-stage build: the weir host plus the compiled plugin components.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN rustup target add wasm32-wasip2 \
 && cargo install just --locked \
 && just plugin \
 && cargo build --release -p weir

FROM debian:bookworm-slim
# librdkafka is linked with OpenSSL (TLS/SASL); CA certificates for TLS brokers and feeds.
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/weir --create-home weir \
 && mkdir -p /data && chown weir /data
COPY --from=build /src/target/release/weir /usr/local/bin/weir
COPY --from=build /src/target/plugins /opt/weir/plugins
# Connector files are mounted at /opt/weir/connectors; checkpoints, the
# compiled-component cache and Parquet output live in volumes.
ENV WEIR_PLUGIN_DIR=/opt/weir/plugins \
    WEIR_STATE_DIR=/var/lib/weir/state \
    WEIR_CACHE_DIR=/var/lib/weir/cache
USER weir
WORKDIR /var/lib/weir
VOLUME ["/var/lib/weir"]
EXPOSE 9464
ENTRYPOINT ["weir"]
CMD ["--help"]
