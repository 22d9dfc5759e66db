-- A refresh session's absolute lifetime: every token of a family carries when its login
-- happened, so rotation cannot extend the session past SESSION_MAX_LIFETIME_SECONDS. Sessions
-- open at migration time count from now (now() is stable: no table rewrite).
ALTER TABLE refresh_tokens ADD COLUMN session_started_at timestamptz NOT NULL DEFAULT now();
