#!/usr/bin/env bash
# `make chaos`: CHAOS_INVOICES invoices (default 1 000; `make test` runs 100) through the real
# APIs, workers and Temporal dev server in SQLite-file mode, scaled out as in production:
# CHAOS_APIS API processes (default 2) that clients use in turn, as behind a load balancer, and
# CHAOS_WORKERS workers (default 2) on one task queue, one Temporal server and one Postgres.
# Meanwhile a worker is SIGKILLed at random moments, the dev server is restarted once, the APIs
# abort themselves between accepting an invoice and starting its workflow (their fault hook,
# FAULT_CRASH_EVERY), and one invoice takes a burst of 50 payment requests through every API.
# Then it checks that every invoice ended where it should, with one invoice email each, no
# payment twice, and rows and workflows matching one to one (tests/benches/runs/chaos.rs), and
# prints the counts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
base_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$base_url"

say "building"
cargo build --locked --workspace --all-targets
cargo test --locked --no-run -q --workspace --bench runs

work="$ROOT/target/chaos"
rm -rf "$work"; mkdir -p "$work"
pids=()
trap 'for p in "${pids[@]}"; do stop_pid "$p"; done' EXIT
smtp_port=$(free_port); mail_port=$(free_port)
while [ "$mail_port" = "$smtp_port" ]; do mail_port=$(free_port); done
start_maildump "$smtp_port" "$mail_port" "$work/maildump.log"
pids+=("$MAILDUMP_PID")

temporal_port=$(free_port)
api_addrs=()
for _ in $(seq "${CHAOS_APIS:-2}"); do
  port=$(free_port)
  while [[ " ${api_addrs[*]} " == *":$port "* ]] || [ "$port" = "$temporal_port" ]; do port=$(free_port); done
  api_addrs+=("127.0.0.1:$port")
done
export CHAOS_DIR="$work" CHAOS_API_BIN="$ROOT/target/debug/invoice-api"
export CHAOS_WORKER_BIN="$ROOT/target/debug/invoice-worker" CHAOS_TEMPORAL_BIN="$TEMPORAL"
export CHAOS_TEMPORAL_PORT="$temporal_port" CHAOS_TEMPORAL_DB="$work/temporal.db"
CHAOS_SEARCH_ATTRIBUTES="$(grep -v '^\s*#' temporal/search-attributes.txt | awk 'NF==2 {printf "%s=%s ", $1, $2}')"
export CHAOS_SEARCH_ATTRIBUTES CHAOS_MAILDUMP_URL="http://127.0.0.1:$mail_port"
export CHAOS_INVOICES="${CHAOS_INVOICES:-1000}" CHAOS_API_ADDRS="${api_addrs[*]}"
export CHAOS_WORKERS="${CHAOS_WORKERS:-2}"
# About a crash per 30 invoices in a short run, a few dozen in a long one.
export FAULT_CRASH_EVERY="${FAULT_CRASH_EVERY:-$(( CHAOS_INVOICES < 300 ? 30 : 60 ))}"
export FAULT_CRASH_AT=before_workflow_start
export DATABASE_URL="${base_url%/*}/invoices_chaos"
export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port" TEMPORAL_TASK_QUEUE="chaos-$$"
# Each API gets its own API_ADDR; the links in emails point at the first.
export PUBLIC_BASE_URL="http://${api_addrs[0]}"
export APP_ENV=test PAYMENT_PROVIDER=test
# Limits no run of this script reaches (tests/tests/integration/limits.rs tests them).
export PUBLIC_RATE_LIMIT_PER_IP_PER_MINUTE=1000000 PAGE_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000
export PAY_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000 REGISTER_RATE_LIMIT_PER_IP_PER_HOUR=1000000
export INVOICE_EMAILS_ON_DEMAND_PER_DAY=1000000 EMAIL_DAILY_QUOTA_PER_ORG=1000000
export JWT_SECRET="chaos-secret-chaos-secret-chaos-secret-0123"
export_test_payload_keys
export STORAGE_BACKEND=local STORAGE_DIR="$work/objects" EMAIL_BACKEND=smtp SMTP_URL="smtp://127.0.0.1:$smtp_port"
export LOG_FORMAT=json RUST_LOG=info
psql "${base_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS invoices_chaos" >/dev/null
target/debug/invoice-api migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; die "migration failed"; }

say "chaos: $CHAOS_INVOICES invoices through ${#api_addrs[@]} APIs and $CHAOS_WORKERS workers; worker kills, a Temporal restart, API crashes (logs: $work)"
if ! cargo test --locked -q --workspace --bench runs -- chaos; then
  tail -n 5 "$work"/api-*.log "$work"/worker-*.log "$work/temporal.log" >&2 || true
  die "the chaos run found problems; logs in $work"
fi
