#!/usr/bin/env bash
# Regenerates .sqlx/ (the offline query cache the build reads) against a scratch database
# migrated from migrations/, so compile-time checked queries build without a database.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
base="${SQLX_PREPARE_SERVER:-postgres://postgres@127.0.0.1:5432}"
ensure_postgres "$base/postgres"
db="invoices_sqlx_prepare"
psql -q "$base/postgres" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
for f in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$base/$db" -f "$f"; done
rm -rf .sqlx && mkdir .sqlx
# Touching the crates makes the macros run again for every query.
find api activities worker tests -name '*.rs' -exec touch {} +
SQLX_OFFLINE=false DATABASE_URL="$base/$db" SQLX_OFFLINE_DIR="$ROOT/.sqlx" \
  cargo check --workspace --all-targets --locked
psql -q "$base/postgres" -c "DROP DATABASE $db"
say ".sqlx/ holds $(ls .sqlx | wc -l) queries"
