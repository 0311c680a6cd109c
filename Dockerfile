# Multi-stage build: compile in the Rust image, run from a slim Debian with libpq.
FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev libssl-dev pkg-config && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock build.rs ./
COPY src src
COPY migrations migrations
COPY templates templates
COPY static static
COPY benches benches
COPY config config
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 libssl3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /var/lib/yiqi yiqi \
    && mkdir -p /var/lib/yiqi/data && chown -R yiqi /var/lib/yiqi
COPY --from=build /src/target/release/yiqi /usr/local/bin/yiqi
USER yiqi
WORKDIR /var/lib/yiqi
ENV YIQI_ENV=production
EXPOSE 8080
# The binary asks its own /health (the slim image has no curl, and its /bin/sh no /dev/tcp).
HEALTHCHECK --interval=10s --start-period=120s CMD ["/usr/local/bin/yiqi", "health"]
ENTRYPOINT ["/usr/local/bin/yiqi"]
CMD ["serve"]
