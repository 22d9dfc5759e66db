#!/usr/bin/env bash
# `make bench`: the figures the product promises, each beside its baseline from the same run
# (docs/PERFORMANCE.md records them):
#   1. PDF: time per invoice for the 20-line invoice, in-process with typst, against the same
#      invoices as HTML printed by headless Chromium (--print-to-pdf, a browser per invoice).
#   2. End to end: BENCH_INVOICES invoices (default 1 000) through POST /api/invoices until every
#      one is sent, against the Temporal server's ceiling (as many no-op PingWorkflows), with the
#      Temporal dev server in memory and then in SQLite-file mode; resident memory of the API and
#      the worker, idle and at the end. Then in memory again with two workers on the task queue,
#      to show that throughput scales out on Temporal rather than on one process.
#   3. Web app: the gzipped JavaScript of the invoice list's first load, against the whole app's.
#   4. Search: SEARCH_INVOICES invoices (default 1 000 000) loaded with COPY; GET /api/invoices
#      p50/p99 per filter against the bare SQL it runs.
# Everything runs in the dev profile, whose dependencies (typst, the Temporal core, sqlx) are
# optimised (Cargo.toml); a second, release build of the tree would take longer than the runs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

ensure_venv
ensure_chromium
base_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$base_url"

say "building"
cargo build --locked --workspace --all-targets
# --workspace (not -p) so features resolve as in every other build and nothing is rebuilt.
cargo test --locked --no-run -q --workspace --bench pdf --bench runs

say "PDF rendering"
CHROMIUM="$CHROMIUM" cargo test --locked -q --workspace --bench pdf

say "web app: the JavaScript of the first load"
build_frontend
# What the browser loads for the invoice list (index.html's scripts and module preloads),
# gzipped as the API serves it, beside the whole app's JavaScript (the first load before the
# analytics route, with ECharts, was split off).
python3 - "$ROOT/frontend/dist" <<'PY'
import gzip, pathlib, re, sys
dist = pathlib.Path(sys.argv[1])
html = (dist / "index.html").read_text()
first = sorted(set(re.findall(r'(?:src|href)="/?(assets/[^"]+\.js)"', html)))
every = sorted(str(p.relative_to(dist)) for p in (dist / "assets").glob("*.js"))
kb = lambda files: sum(len(gzip.compress((dist / f).read_bytes(), 6)) for f in files) / 1000
first_kb, all_kb = kb(first), kb(every)
print(f"  whole app, all {len(every)} scripts (baseline): {all_kb:.1f} KB gzipped")
verdict = "met" if first_kb < 150 else "not met"
print(f"web app first load: {first_kb:.1f} KB (target < 150 KB) {verdict}")
PY

work="$ROOT/target/bench"
rm -rf "$work"; mkdir -p "$work"
pids=()
stop_all() { for ((i=${#pids[@]}-1; i>=0; i--)); do stop_pid "${pids[$i]}"; done; pids=(); }
trap stop_all EXIT

# start_stack <database> <sqlite file or ""> [workers]: a fresh Temporal dev server, mail
# catcher, worker(s) (default one) and API on a fresh database; sets API_PID and WORKER_PID (the
# first worker's).
start_stack() {
  local database="$1" sqlite="$2" workers="${3:-1}"
  local temporal_port; temporal_port=$(free_port)
  start_temporal "$temporal_port" 0 "$sqlite" "$work/temporal.log"
  pids+=("$TEMPORAL_PID")
  local smtp_port mail_port; smtp_port=$(free_port); mail_port=$(free_port)
  while [ "$mail_port" = "$smtp_port" ]; do mail_port=$(free_port); done
  start_maildump "$smtp_port" "$mail_port" "$work/maildump.log"
  pids+=("$MAILDUMP_PID")
  local api_port; api_port=$(free_port)
  export DATABASE_URL="${base_url%/*}/$database"
  export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port" TEMPORAL_TASK_QUEUE="bench-$$-$database"
  export API_ADDR="127.0.0.1:$api_port" PUBLIC_BASE_URL="http://127.0.0.1:$api_port"
  export APP_ENV=test PAYMENT_PROVIDER=test
  # Limits no run of this script reaches (tests/tests/integration/limits.rs tests them).
  export PUBLIC_RATE_LIMIT_PER_IP_PER_MINUTE=1000000 PAGE_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000
  export PAY_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000 REGISTER_RATE_LIMIT_PER_IP_PER_HOUR=1000000
  export INVOICE_EMAILS_ON_DEMAND_PER_DAY=1000000 EMAIL_DAILY_QUOTA_PER_ORG=1000000
  export JWT_SECRET="bench-secret-bench-secret-bench-secret-0123"
  export_test_payload_keys
  export STORAGE_BACKEND=local STORAGE_DIR="$work/objects" EMAIL_BACKEND=smtp SMTP_URL="smtp://127.0.0.1:$smtp_port"
  export LOG_FORMAT=json RUST_LOG=warn
  psql "${base_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS $database" >/dev/null
  target/debug/invoice-api migrate >/dev/null
  local n
  for n in $(seq "$workers"); do
    target/debug/invoice-worker >>"$work/worker-$n.log" 2>&1 &
    pids+=("$!")
    if [ "$n" = 1 ]; then WORKER_PID=$!; fi
  done
  target/debug/invoice-api >>"$work/api.log" 2>&1 &
  API_PID=$!; pids+=("$API_PID")
  wait_http "http://$API_ADDR/ready" "$API_PID" "the API" "$work/api.log"
}

for mode in memory sqlite two-workers; do
  sqlite=""; [ "$mode" = sqlite ] && sqlite="$work/temporal-$$.db"
  workers=1; [ "$mode" = two-workers ] && workers=2
  case "$mode" in
    memory) label="Temporal in memory, one worker" ;;
    sqlite) label="Temporal SQLite file, one worker" ;;
    two-workers) label="Temporal in memory, two workers" ;;
  esac
  say "end to end: $label"
  start_stack invoices_bench "$sqlite" "$workers"
  # Let the processes settle before their idle memory is read.
  sleep 3
  BENCH_LABEL=" ($label)" \
  BENCH_API_URL="http://$API_ADDR" BENCH_DATABASE_URL="$DATABASE_URL" \
  BENCH_API_PID="$API_PID" BENCH_WORKER_PID="$WORKER_PID" \
    cargo test --locked -q --workspace --bench runs -- e2e
  stop_all
done

say "search over ${SEARCH_INVOICES:-1000000} invoices"
start_stack invoices_search ""
BENCH_API_URL="http://$API_ADDR" BENCH_DATABASE_URL="$DATABASE_URL" \
  cargo test --locked -q --workspace --bench runs -- search
