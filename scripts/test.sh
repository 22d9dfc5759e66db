#!/usr/bin/env bash
# `make test`: every test of the project against real services started here on free loopback
# ports (a Temporal dev server in memory, moto for S3 and SES, the maildump mail catcher; the
# local Postgres), stopped again on exit: lints, the web app's unit tests, the Rust tests, the
# API fuzzed against its OpenAPI document (schemathesis), the web app end to end in headless
# Chromium against the real API and worker binaries, and a short chaos run (scripts/chaos.sh).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
# sqlx::test creates a fresh database per test on this server.
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$DATABASE_URL"

logs="$ROOT/target/test-services"
mkdir -p "$logs"
pids=()
stop_services() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do stop_pid "${pids[$i]}"; done
}
trap stop_services EXIT

temporal_port=$(free_port)
say "starting a Temporal dev server on 127.0.0.1:$temporal_port (in memory)"
start_temporal "$temporal_port" 0 "" "$logs/temporal.log"
pids+=("$TEMPORAL_PID")
export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port"
export TEMPORAL_TEST_SERVER="$VENV/bin/temporal-test-server"

# S3 and SES for the storage and email tests. The credentials are dummies moto accepts; turning
# off the instance metadata lookup keeps the AWS SDK from ever probing beyond loopback.
moto_port=$(free_port)
say "starting moto (S3, SES) on 127.0.0.1:$moto_port"
start_moto "$moto_port" "$logs/moto.log"
pids+=("$MOTO_PID")
export MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN

# The mail catcher the SMTP tests send to and read back from.
smtp_port=$(free_port)
maildump_port=$(free_port)
while [ "$maildump_port" = "$smtp_port" ]; do maildump_port=$(free_port); done
say "starting maildump on 127.0.0.1:$smtp_port (SMTP) and :$maildump_port (API)"
start_maildump "$smtp_port" "$maildump_port" "$logs/maildump.log"
pids+=("$MAILDUMP_PID")
export SMTP_TEST_URL="smtp://127.0.0.1:$smtp_port"
export MAILDUMP_API_URL="http://127.0.0.1:$maildump_port"

say "checking formatting and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

say "checking and unit-testing the web app (tsc, Vitest)"
ensure_frontend
(cd frontend && npm run --silent typecheck && npm run --silent test)

say "running the Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

# The API fuzzed with schemathesis against its own OpenAPI document, on the real binaries.
bash "$ROOT/scripts/fuzz.sh"
# The web app end to end in Chromium against the real binaries and the services above.
bash "$ROOT/scripts/e2e.sh"
# A short `make chaos`: 100 invoices while the worker, the API and Temporal are killed.
CHAOS_INVOICES="${CHAOS_INVOICES:-100}" bash "$ROOT/scripts/chaos.sh"
say "all tests passed (screenshots of the main screens: test-artifacts/screenshots/)"
