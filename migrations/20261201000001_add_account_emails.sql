-- Account emails: verifying the address a user registered with (an organisation emails
-- invoices to third parties only once an owner's address is verified) and resetting a
-- forgotten password.
--
-- The API writes a row and starts an AccountEmailWorkflow naming only the row's id; the worker's
-- activity makes the link's secret, stores its SHA-256 here and mails the link. The secret is in
-- no workflow history and no log, and the row is all the API needs to check a link.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

CREATE TABLE account_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    -- The address the link goes to: verifying proves this address, not a later one.
    email       text NOT NULL,
    -- SHA-256 of the link's secret; NULL until the worker has made it. A retried send makes a
    -- new secret, and only the latest link works.
    token_hash  bytea UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    sent_at     timestamptz,
    used_at     timestamptz
);

CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at);
