#!/usr/bin/env bash
# API fuzzing: starts the real API and worker binaries on a fresh database (invoices_fuzz),
# registers a user, and lets schemathesis (requirements-fuzz.txt, in .venv-fuzz) send requests
# generated from the served OpenAPI document, valid and invalid, with that user's token. Every
# answer must not be a 5xx and must match the document: a documented status code, the documented
# content type and a body of the documented schema. Fails with the failures, each with a curl
# command. Uses the Temporal server and mail catcher of the environment (TEMPORAL_ADDRESS,
# SMTP_TEST_URL): `make test` starts them and calls this.
#   FUZZ_MAX_EXAMPLES  generated cases per operation and phase (default 200: about 70 s on 2 cores)
#   FUZZ_SEED          the random seed (fixed by default, so a run is reproducible)
#   FUZZ_SKIP_BUILD=1  use the binaries already in target/debug instead of running cargo build
# Results go to target/fuzz/: schemathesis.txt (the full output), junit.xml, the generated
# schemathesis.toml, and the API's and worker's logs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set: run this through make test}"
: "${SMTP_TEST_URL:?SMTP_TEST_URL is not set: run this through make test}"
base_url="${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}"
max_examples="${FUZZ_MAX_EXAMPLES:-200}"
seed="${FUZZ_SEED:-20240601}"

ensure_fuzz_venv
if [ "${FUZZ_SKIP_BUILD:-}" != 1 ]; then
  # Built like the test build (--workspace --all-targets), so features resolve the same way and
  # nothing is compiled twice.
  cargo build --locked --workspace --all-targets
fi
out="$ROOT/target/fuzz"
rm -rf "$out"; mkdir -p "$out"
api_port=$(free_port)
export DATABASE_URL="${base_url%/*}/invoices_fuzz"
export TEMPORAL_TASK_QUEUE="fuzz-$$" API_ADDR="127.0.0.1:$api_port"
export PUBLIC_BASE_URL="http://127.0.0.1:$api_port"
export APP_ENV=test PAYMENT_PROVIDER=test
# Limits no run of this script reaches (tests/tests/integration/limits.rs tests them).
export PUBLIC_RATE_LIMIT_PER_IP_PER_MINUTE=1000000 PAGE_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000
export PAY_RATE_LIMIT_PER_TOKEN_PER_MINUTE=1000000 REGISTER_RATE_LIMIT_PER_IP_PER_HOUR=1000000
export INVOICE_EMAILS_ON_DEMAND_PER_DAY=1000000 EMAIL_DAILY_QUOTA_PER_ORG=1000000
export JWT_SECRET="fuzz-secret-fuzz-secret-fuzz-secret-0123456789"
export_test_payload_keys
# The run must not outlive its access token.
export ACCESS_TOKEN_TTL_SECONDS=3600
export STORAGE_BACKEND=local STORAGE_DIR="$out/objects" EMAIL_BACKEND=smtp SMTP_URL="$SMTP_TEST_URL"
export LOG_FORMAT=json RUST_LOG=info
unset WEB_DIST
psql "${base_url%/*}/postgres" -qc "DROP DATABASE IF EXISTS invoices_fuzz" >/dev/null
target/debug/invoice-api migrate >"$out/migrate.log" 2>&1 || { cat "$out/migrate.log" >&2; die "migration failed"; }
pids=()
trap 'for p in "${pids[@]}"; do stop_pid "$p"; done' EXIT
target/debug/invoice-worker >"$out/worker.log" 2>&1 &
pids+=($!)
target/debug/invoice-api >"$out/api.log" 2>&1 &
pids+=($!)
wait_http "http://$API_ADDR/ready" "${pids[-1]}" "the API" "$out/api.log"

# The fuzzing session: an owner with a token, and data for the operations that need an existing
# object (schemathesis cannot create invoices on its own: nearly all its generated invoices are
# refused, so every /api/invoices/{id} operation would only ever see 404):
#  - a draft and a sent invoice, offered as `id` to the invoice operations half of the time;
#  - the sent invoice's hosted-page token, for POST /api/public/invoices/{token}/checkout;
#  - a second member of the organisation. PATCH and DELETE /api/org/members/{userId} always get
#    that member's id: otherwise schemathesis picks up the session user's own id from
#    GET /api/org/members, and once it has made someone else owner it demotes the session user
#    and removes it from the organisation, after which every request of the run answers 401
#    ("You are no longer a member of this organisation") and the rest of the run tests nothing.
# Writes the token to $out/token and schemathesis's config to $out/schemathesis.toml.
python3 - "http://$API_ADDR" "$out" <<'PY' || die "could not prepare the fuzzing session (log: $out/api.log)"
import json, os, subprocess, sys, time, urllib.request

