-- Platform support staff: users (with an account like anyone's) who may read any
-- organisation's invoices, timelines and runs, and decode workflow payloads through the codec
-- server, without being members. Granted and revoked only by the API binary's `support`
-- command (never over HTTP); a revoked grant stays, for the record.
CREATE TABLE support_staff (
    user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    granted_at  timestamptz NOT NULL DEFAULT now(),
    -- Who ran the command (free text: an operator's name or ticket).
    granted_by  text NOT NULL,
    revoked_at  timestamptz,
    revoked_by  text
);

-- A support person's codec session for the Temporal UI (an HttpOnly cookie on /codec): only the
-- SHA-256 of its secret is kept. Checked with the grant on every request, so a revocation ends
-- it at once.
CREATE TABLE support_codec_sessions (
    token_hash  bytea PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES support_staff (user_id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE INDEX support_codec_sessions_user_idx ON support_codec_sessions (user_id);

-- Every access of a support person (and every grant and revocation): who, what, which
-- organisation and invoice, when. Append-only for the API; kept as long as the invoices.
CREATE TABLE support_audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    -- The person's email at the time (the user row may go).
    email       text NOT NULL,
    action      text NOT NULL,
    org_id      uuid,
    invoice_id  uuid,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX support_audit_log_at_idx ON support_audit_log (at);
CREATE INDEX support_audit_log_invoice_idx ON support_audit_log (invoice_id, at);
