#!/usr/bin/env bash
# The binaries reach Postgres over TLS, as RDS with rds.force_ssl demands: a throwaway Postgres
# server (initdb in a temporary folder) accepts only TLS connections (hostssl; everything else is
# rejected), with a certificate for localhost signed by a CA made here. Then, with the real
# `invoice-api migrate` as the client:
#   - sslmode=verify-full against that CA connects (the migrations are applied);
#   - sslmode=verify-full against another CA is refused (the certificate is not trusted);
#   - sslmode=disable is refused by the server (no plain-text connection is possible).
# Needs the binaries built (make test's build phase) and Postgres's server programs (initdb,
# pg_ctl), which `make test` already requires. Run as root, the server runs as `postgres`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

api="$ROOT/target/debug/invoice-api"
[ -x "$api" ] || die "build first: $api is missing (make test builds it before this step)"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bindir/initdb" ] || bindir="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/initdb)")"
[ -x "$bindir/initdb" ] || die "initdb not found (Debian: apt-get install postgresql)"
command -v openssl >/dev/null || die "openssl is required to make the test CA"

port="${POSTGRES_TLS_PORT:-55432}"
work="$(mktemp -d /tmp/postgres-tls.XXXXXX)"
as_server=()
if [ "$(id -u)" = 0 ]; then
  as_server=(runuser -u postgres --)
  chown postgres "$work"
fi
stop_server() {
  "${as_server[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
  [ -n "${KEEP_TLS_WORK:-}" ] || rm -rf "$work"
}
trap stop_server EXIT

say "making a CA, another CA and a certificate for localhost signed by the first"
(
  cd "$work"
  for ca in ca other-ca; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=invoice test $ca" \
      -keyout "$ca.key" -out "$ca.pem" 2>/dev/null
  done
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
    -extfile san.ext -out server.pem 2>/dev/null
  chmod 600 server.key
) || die "openssl could not make the certificates"
[ "$(id -u)" = 0 ] && chown postgres "$work/server.key" "$work/server.pem"

say "starting a TLS-only Postgres on 127.0.0.1:$port"
"${as_server[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null \
  || die "initdb failed"
cat > "$work/data/pg_hba.conf" <<HBA
# TLS or nothing.
hostssl all all 127.0.0.1/32 trust
host    all all 127.0.0.1/32 reject
local   all all              trust
HBA
"${as_server[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/server.log" -w -o \
  "-p $port -k $work -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$work/server.pem -c ssl_key_file=$work/server.key" \
  start >/dev/null || { cat "$work/server.log" >&2; die "the TLS Postgres did not start"; }

# `migrate` reads the API's configuration; only DATABASE_URL matters here.
migrate() { # database URL
  APP_ENV=test JWT_SECRET=postgres-tls-check-secret-of-at-least-32-bytes DATABASE_URL="$1" \
    timeout 60 "$api" migrate
}
base="postgres://postgres@localhost:$port/postgres"

say "verify-full against the server's CA: connects and migrates"
migrate "$base?sslmode=verify-full&sslrootcert=$work/ca.pem" > "$work/ok.log" 2>&1 \
  || { cat "$work/ok.log" >&2; die "the API could not reach Postgres over TLS with verify-full"; }
applied=$(psql -h "$work" -p "$port" -U postgres -At -c "SELECT count(*) FROM _sqlx_migrations WHERE success")
[ "$applied" -ge 1 ] || die "the migrations were not applied over TLS"

say "verify-full against another CA: refused"
if migrate "$base?sslmode=verify-full&sslrootcert=$work/other-ca.pem" > "$work/wrong-ca.log" 2>&1; then
  die "the API trusted a certificate its CA did not sign"
fi
grep -qi "certificate" "$work/wrong-ca.log" \
  || { cat "$work/wrong-ca.log" >&2; die "the other CA's failure is not a certificate error"; }

say "sslmode=disable: the server refuses it"
if migrate "$base?sslmode=disable" > "$work/plain.log" 2>&1; then
  die "a plain-text connection was accepted"
fi
grep -q "no encryption\|rejects connection" "$work/plain.log" \
  || { cat "$work/plain.log" >&2; die "the plain-text connection failed for another reason"; }

say "Postgres over TLS: verify-full works with the right CA, and the wrong CA and plain text are refused ($applied migrations applied)"
