#!/usr/bin/env bash
# `make bench`: the figures the product promises, printed.
#   1. PDF: time per invoice for the 20-line invoice, rendered in-process with typst.
#   2. End to end: BENCH_INVOICES invoices (default 300) through POST /api/invoices until every
#      one is sent, on a fresh stack started here: a Temporal dev server in memory, the worker and
#      the API binaries, the local object store and the maildump mail catcher.
# Both run in the dev profile, whose dependencies (typst, the Temporal core, sqlx) are optimised
# (Cargo.toml); a second release build of the tree would take longer than the benchmarks.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
base_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$base_url"

say "building"
cargo build --locked --bin invoice-api --bin invoice-worker
# --workspace (not -p) so features resolve as in every other build and nothing is rebuilt.
cargo test --locked --no-run --workspace --bench pdf --bench e2e

say "PDF rendering"
cargo test --locked -q --workspace --bench pdf

work="$ROOT/target/bench"
rm -rf "$work"; mkdir -p "$work"
pids=()
stop_all() { for ((i=${#pids[@]}-1; i>=0; i--)); do stop_pid "${pids[$i]}"; done; }
trap stop_all EXIT

temporal_port=$(free_port)
start_temporal "$temporal_port" 0 "" "$work/temporal.log"
pids+=("$TEMPORAL_PID")
smtp_port=$(free_port); mail_port=$(free_port)
start_maildump "$smtp_port" "$mail_port" "$work/maildump.log"
pids+=("$MAILDUMP_PID")

api_port=$(free_port)
export DATABASE_URL="${base_url%/*}/invoices_bench"
export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port" TEMPORAL_TASK_QUEUE=invoices-bench
export API_ADDR="127.0.0.1:$api_port" JWT_SECRET="bench-secret-bench-secret-bench-secret-0123"
export STORAGE_BACKEND=local STORAGE_DIR="$work/objects" EMAIL_BACKEND=smtp SMTP_URL="smtp://127.0.0.1:$smtp_port"
export LOG_FORMAT=json RUST_LOG=warn
psql "$base_url" -qc "DROP DATABASE IF EXISTS invoices_bench" >/dev/null
target/debug/invoice-api migrate >/dev/null
target/debug/invoice-worker >"$work/worker.log" 2>&1 &
pids+=($!)
target/debug/invoice-api >"$work/api.log" 2>&1 &
pids+=($!)
wait_http "http://$API_ADDR/ready" "${pids[-1]}" "the API" "$work/api.log"

say "end to end"
BENCH_API_URL="http://$API_ADDR" BENCH_DATABASE_URL="$DATABASE_URL" \
  cargo test --locked -q --workspace --bench e2e