base, out = sys.argv[1], sys.argv[2]

def call(method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)

password = "Fuzz-Password-123!"
token = call("POST", "/api/auth/register", {"email": "fuzz-owner@example.com", "password": password,
                                            "organizationName": "Fuzz Org"})["accessToken"]
call("POST", "/api/auth/register", {"email": "fuzz-member@example.com", "password": password})
# The owner's address counts as verified, as if they had followed the emailed link (the
# integration and browser tests follow it): the seeded invoice must reach its client.
subprocess.run(["psql", os.environ["DATABASE_URL"], "-qc",
                "UPDATE users SET email_verified_at = now() WHERE email = 'fuzz-owner@example.com'"],
               check=True)
member = call("POST", "/api/org/members", {"email": "fuzz-member@example.com", "role": "accountant"}, token)
invoice = {"clientName": "Acme Corp", "clientEmail": "billing@acme.com", "currency": "USD",
           "dueDate": "2030-12-31",
           "items": [{"description": "Consulting", "quantity": 10, "unitPrice": "100.00"}]}
draft = call("POST", "/api/invoices", {**invoice, "draft": True}, token)
sent = call("POST", "/api/invoices", invoice, token)
for _ in range(300):  # the worker renders and sends it; the hosted link exists from then on
    sent = call("GET", f"/api/invoices/{sent['id']}", token=token)
    if sent.get("status") == "sent" and sent.get("hostedPath"):
        break
    time.sleep(0.2)
else:
    sys.exit(f"the seeded invoice did not turn sent: {sent}")
hosted_token = sent["hostedPath"].rstrip("/").rsplit("/", 1)[-1]

open(f"{out}/token", "w").write(token)
open(f"{out}/schemathesis.toml", "w").write(f"""\
# Generated by scripts/fuzz.sh for this run.
# No .schemathesis/ cache: it replays earlier runs' failures first, so runs would differ.
[cache]
enabled = false

[dictionaries.invoice-ids]
values = {json.dumps([draft["id"], sent["id"]])}

[[operations]]
include-path-regex = '^/api/invoices/\\{{id\\}}'
parameters = {{ "path.id" = {{ dictionary = "invoice-ids", probability = 0.5 }} }}

[[operations]]
include-path = "/api/public/invoices/{{token}}/checkout"
parameters = {{ "path.token" = {json.dumps(hosted_token)} }}

[[operations]]
include-path = "/api/org/members/{{userId}}"
parameters = {{ "path.userId" = {json.dumps(member["userId"])} }}
""")
PY

say "fuzzing the API with schemathesis ($max_examples examples per operation, seed $seed; output in $out)"
status=0
"$FUZZ_VENV/bin/st" --config-file "$out/schemathesis.toml" run "http://$API_ADDR/api-docs/openapi.json" \
  --header "Authorization: Bearer $(cat "$out/token")" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$max_examples" --seed "$seed" --generation-database none \
  --workers 1 --request-timeout 30 --continue-on-failure \
  --report junit --report-junit-path "$out/junit.xml" --no-color \
  2>&1 | tee "$out/schemathesis.txt" || status=$?
if [ "$status" != 0 ]; then
  # What the API logged for its 5xx answers, one line per kind (the full errors are in api.log).
  python3 - "$out/api.log" >&2 <<'PY' || true
import collections, json, sys
seen = collections.Counter()
for line in open(sys.argv[1], errors="replace"):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("level") == "ERROR" and "error" in event:
        span = event.get("span", {})
        cause = event["error"].split("Stack backtrace")[0].strip().splitlines()[-1].strip()
        cause = cause.split(": ", 1)[-1] if cause[:1].isdigit() else cause
        seen[f"{span.get('method')} {span.get('route')}: {cause}"] += 1
for what, n in seen.items():
    print(f"  api.log: {n} x {what}")
PY
  die "schemathesis found failures (above; all of it in $out/schemathesis.txt, JUnit in $out/junit.xml, logs in $out)"
fi
