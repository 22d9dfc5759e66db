#!/usr/bin/env bash
# Support reads a run in the Temporal UI through the codec server, and an organisation's admin
# cannot, in headless Chromium (frontend/e2e/support.e2e.mjs). Starts what it needs of its own:
# a Temporal dev server with its web UI (the test phase's server is headless), the real API
# (TEMPORAL_UI_URL pointing at that UI, so the codec server answers its origin) and the real
# worker, with sealed payloads, on a fresh database. Emails go to the mail catcher of the
# environment (SMTP_TEST_URL): `make test` starts it and calls this.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
: "${SMTP_TEST_URL:?SMTP_TEST_URL is not set: run this through make test}"
base_url="${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"

ensure_venv
ensure_chromium
build_frontend
# Built like the test build, so nothing is compiled again after `make test`'s tests.
cargo build --locked --workspace --all-targets
work="$ROOT/target/support-ui"
rm -rf "$work"; mkdir -p "$work"
pids=()
trap 'for p in "${pids[@]}"; do stop_pid "$p"; done' EXIT

temporal_port=$(free_port)
ui_port=$(free_port)
while [ "$ui_port" = "$temporal_port" ]; do ui_port=$(free_port); done
say "starting a Temporal dev server with its UI on 127.0.0.1:$ui_port"
start_temporal "$temporal_port" "$ui_port" "" "$work/temporal.log"
pids+=("$TEMPORAL_PID")
wait_http "http://127.0.0.1:$ui_port/" "$TEMPORAL_PID" "the Temporal UI" "$work/temporal.log"

api_port=$(free_port)
export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port" TEMPORAL_UI_URL="http://127.0.0.1:$ui_port"
export DATABASE_URL="${base_url%/*}/invoices_support_ui"
export TEMPORAL_TASK_QUEUE="support-ui-$$" API_ADDR="127.0.0.1:$api_port"
export PUBLIC_BASE_URL="http://127.0.0.1:$api_port" WEB_DIST="$ROOT/frontend/dist"
export APP_ENV=test PAYMENT_PROVIDER=test
export JWT_SECRET="support-ui-secret-support-ui-secret-0123456789"
export_test_payload_keys
export STORAGE_BACKEND=local STORAGE_DIR="$work/objects" EMAIL_BACKEND=smtp SMTP_URL="$SMTP_TEST_URL"
export LOG_FORMAT=json RUST_LOG=info
psql "${base_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS invoices_support_ui" >/dev/null
target/debug/invoice-api migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; die "migration failed"; }
target/debug/invoice-worker >"$work/worker.log" 2>&1 &
pids+=($!)
target/debug/invoice-api >"$work/api.log" 2>&1 &
pids+=($!)
wait_http "http://$API_ADDR/ready" "${pids[-1]}" "the API" "$work/api.log"

shots="$ROOT/test-artifacts/screenshots"
mkdir -p "$shots"
say "reading a run in the Temporal UI as support, then as an organisation's admin (Chromium)"
if ! APP_URL="http://$API_ADDR" API_BIN="$ROOT/target/debug/invoice-api" SCREENSHOT_DIR="$shots" \
  CHROMIUM="$CHROMIUM" node frontend/e2e/support.e2e.mjs; then
  tail -20 "$work/worker.log" "$work/api.log" >&2
  die "the support UI test failed; logs in $work, screenshots in $shots"
fi
