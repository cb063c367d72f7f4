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
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/weir /usr/local/bin/weir
COPY --from=build /src/target/plugins /opt/weir/plugins
ENV WEIR_PLUGIN_DIR=/opt/weir/plugins
ENTRYPOINT ["weir"]
