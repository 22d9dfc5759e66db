#!/usr/bin/env bash
# `make dev`: the whole platform on local defaults. Starts a Temporal dev server (SQLite file
# under .data/, UI on :8233), makes sure Postgres is up and migrated, starts Prometheus with the
# alert rules, builds the web app, runs the worker and the API (which serves the app), fills the
# demo organisation, and prints where everything is. Ctrl-C stops what this script started, nothing else.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

set -a
# shellcheck disable=SC1091
[ -f .env ] && . ./.env
set +a

# Where the binaries run: development relaxes nothing silently, it only allows the local
# defaults (the test checkout, plain SMTP and Postgres, http links) that production refuses.
export APP_ENV="${APP_ENV:-development}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/invoices}"
export API_ADDR="${API_ADDR:-127.0.0.1:8080}"
# The API's Prometheus metrics, on a listener of their own (never the public port).
export API_METRICS_ADDR="${API_METRICS_ADDR:-127.0.0.1:9464}"
# The worker's metrics.
export METRICS_ADDR="${METRICS_ADDR:-127.0.0.1:9465}"
# The links in invoices and emails lead clients to this API's hosted invoice pages.
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$API_ADDR}"
export TEMPORAL_NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
export TEMPORAL_TASK_QUEUE="${TEMPORAL_TASK_QUEUE:-invoices}"
temporal_port="${TEMPORAL_PORT:-7233}"
temporal_ui_port="${TEMPORAL_UI_PORT:-8233}"
export TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-http://127.0.0.1:$temporal_port}"
export WEB_DIST="${WEB_DIST:-$ROOT/frontend/dist}"
# Support staff's run links and the codec server's CORS origin: the dev server's UI.
export TEMPORAL_UI_URL="${TEMPORAL_UI_URL:-http://127.0.0.1:$temporal_ui_port}"

mkdir -p .data
if [ -z "${JWT_SECRET:-}" ]; then
  # Marked `dev-only-` so that a production start-up recognises and refuses it.
  [ -s .data/jwt-secret ] || python3 -c 'import secrets; print("dev-only-" + secrets.token_urlsafe(48))' > .data/jwt-secret
  JWT_SECRET="$(cat .data/jwt-secret)"
  export JWT_SECRET
fi

if [ -z "${PAYLOAD_ENCRYPTION_KEYS:-}" ]; then
  # The key sealing workflow payloads, kept across restarts (the runs in Temporal's file need
  # it). Its id starts with `dev-only` so that a production start-up refuses it.
  [ -s .data/payload-keys ] || python3 -c 'import base64, secrets; print("dev-only-1:" + base64.b64encode(secrets.token_bytes(32)).decode())' > .data/payload-keys
  PAYLOAD_ENCRYPTION_KEYS="$(cat .data/payload-keys)"
  export PAYLOAD_ENCRYPTION_KEYS
fi

ensure_mold
ensure_venv
ensure_postgres "$DATABASE_URL"

