# Multi-stage build: the weir host plus the compiled plugin components.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN rustup target add wasm32-wasip2 \
 && cargo install just --locked \
 && just plugin \
 && cargo build --release -p weir

FROM debian:bookworm-slim
COPY --from=build /src/target/release/weir /usr/local/bin/weir
COPY --from=build /src/target/plugins /opt/weir/plugins
ENV WEIR_PLUGIN_DIR=/opt/weir/plugins
ENTRYPOINT ["weir"]
