#!/usr/bin/env bash
# The binaries reach Temporal over TLS, over mutual TLS and with an API key (Temporal Cloud's two
# ways to authenticate), configured only through the SDK's standard variables (TEMPORAL_ADDRESS,
# TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_CLIENT_CERT_PATH and _KEY_PATH,
# TEMPORAL_API_KEY). A plain Temporal dev server (it has no TLS options) sits behind haproxy,
# which terminates TLS with a certificate for localhost signed by a CA made here, on three
# frontends:
#   - tls: server TLS only;
#   - mtls: also demands a client certificate signed by a second CA, the client CA;
#   - apikey: also refuses every request without `authorization: Bearer <the test key>`.
# Through each, the real worker and API take an invoice to `sent`: the API starts its workflow
# and the worker runs it, both through that frontend (haproxy's log shows the calls). Then the
# worker, given no retry budget, is refused for the expected reason, in its own error and in
# haproxy's log:
#   - checking the server's certificate against another CA: the certificate is not trusted;
#   - at the mtls frontend without a client certificate, or with one the client CA did not sign;
#   - at the apikey frontend with a wrong key: Unauthenticated, at once even with a minute's
#     retry budget (a refused credential is not retried);
#   - an http:// address with an API key: refused before connecting (the SDK would otherwise
#     send the key in plain text).
# Needs the binaries built (make test's build phase), openssl, curl, jq, the local Postgres and
# haproxy (installed with apt when missing; run here in the foreground, never as a service).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

api="$ROOT/target/debug/invoice-api"
worker="$ROOT/target/debug/invoice-worker"
for bin in "$api" "$worker"; do
  [ -x "$bin" ] || die "build first: $bin is missing (make test builds it before this step)"
done
for tool in openssl curl jq psql; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
ensure_haproxy
ensure_venv
base_url="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
ensure_postgres "$base_url"

