# syntax=docker/dockerfile:1
# The images of the invoice platform, one file for both:
#
#   docker build --target api    -t invoice-api .
#   docker build --target worker -t invoice-worker .
#
# What the ECS task definitions (terraform/modules/compute/main.tf) and compose.yaml assume of
# them: the entrypoint is the binary itself (the API's command is `serve` or `migrate`), the
# built web app is at /app/web (WEB_DIST), the process runs as uid/gid 10001, and nothing but
# /tmp (and, with the local object store, /data/objects) needs to be writable.

# --- Rust: both binaries, release, exactly the locked dependency tree ---------------------------
FROM rust:1.95.0-bookworm AS rust-build
# rust-toolchain.toml pins 1.95.0 with rustfmt and clippy; naming the image's toolchain keeps
# rustup from downloading those components for a build that uses neither.
ENV RUSTUP_TOOLCHAIN=1.95.0 \
    CARGO_TERM_COLOR=never
WORKDIR /src
# Everything the workspace needs (.dockerignore leaves out target/, node_modules and local
# state). .cargo/config.toml sets SQLX_OFFLINE, so the queries are checked against the committed
# .sqlx/ and no database is needed; temporalio's `vendored-protox` feature means no protoc.
COPY . .
# The cache mounts keep crates.io downloads and the target directory between builds on one
# builder; the binaries are copied out because a cache mount is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p invoice-api -p invoice-worker \
 && mkdir -p /out \
 && cp target/release/invoice-api target/release/invoice-worker /out/

# --- The web app ----------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS web-build
WORKDIR /src/frontend
# The lock file first, so that a change to the app's sources reuses the installed packages.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY frontend/ ./
RUN npm run build

# --- The common runtime: Debian slim, CA certificates, an unprivileged user ----------------------
FROM debian:bookworm-slim AS runtime
# CA certificates are all the binaries need from the system (TLS to RDS, Temporal Cloud, AWS,
# Stripe, SMTP relays); glibc comes with the base. Not version-pinned on purpose: a rebuild
# should pick up Debian's security updates of the trust store.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app \
 && mkdir -p /data/objects \
 && chown 10001:10001 /data/objects
# The local object store's directory (STORAGE_BACKEND=local, compose.yaml), owned by the
# runtime user so that a named volume mounted there starts out writable by it. Production
# uses S3 and never writes here.
# The CA bundle of RDS, so that DATABASE_URL can verify the database's certificate and name
# (sslmode=verify-full&sslrootcert=/etc/ssl/certs/rds-global-bundle.pem, as terraform/ sets it):
# RDS's CAs are not in the system's trust store. Fetched at build time, never at run time.
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
ENV LOG_FORMAT=json
# Numeric, so that orchestrators that insist on a non-root user (runAsNonRoot) can verify it.
USER 10001:10001
WORKDIR /app
# Both binaries drain on SIGTERM (the API finishes in-flight requests, the worker its tasks).
STOPSIGNAL SIGTERM

# --- invoice-api: the HTTP API and the web app ---------------------------------------------------
FROM runtime AS api
COPY --from=rust-build --chown=0:0 /out/invoice-api /usr/local/bin/invoice-api
COPY --from=web-build --chown=0:0 /src/frontend/dist /app/web
# Listening on every interface inside the container; APP_ENV is deliberately not set here: the
# binary refuses to serve without it, so a deployment that forgot it never runs on development
# defaults.
ENV API_ADDR=0.0.0.0:8080 \
    WEB_DIST=/app/web
EXPOSE 8080 9464
# The image has no curl or wget, and the binary has no health subcommand, so bash (part of the
# Debian base) speaks HTTP/1.0 to /health itself over /dev/tcp. /health, not /ready: a database
# or Temporal blip must not mark every replica unhealthy at once (the ALB checks /health too).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["bash", "-c", "port=\"${API_ADDR##*:}\"; exec 3<>\"/dev/tcp/127.0.0.1/${port:-8080}\" && printf 'GET /health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
ENTRYPOINT ["/usr/local/bin/invoice-api"]
CMD ["serve"]

# --- invoice-worker: the Temporal worker ---------------------------------------------------------
FROM runtime AS worker
COPY --from=rust-build --chown=0:0 /out/invoice-worker /usr/local/bin/invoice-worker
# The worker serves nothing but its metrics; their listener is bound only once it has connected
# to Temporal and the database pool exists, so an answer from it means the worker got that far.
ENV METRICS_ADDR=0.0.0.0:9465
EXPOSE 9465
# Same technique as the API's (no HTTP client in the image). With METRICS_ADDR emptied there is
# nothing to ask, and the check passes rather than restart a working worker.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
  CMD ["bash", "-c", "[ -z \"${METRICS_ADDR:-}\" ] && exit 0; port=\"${METRICS_ADDR##*:}\"; exec 3<>\"/dev/tcp/127.0.0.1/${port}\" && printf 'GET /metrics HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
ENTRYPOINT ["/usr/local/bin/invoice-worker"]