pids=()
cleanup() {
  trap - INT TERM EXIT
  say "stopping what make dev started"
  for ((i=${#pids[@]}-1; i>=0; i--)); do stop_pid "${pids[$i]}"; done
}
trap cleanup EXIT

if port_open "$temporal_port"; then
  if "$TEMPORAL" operator cluster health --address "127.0.0.1:$temporal_port" >/dev/null 2>&1; then
    say "a Temporal server already answers on :$temporal_port; using it (make dev will not stop it)"
  else
    die "port $temporal_port is taken by something that is not Temporal; set TEMPORAL_PORT."
  fi
else
  say "starting the Temporal dev server (state in .data/temporal.db)"
  start_temporal "$temporal_port" "$temporal_ui_port" "$ROOT/.data/temporal.db" "$ROOT/.data/temporal.log"
  pids+=("$TEMPORAL_PID")
fi

# The local mail catcher: every invoice email lands in its web inbox instead of a real mailbox.
smtp_port="${SMTP_PORT:-1025}"
mail_ui_port="${MAIL_UI_PORT:-1080}"
export SMTP_URL="${SMTP_URL:-smtp://127.0.0.1:$smtp_port}"
if port_open "$smtp_port"; then
  say "something already answers SMTP on :$smtp_port; sending mail there"
else
  say "starting the maildump mail catcher (SMTP :$smtp_port, inbox http://127.0.0.1:$mail_ui_port)"
  start_maildump "$smtp_port" "$mail_ui_port" "$ROOT/.data/maildump.log" "$ROOT/.data/mail.sqlite"
  pids+=("$MAILDUMP_PID")
fi

# Prometheus, scraping the API's metrics with the alert rules loaded (state under .data/).
prometheus_port="${PROMETHEUS_PORT:-9090}"
if port_open "$prometheus_port"; then
  say "something already answers on :$prometheus_port; not starting Prometheus (set PROMETHEUS_PORT)"
else
  ensure_promtool
  cat > .data/prometheus.yml <<PROM
global:
  scrape_interval: 15s
  evaluation_interval: 15s
rule_files:
  - $ROOT/monitoring/prometheus/alerts.yml
scrape_configs:
  - job_name: invoice-api
    static_configs:
      - targets: ["$API_METRICS_ADDR"]
  - job_name: invoice-worker
    static_configs:
      - targets: ["$METRICS_ADDR"]
PROM
  say "starting Prometheus (http://127.0.0.1:$prometheus_port, state in .data/prometheus/)"
  prometheus --config.file=.data/prometheus.yml --storage.tsdb.path=.data/prometheus \
    --web.listen-address="127.0.0.1:$prometheus_port" >.data/prometheus.log 2>&1 &
  pids+=($!)
fi

say "building the API and the worker"
# With the development tools (the demo data). All targets, as `make test` and `make bench` build:
# a bins-only build resolves its dependencies' features without the tests' dev-dependencies
# (tower, bitflags, rustix... get other features), and would compile most of the tree again.
cargo build --locked --workspace --all-targets --features invoice-api/dev-tools,invoice-worker/dev-tools
build_frontend
say "migrating $DATABASE_URL"
target/debug/invoice-api migrate

api_port="${API_ADDR##*:}"
port_open "$api_port" && die "port $api_port is taken; stop what runs there or set API_ADDR."
metrics_port="${API_METRICS_ADDR##*:}"
port_open "$metrics_port" && die "port $metrics_port is taken; stop what runs there or set API_METRICS_ADDR."

target/debug/invoice-worker >>.data/worker.log 2>&1 &
pids+=($!)
target/debug/invoice-api >>.data/api.log 2>&1 &
pids+=($!)

for _ in $(seq 1 150); do
  curl -fsS "http://$API_ADDR/ready" >/dev/null 2>&1 && break
  kill -0 "${pids[-1]}" 2>/dev/null || { tail -20 .data/api.log; die "the API exited; see .data/api.log"; }
  sleep 0.2
done

# The demo organisation (the same data every time; a second run adds nothing).
if [ "${DEMO_DATA:-1}" != 0 ]; then
  say "filling the demo organisation (DEMO_DATA=0 skips this)"
  target/debug/invoice-api demo-data >>.data/api.log 2>&1 \
    || say "the demo data could not be written (see .data/api.log); the platform runs without it"
fi

cat <<MSG

  The invoice platform is running:
    Web app        http://$API_ADDR/           (demo login: demo@example.com / demo-password)
    API            http://$API_ADDR/api        (ready: http://$API_ADDR/ready)
    API docs       http://$API_ADDR/api-docs
    API metrics    http://$API_METRICS_ADDR/metrics   (worker: http://$METRICS_ADDR/metrics)
    Prometheus     http://127.0.0.1:$prometheus_port/alerts   (the alert rules, scraping the API and the worker)
    Temporal UI    http://127.0.0.1:$temporal_ui_port/namespaces/$TEMPORAL_NAMESPACE/workflows
                   payloads are sealed (.data/payload-keys); support staff decode them through
                   http://$API_ADDR/codec (docs/OPERATIONS.md, "Reading a run as support")
    Mail inbox     http://127.0.0.1:$mail_ui_port          (every email the platform sends)
    Invoice pages  $PUBLIC_BASE_URL/i/<token>   (linked from each email; Pay opens the TEST MODE checkout)
    PDFs           .data/objects/
    Temporal gRPC  $TEMPORAL_ADDRESS (namespace $TEMPORAL_NAMESPACE, task queue $TEMPORAL_TASK_QUEUE)
    Postgres       $DATABASE_URL
    Logs           .data/api.log  .data/worker.log  .data/temporal.log

  Press Ctrl-C to stop.
MSG

# Stop everything on Ctrl-C, or as soon as one of our processes dies.
trap 'exit 0' INT TERM
wait -n "${pids[@]}" || true
say "a process exited (logs in .data/)"
