#!/usr/bin/env bash
# `make test`: every test of the project against real services started here on free loopback
# ports (a Temporal dev server in memory, moto for S3 and SES, the maildump mail catcher; the
# local Postgres), stopped again on exit: formatting, one build of the workspace that is also
# its clippy run and its sqlx query check, the web app's checks, the Rust tests, the API fuzzed
# against its OpenAPI document (schemathesis), the web app end to end in headless Chromium
# against the real API and worker binaries, a short chaos run (scripts/chaos.sh), and the
# alert rules' checks and unit tests (promtool). Prints each phase's duration at the end.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Phases and their durations, printed when the run ends (passed or not).
phase_names=()
phase_seconds=()
phase_started=$SECONDS
phase_name=""
phase() {
  if [ -n "$phase_name" ]; then
    phase_names+=("$phase_name")
    phase_seconds+=($((SECONDS - phase_started)))
  fi
  phase_name="$1"
  phase_started=$SECONDS
  if [ -n "$1" ]; then say "$1"; fi
}
report_phases() {
  local status="$1"
  phase ""
  printf '\n\033[1;34m==>\033[0m make test phases\n' >&2
  for i in "${!phase_names[@]}"; do
    printf '  %-58s %4d s\n' "${phase_names[$i]}" "${phase_seconds[$i]}" >&2
  done
  printf '  %-58s %4d s\n' "total" "$SECONDS" >&2
  [ "$status" = 0 ] || printf '\033[1;31mmake test failed\033[0m (during: %s)\n' "${phase_names[-1]:-setup}" >&2
}

phase "setting up (mold, haproxy, Python tools, Postgres, sqlx-cli, the web app's packages, promtool)"
ensure_mold
ensure_haproxy
ensure_venv
# sqlx::test creates a fresh database per test on this server.
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$DATABASE_URL"
ensure_sqlx_cli
ensure_frontend
ensure_promtool

logs="$ROOT/target/test-services"
mkdir -p "$logs"
pids=()
stop_services() {
  for ((i=${#pids[@]}-1; i>=0; i--)); do stop_pid "${pids[$i]}"; done
}
trap 'status=$?; stop_services; report_phases "$status"' EXIT

phase "starting Temporal (dev server in memory), moto (S3, SES) and maildump"
temporal_port=$(free_port)
start_temporal "$temporal_port" 0 "" "$logs/temporal.log"
pids+=("$TEMPORAL_PID")
export TEMPORAL_ADDRESS="http://127.0.0.1:$temporal_port"
export TEMPORAL_TEST_SERVER="$VENV/bin/temporal-test-server"

# S3 and SES for the storage and email tests. The credentials are dummies moto accepts; turning
# off the instance metadata lookup keeps the AWS SDK from ever probing beyond loopback.
moto_port=$(free_port)
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
start_maildump "$smtp_port" "$maildump_port" "$logs/maildump.log"
pids+=("$MAILDUMP_PID")
export SMTP_TEST_URL="smtp://127.0.0.1:$smtp_port"
export MAILDUMP_API_URL="http://127.0.0.1:$maildump_port"

phase "checking formatting (cargo fmt)"
cargo fmt --all -- --check

phase "checking and unit-testing the alert rules (promtool)"
promtool check rules monitoring/prometheus/alerts.yml
promtool test rules monitoring/prometheus/alerts_test.yml

phase "checking the Terraform (python-hcl2, checkov) and its wiring"
scripts/check-terraform.sh

phase "checking the Dockerfile and compose.yaml"
scripts/check-containers.sh

phase "restore drill (pg_dump, pg_restore)"
scripts/restore-drill.sh

# One compilation of the workspace serves three checks: clippy runs inside it as the compiler
# of the workspace's own crates (RUSTC_WORKSPACE_WRAPPER, as `cargo clippy` does, but building
# rather than only checking), and it is `cargo sqlx prepare --check`'s compilation (which
# compares the queries it sees with .sqlx/). Every later cargo call of this run, the fuzzing,
# browser and chaos scripts' included, inherits the wrapper and finds everything built.
phase "building everything with clippy (-D warnings) and checking .sqlx/ (cargo sqlx prepare --check)"
export_clippy_build
sqlx_prepare --check

phase "Postgres over TLS: verify-full against a test CA (scripts/postgres-tls.sh)"
scripts/postgres-tls.sh

phase "Temporal over TLS, mTLS and an API key, through haproxy (scripts/temporal-tls.sh)"
scripts/temporal-tls.sh

phase "checking and unit-testing the web app (tsc, ESLint, Vitest)"
(cd frontend && npm run --silent typecheck && npm run --silent lint && npm run --silent test)

phase "running the Rust tests (cargo nextest)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi

phase "fuzzing the API against its OpenAPI document (schemathesis)"
bash "$ROOT/scripts/fuzz.sh"

phase "the web app end to end in Chromium"
bash "$ROOT/scripts/e2e.sh"

phase "support reads a run in the Temporal UI through the codec server (scripts/support-ui.sh)"
bash "$ROOT/scripts/support-ui.sh"

phase "a short chaos run: 100 invoices through 2 APIs and 2 workers while they and Temporal are killed"
CHAOS_INVOICES="${CHAOS_INVOICES:-100}" bash "$ROOT/scripts/chaos.sh"
say "all tests passed (screenshots of the main screens: test-artifacts/screenshots/)"
