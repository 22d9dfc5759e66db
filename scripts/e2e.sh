#!/usr/bin/env bash
# The web app end to end: builds the app, starts the real API binary (serving it) and the real
# worker on a fresh database, and drives it in headless Chromium (frontend/e2e/app.e2e.mjs).
# Uses the Temporal server and mail catcher of the environment (TEMPORAL_ADDRESS, SMTP_TEST_URL,
# MAILDUMP_API_URL):
# `make test` starts them and calls this.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set: run this through make test}"
: "${SMTP_TEST_URL:?SMTP_TEST_URL is not set: run this through make test}"
: "${MAILDUMP_API_URL:?MAILDUMP_API_URL is not set: run this through make test}"
base_url="${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"

build_frontend
ensure_chromium
say "running the web app end to end in Chromium"
# Built like the test build (--workspace --all-targets), so features resolve the same way and,
# after `make test`'s tests, only the API binary (no test needs it) is compiled.
cargo build --locked --workspace --all-targets
e2e="$ROOT/target/e2e"
rm -rf "$e2e"; mkdir -p "$e2e"
api_port=$(free_port)
export DATABASE_URL="${base_url%/*}/invoices_e2e"
export TEMPORAL_TASK_QUEUE="e2e-$$" API_ADDR="127.0.0.1:$api_port"
export PUBLIC_BASE_URL="http://127.0.0.1:$api_port" WEB_DIST="$ROOT/frontend/dist"
export APP_ENV=test PAYMENT_PROVIDER=test
# Limits no run of this script reaches (tests/tests/integration/limits.rs tests them).
export PUBLIC_RATE_LIMIT_PER_IP_PER_MINUTE=1000000 PAGE_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000
export PAY_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000 REGISTER_RATE_LIMIT_PER_IP_PER_HOUR=1000000
export INVOICE_EMAILS_ON_DEMAND_PER_DAY=1000000 EMAIL_DAILY_QUOTA_PER_ORG=1000000
export JWT_SECRET="e2e-secret-e2e-secret-e2e-secret-0123456789"
export_test_payload_keys
export STORAGE_BACKEND=local STORAGE_DIR="$e2e/objects" EMAIL_BACKEND=smtp SMTP_URL="$SMTP_TEST_URL"
export LOG_FORMAT=json RUST_LOG=info
psql "${base_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS invoices_e2e" >/dev/null
target/debug/invoice-api migrate >"$e2e/migrate.log" 2>&1 || { cat "$e2e/migrate.log" >&2; die "migration failed"; }
pids=()
trap 'for p in "${pids[@]}"; do stop_pid "$p"; done' EXIT
target/debug/invoice-worker >"$e2e/worker.log" 2>&1 &
pids+=($!)
target/debug/invoice-api >"$e2e/api.log" 2>&1 &
pids+=($!)
wait_http "http://$API_ADDR/ready" "${pids[-1]}" "the API" "$e2e/api.log"
shots="$ROOT/test-artifacts/screenshots"
rm -rf "$shots"; mkdir -p "$shots"
if ! APP_URL="http://$API_ADDR" MAILDUMP_URL="$MAILDUMP_API_URL" SCREENSHOT_DIR="$shots" CHROMIUM="$CHROMIUM" node frontend/e2e/app.e2e.mjs; then
  tail -20 "$e2e/worker.log" "$e2e/api.log" >&2
  die "the end-to-end test failed; logs in $e2e, screenshots in $shots"
fi
