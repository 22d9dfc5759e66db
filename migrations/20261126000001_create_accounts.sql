-- Accounts and tenancy: organisations, users, memberships with roles, refresh tokens,
-- API keys and the login throttle.
--
-- Users are global (one person can belong to several organisations); everything else carries
-- the organisation it belongs to, and every query of the API is scoped by it.

CREATE TABLE organizations (
    id               uuid PRIMARY KEY,
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    default_currency text NOT NULL DEFAULT 'USD' CHECK (default_currency ~ '^[A-Z]{3}$'),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- PHC string (argon2id), never the password.
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Emails are matched case-insensitively; the address is stored as typed.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

CREATE TABLE memberships (
    org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('owner', 'admin', 'accountant', 'viewer')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, user_id)
);

CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Rotating refresh tokens. Only the SHA-256 of a token is stored. Each rotation revokes the
-- presented token and issues the next one in the same family; presenting a revoked token again
-- means it was stolen or replayed, and the whole family is revoked.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    replaced_by uuid
);

CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);

-- API keys for server-to-server use. The key is shown once; its prefix identifies it and only
-- the SHA-256 of the whole key is stored (keys carry 256 random bits, so a slow hash adds
-- nothing but latency).
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    org_id       uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL UNIQUE,
    key_hash     bytea NOT NULL,
    role         text NOT NULL CHECK (role IN ('admin', 'accountant', 'viewer')),
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at DESC);

-- Failed login attempts per key ("account:<email>" or "ip:<address>") in a fixed window.
-- Kept in Postgres so that every API replica enforces the same limit.
CREATE TABLE login_throttle (
    key          text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    failures     integer NOT NULL
);
