#!/usr/bin/env bash
# A backup-and-restore drill on the local Postgres: a source database built from migrations/
# with a few rows in the core tables, dumped with `pg_dump -Fc`, restored with `pg_restore`
# into a fresh database, and compared table by table (row count and a checksum of every row),
# sequences included. Exits non-zero on any difference. docs/DEPLOY.md describes the same
# steps against production backups.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

server="${RESTORE_DRILL_SERVER:-postgres://postgres@127.0.0.1:5432}"
src=restore_drill_src
dst=restore_drill_dst
ensure_postgres "$server/postgres"
dump=$(mktemp --suffix=.dump)

drop_databases() {
  psql -q -X "$server/postgres" -c "DROP DATABASE IF EXISTS $src WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS $dst WITH (FORCE)" >/dev/null 2>&1 || true
}
trap 'drop_databases; rm -f "$dump"' EXIT
drop_databases
psql -q -X -v ON_ERROR_STOP=1 "$server/postgres" -c "CREATE DATABASE $src" -c "CREATE DATABASE $dst" >/dev/null

say "applying migrations/ to $src"
for migration in migrations/*.sql; do
  psql -q -X -v ON_ERROR_STOP=1 "$server/$src" -f "$migration" >/dev/null \
    || die "migration $migration failed on $src"
done

say "writing an organisation, a user, a customer, an invoice with lines, a payment and events"
psql -q -X -v ON_ERROR_STOP=1 "$server/$src" >/dev/null <<'SQL'
BEGIN;
INSERT INTO organizations (id, name, default_currency, seller_details)
VALUES ('00000000-0000-4000-8000-000000000001', 'Drill Ltd', 'GBP', '{"name": "Drill Ltd"}');
INSERT INTO users (id, email, password_hash)
VALUES ('00000000-0000-4000-8000-000000000002', 'owner@drill.example',
        '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA');
INSERT INTO memberships (org_id, user_id, role)
VALUES ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002', 'owner');
INSERT INTO customers (id, org_id, name, email, address, currency, time_zone, locale)
VALUES ('00000000-0000-4000-8000-000000000003', '00000000-0000-4000-8000-000000000001',
        'Acme Corp', 'billing@acme.example', '{"city": "Leeds", "country": "GB"}', 'GBP',
        'Europe/London', 'en-GB');
INSERT INTO invoices (id, org_id, customer_id, workflow_id, number, status, currency, issue_date,
                      due_date, tax_rate, subtotal, discount_total, tax_total, total, amount_paid,
                      client_name, client_email, created_by)
VALUES ('00000000-0000-4000-8000-000000000004', '00000000-0000-4000-8000-000000000001',
        '00000000-0000-4000-8000-000000000003',
        'invoice:00000000-0000-4000-8000-000000000001:00000000-0000-4000-8000-000000000004',
        'INV-2026-00001', 'partially_paid', 'GBP', '2026-11-01', '2026-12-01', 20, 150000, 0,
        30000, 180000, 50000, 'Acme Corp', 'billing@acme.example',
        'user:00000000-0000-4000-8000-000000000002');
INSERT INTO invoice_lines (invoice_id, position, org_id, description, quantity, unit_price, amount)
VALUES ('00000000-0000-4000-8000-000000000004', 0, '00000000-0000-4000-8000-000000000001',
        'Consulting', 10, 10000, 100000),
       ('00000000-0000-4000-8000-000000000004', 1, '00000000-0000-4000-8000-000000000001',
        'Support, per month', 2.5, 20000, 50000);
INSERT INTO payments (id, org_id, invoice_id, event_id, amount, currency, method, paid_at, recorded_by)
VALUES ('00000000-0000-4000-8000-000000000005', '00000000-0000-4000-8000-000000000001',
        '00000000-0000-4000-8000-000000000004', 'manual:drill-1', 50000, 'GBP', 'bank_transfer',
        '2026-11-15T10:00:00Z', 'user:00000000-0000-4000-8000-000000000002');
INSERT INTO invoice_events (org_id, invoice_id, kind, actor, data, occurred_at, dedup_key)
SELECT '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000004', kind,
       'system', jsonb_build_object('n', n), '2026-11-01T09:00:00Z'::timestamptz + n * interval '1 hour',
       'drill:' || n
FROM unnest(ARRAY['created', 'finalized', 'email_sent', 'payment_recorded']) WITH ORDINALITY AS e(kind, n);
COMMIT;
SQL

say "pg_dump -Fc $src, pg_restore into $dst"
pg_dump -Fc --no-owner -d "$server/$src" -f "$dump"
pg_restore --no-owner --exit-on-error -d "$server/$dst" "$dump"

# One line per table: name, row count, and the md5 of its rows in a stable order (each row's
# text form, sorted), then every sequence's state. Tables are found in the catalogue, so a
# table added by a later migration is compared without changing this script.
fingerprint() {
  psql -X -q -A -t -v ON_ERROR_STOP=1 "$server/$1" <<'SQL'
DO $$
DECLARE t record; n bigint; sum text;
BEGIN
  CREATE TEMP TABLE drill_fingerprint (name text, rows bigint, checksum text);
  FOR t IN SELECT schemaname, tablename FROM pg_tables
           WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2 LOOP
    EXECUTE format('SELECT count(*), coalesce(md5(string_agg(r::text, E''\n'' ORDER BY r::text)), '''')
                    FROM %I.%I r', t.schemaname, t.tablename) INTO n, sum;
    INSERT INTO drill_fingerprint VALUES (t.schemaname || '.' || t.tablename, n, sum);
  END LOOP;
  FOR t IN SELECT schemaname, sequencename, last_value FROM pg_sequences
           WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2 LOOP
    INSERT INTO drill_fingerprint VALUES ('sequence ' || t.schemaname || '.' || t.sequencename,
                                          coalesce(t.last_value, 0), '');
  END LOOP;
END $$;
SELECT name, rows, checksum FROM drill_fingerprint ORDER BY name;
SQL
}
before=$(fingerprint "$src")
after=$(fingerprint "$dst")
tables=$(grep -vc '^sequence ' <<<"$before")
rows=$(awk -F'|' '$1 !~ /^sequence / {s += $2} END {print s}' <<<"$before")
if [ "$before" != "$after" ]; then
  diff <(echo "$before") <(echo "$after") >&2 || true
  die "the restored database differs from the source (above: < source, > restored)"
fi
[ "$rows" -gt 0 ] || die "the source database has no rows; the drill compared nothing"
say "restore drill passed: $tables tables ($rows rows) and every sequence identical after pg_dump/pg_restore"
