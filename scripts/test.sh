#!/usr/bin/env bash
# `make test`: every test of the project against real services started here on free loopback
# ports (a Temporal dev server in memory; the local Postgres), stopped again on exit.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
# sqlx::test creates a fresh database per test on this server.
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$DATABASE_URL"

logs="$ROOT/target/test-services"
mkdir -p "$logs"
temporal_port=$(free_port)
say "starting a Temporal dev server on 127.0.0.1:$temporal_port (in memory)"
start_temporal "$temporal_port" 0 "" "$logs/temporal.log"
trap 'stop_pid "$TEMPORAL_PID"' EXIT
export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port"

say "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

say "running the Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