work="$(mktemp -d /tmp/temporal-tls.XXXXXX)"
services=()  # Temporal, maildump, haproxy: for the whole run
binaries=()  # one mode's worker and API
stop_all() {
  local i
  for ((i=${#binaries[@]}-1; i>=0; i--)); do stop_pid "${binaries[$i]}"; done
  for ((i=${#services[@]}-1; i>=0; i--)); do stop_pid "${services[$i]}"; done
  [ -n "${KEEP_TLS_WORK:-}" ] || rm -rf "$work"
}
trap stop_all EXIT
# Only the settings given here reach Temporal: none of the caller's (make test exports a plain
# TEMPORAL_ADDRESS), and no profile file (TEMPORAL_CONFIG_FILE names one that does not exist).
unset "${!TEMPORAL_@}"
export TEMPORAL_CONFIG_FILE="$work/no-profile.toml"

say "making a CA, another CA, a client CA, a certificate for localhost and a client certificate"
(
  cd "$work"
  for ca in ca other-ca client-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=invoice test $ca" \
      -keyout "$ca.key" -out "$ca.pem" 2>/dev/null
  done
  # sign NAME CA EXTENSIONS: NAME.pem, with the key NAME.key, signed by CA.
  sign() {
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
      -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  }
  sign localhost ca "subjectAltName=DNS:localhost,IP:127.0.0.1"
  sign client client-ca "extendedKeyUsage=clientAuth"
  # The same kind of client certificate, from a CA the mtls frontend does not trust.
  sign stranger ca "extendedKeyUsage=clientAuth"
  cat localhost.pem localhost.key > haproxy.pem
  chmod 600 ./*.key haproxy.pem
) || die "openssl could not make the certificates"

say "starting a Temporal dev server, the mail catcher and haproxy's three TLS frontends"
temporal_port=$(free_port)
start_temporal "$temporal_port" 0 "" "$work/temporal.log"
services+=("$TEMPORAL_PID")
smtp_port=$(free_port); mail_port=$(free_port)
while [ "$mail_port" = "$smtp_port" ]; do mail_port=$(free_port); done
start_maildump "$smtp_port" "$mail_port" "$work/maildump.log"
services+=("$MAILDUMP_PID")

declare -A port=()
for mode in tls mtls apikey; do
  port[$mode]=$(free_port)
done
api_key="temporal-tls-test-key-$$-$RANDOM"
# HTTP mode end to end (gRPC is HTTP/2; the dev server speaks it in clear text), with timeouts
# above the worker's long polls (about a minute). A wrong key gets an empty 401, which tonic reads
# as Unauthenticated (haproxy's deny page would be read as a malformed gRPC message instead).
# Every request and every refused handshake is logged, with OpenSSL's reason, to haproxy.log.
cat > "$work/haproxy.cfg" <<CFG
global
  maxconn 200
  log stdout format raw local0 info

defaults
  mode http
  log global
  option httplog
  error-log-format "%ci:%cp [%tr] %ft: %[fc_err_str] (%[ssl_fc_err_str])"
  timeout connect 5s
  timeout client 5m
  timeout server 5m

frontend tls
  bind 127.0.0.1:${port[tls]} ssl crt $work/haproxy.pem alpn h2
  default_backend temporal

frontend mtls
  bind 127.0.0.1:${port[mtls]} ssl crt $work/haproxy.pem alpn h2 verify required ca-file $work/client-ca.pem
  default_backend temporal

frontend apikey
  bind 127.0.0.1:${port[apikey]} ssl crt $work/haproxy.pem alpn h2
  http-request return status 401 unless { req.fhdr(authorization) -m str "Bearer $api_key" }
  default_backend temporal

backend temporal
  server dev 127.0.0.1:$temporal_port proto h2
CFG
haproxy -c -q -f "$work/haproxy.cfg" || die "haproxy rejects its configuration ($work/haproxy.cfg)"
haproxy -db -f "$work/haproxy.cfg" </dev/null >"$work/haproxy.log" 2>&1 &
services+=("$!")
for mode in tls mtls apikey; do
  for _ in $(seq 1 50); do port_open "${port[$mode]}" && break; sleep 0.1; done
  port_open "${port[$mode]}" || { cat "$work/haproxy.log" >&2; die "haproxy does not listen on ${port[$mode]} ($mode)"; }
done

# What every run of the binaries shares: one database, local storage, mail to the catcher.
export DATABASE_URL="${base_url%/*}/invoices_temporal_tls"
export APP_ENV=test PAYMENT_PROVIDER=test
export JWT_SECRET="temporal-tls-secret-temporal-tls-secret-0123"
export_test_payload_keys
export STORAGE_BACKEND=local STORAGE_DIR="$work/objects" EMAIL_BACKEND=smtp SMTP_URL="smtp://127.0.0.1:$smtp_port"
export LOG_FORMAT=json RUST_LOG=info
psql "${base_url%/*}/postgres" -q -c "SET client_min_messages = warning" \
  -c "DROP DATABASE IF EXISTS invoices_temporal_tls" >/dev/null
"$api" migrate >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; die "migration failed"; }

ca="TEMPORAL_TLS_SERVER_CA_CERT_PATH=$work/ca.pem"
declare -A settings=(
  [tls]="$ca"
  [mtls]="$ca TEMPORAL_TLS_CLIENT_CERT_PATH=$work/client.pem TEMPORAL_TLS_CLIENT_KEY_PATH=$work/client.key"
  [apikey]="$ca TEMPORAL_API_KEY=$api_key"
)

# call METHOD URL TOKEN [BODY]: the response body; fails, printing it, on an error status.
call() {
  local args=(-sS --fail-with-body -X "$1" "$2" -H "content-type: application/json")
  [ -n "$3" ] && args+=(-H "authorization: Bearer $3")
  [ $# -ge 4 ] && args+=(-d "$4")
  curl "${args[@]}" || { echo >&2; return 1; }
}

# through MODE: the worker and the API with MODE's settings, at MODE's frontend; an invoice
# created through the API is sent (its workflow ran) within 60 s, and haproxy's log shows MODE's
# frontend carried the API's workflow start and the worker's completed activities.
through() {
  local mode=$1 api_port seen; api_port=$(free_port)
  seen=$(wc -l < "$work/haproxy.log")
  local url="http://127.0.0.1:$api_port" email="owner-$mode@temporal-tls.test"
  # shellcheck disable=SC2206 # the settings are VAR=VALUE words without spaces
  local vars=(TEMPORAL_ADDRESS="localhost:${port[$mode]}" ${settings[$mode]}
    TEMPORAL_TASK_QUEUE="temporal-tls-$mode-$$")
  env "${vars[@]}" "$worker" >"$work/$mode-worker.log" 2>&1 &
  local worker_pid=$!; binaries+=("$worker_pid")
  env "${vars[@]}" API_ADDR="127.0.0.1:$api_port" PUBLIC_BASE_URL="$url" "$api" >"$work/$mode-api.log" 2>&1 &
  local api_pid=$!; binaries+=("$api_pid")
  wait_http "$url/ready" "$api_pid" "the API ($mode)" "$work/$mode-api.log"

  local registered token id status="" due
  registered=$(call POST "$url/api/auth/register" "" \
    "$(jq -nc --arg email "$email" '{email: $email, password: "TemporalTls123!"}')") \
    || die "registering through the API ($mode) failed"
  token=$(jq -r .accessToken <<<"$registered")
  psql "$DATABASE_URL" -qc "UPDATE users SET email_verified_at = now() WHERE lower(email) = '$email'" >/dev/null
  due=$(date -u -d '+30 days' +%F)
  id=$(call POST "$url/api/invoices" "$token" "$(jq -nc --arg due "$due" --arg mode "$mode" '{
      clientName: "Client over \($mode)", clientEmail: "client-\($mode)@temporal-tls.test",
      currency: "EUR", dueDate: $due,
      items: [{description: "Work over \($mode)", quantity: "3", unitPrice: "125.00"}]}')" \
    | jq -r .id) || die "creating an invoice through the API ($mode) failed"
  for _ in $(seq 1 300); do
    status=$(call GET "$url/api/invoices/$id" "$token" | jq -r .status) || die "reading invoice $id ($mode) failed"
    [ "$status" = sent ] && break
    kill -0 "$worker_pid" 2>/dev/null || { tail -5 "$work/$mode-worker.log" >&2; die "the worker ($mode) exited"; }
    sleep 0.2
  done
  if [ "$status" != sent ]; then
    tail -5 "$work/$mode-worker.log" "$work/$mode-api.log" >&2
    die "the invoice created over $mode is '$status' after 60 s, not sent"
  fi
  grep -q '"connected to Temporal"' "$work/$mode-worker.log" \
    || die "the worker ($mode) does not say it connected to Temporal"
  local calls
  calls=$(tail -n +"$((seen + 1))" "$work/haproxy.log" | grep -E "\] $mode~ temporal/dev .* 200 .*WorkflowService/" \
    | sed -E 's|.*WorkflowService/([A-Za-z]+).*|\1|' | sort -u)
  grep -qE '^(StartWorkflowExecution|ExecuteMultiOperation)$' <<<"$calls" && grep -qx RespondActivityTaskCompleted <<<"$calls" \
    || die "haproxy's $mode frontend did not carry the workflow start and its activities (calls: ${calls//$'\n'/ })"
  stop_pid "$api_pid"; stop_pid "$worker_pid"; binaries=()
}

# refused CASE ERROR PROXY VAR=VALUE...: the worker with these settings (no retry budget unless
# they give one) gives up with an error matching ERROR, and haproxy logs a refusal matching PROXY
# (both extended regular expressions; an empty PROXY: the worker must not have reached haproxy).
refusals=0
refused() {
  local case=$1 pattern=$2 proxy_pattern=$3; shift 3
  local log="$work/refused-$((++refusals)).log" seen error proxy="" rc=0
  seen=$(wc -l < "$work/haproxy.log")
  env TEMPORAL_CONNECT_TIMEOUT_SECS=0 TEMPORAL_TASK_QUEUE="temporal-tls-refused-$$" "$@" \
    timeout 15 "$worker" >"$log" 2>&1 || rc=$?
  # A refused worker exits at once; one let in polls until `timeout` stops it (124).
  [ "$rc" != 124 ] || die "the worker was let in (still running after 15 s): $case"
  [ "$rc" != 0 ] || die "the worker exited 0: $case"
  error=$(jq -r 'select(.level == "ERROR") | .error // .message' "$log" 2>/dev/null | tail -1)
  [ -n "$error" ] || error=$(tail -1 "$log")
  grep -qiE "$pattern" <<<"$error" || { cat "$log" >&2; die "the worker failed for another reason than expected ($case)"; }
  if [ -z "$proxy_pattern" ]; then
    sleep 0.5
    proxy=$(tail -n +"$((seen + 1))" "$work/haproxy.log")
    [ -z "$proxy" ] || die "the worker reached haproxy although it should not have connected ($case): $proxy"
    proxy="(nothing: no connection was made)"
  else
    for _ in $(seq 1 20); do
      proxy=$(tail -n +"$((seen + 1))" "$work/haproxy.log" | grep -E "$proxy_pattern" | tail -1) || true
      [ -n "$proxy" ] && break
      sleep 0.1
    done
    [ -n "$proxy" ] || { tail -n +"$((seen + 1))" "$work/haproxy.log" >&2; die "haproxy logged no refusal like /$proxy_pattern/ ($case)"; }
  fi
  say "  $case: refused"
  printf '      worker:  %s\n      haproxy: %s\n' "$error" "$proxy" >&2
}

for mode in tls mtls apikey; do
  say "through the $mode frontend: the worker and the API run an invoice to sent"
  through "$mode"
done

say "the worker is refused where it should be"
refused "tls, the server's certificate checked against another CA" "UnknownIssuer|certificate" \
  "\] tls~: SSL handshake failure .*unknown ca" \
  TEMPORAL_ADDRESS="localhost:${port[tls]}" TEMPORAL_TLS_SERVER_CA_CERT_PATH="$work/other-ca.pem"
# TLS 1.3: the client finishes its handshake before the server checks its certificate, so the
# worker only sees its first call fail (a transport error or a cancellation); haproxy's log says why.
refused "mtls, no client certificate" "cannot connect to Temporal" \
  "\] mtls~: SSL handshake failure .*peer did not return a certificate" \
  TEMPORAL_ADDRESS="localhost:${port[mtls]}" "$ca"
refused "mtls, a client certificate the client CA did not sign" "cannot connect to Temporal" \
  "\] mtls~: SSL client certificate not trusted" \
  TEMPORAL_ADDRESS="localhost:${port[mtls]}" "$ca" \
  TEMPORAL_TLS_CLIENT_CERT_PATH="$work/stranger.pem" TEMPORAL_TLS_CLIENT_KEY_PATH="$work/stranger.key"
# With a minute to retry in: a refused key must end the worker at once (within `timeout`).
refused "apikey, a wrong key" "Unauthenticated" \
  "\] apikey~ apikey/<NOSRV> [^ ]+ 401 .*GetSystemInfo" \
  TEMPORAL_ADDRESS="localhost:${port[apikey]}" "$ca" TEMPORAL_API_KEY="not-$api_key" \
  TEMPORAL_CONNECT_TIMEOUT_SECS=60
refused "apikey, an http:// address (the key would travel in plain text)" "plain http://" "" \
  TEMPORAL_ADDRESS="http://localhost:${port[apikey]}" "$ca" TEMPORAL_API_KEY="$api_key"

say "Temporal over TLS, mTLS and an API key: an invoice was sent through each, and the wrong CA, a missing or foreign client certificate and a wrong key are refused"
